"""The documentation site builds with ``mkdocs build --strict`` and documents the API.

Strict mode turns every warning into a failure: a broken link between pages, a page
missing from the navigation, a docstring parameter that is not in the signature, an
object the API pages name that does not exist.
"""

import importlib
import inspect
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]

# API page -> modules whose public functions and classes it must show.
API_PAGES = {
    "units": ["keras_dbn.units"],
    "base": ["keras_dbn.base", "keras_dbn.trainer_callbacks"],
    "evaluation": ["keras_dbn.evaluation"],
    "callbacks": ["keras_dbn.callbacks"],
    "tuning": ["keras_dbn.tuning"],
    "viz": ["keras_dbn.viz"],
    "saving": ["keras_dbn.saving"],
    "data": ["keras_dbn.data"],
    "backend": ["keras_dbn.backend"],
    "generative": ["keras_dbn.generative"],
    "pretraining": ["keras_dbn.pretraining"],
    "dbm": ["keras_dbn.dbm"],
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(REPO / "mkdocs.yml"),
            "-d",
            str(site_dir),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode == 0, (
        f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    )
    return site_dir


def page(site, name):
    return (site / name / "index.html").read_text(encoding="utf-8")


def test_every_page_is_built(site):
    for name in [
        "getting-started",
        "concepts",
        "saving",
        "examples",
        "results",
        "performance",
        "scaling",
        "reliability",
    ]:
        assert (site / name / "index.html").exists(), name
    assert (site / "index.html").exists()


def test_api_reference_comes_from_the_docstrings(site):
    rbm_page = page(site, "api/rbm")
    for member in [
        "contrastive_divergence",
        "free_energy",
        "gibbs",
        "sample_hidden",
        "reconstruct",
    ]:
        assert f'id="keras_dbn.RBM.{member}"' in rbm_page, member
    # A sentence of the docstring itself, not only the name.
    assert "the gradient of the free-energy gap for one batch" in rbm_page
    # Doctest examples render as highlighted Python sessions, not as Markdown quotes.
    assert '<span class="gp">&gt;&gt;&gt; </span>' in rbm_page
    assert "<blockquote>" not in rbm_page
    dbn_page = page(site, "api/dbn")
    for member in [
        "pretrain",
        "extract_features",
        "generate",
        "predict_generative",
        "fit_generative",
        "predict_generative_proba",
        "export",
    ]:
        assert f'id="keras_dbn.DBN.{member}"' in dbn_page, member


@pytest.mark.parametrize("api_page", sorted(API_PAGES))
def test_public_functions_and_classes_are_documented(site, api_page):
    """Every public function and class defined in the module shows on its page.

    mkdocstrings leaves out objects without a docstring, so this also fails when a
    public function or class has no docstring.
    """
    html = page(site, f"api/{api_page}")
    for module_name in API_PAGES[api_page]:
        module = importlib.import_module(module_name)
        public = [
            name
            for name, obj in vars(module).items()
            if not name.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module_name
        ]
        assert public, module_name
        for name in public:
            assert f'id="{module_name}.{name}"' in html, (
                f"{module_name}.{name} is missing from api/{api_page}"
            )


def test_formulas_are_typeset_as_math(site):
    concepts = page(site, "concepts")
    assert 'class="arithmatex"' in concepts
    assert r"\operatorname{softplus}" in concepts
