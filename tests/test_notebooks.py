"""The notebooks run from top to bottom; their own asserts check the results.

Each notebook is executed in a fresh Jupyter kernel (nbclient) from the
``notebooks/`` folder. The quickstart asserts the DBN's test accuracy, that the
`.keras` round trip and the SavedModel reproduce `predict`, and that data have lower
free energy than noise; the tuning notebook asserts the best model's accuracy; the
MNIST notebook runs in its quick setting (``KERAS_DBN_QUICK=1``) on the MNIST file
named by ``MNIST_NPZ``, by default ``../shared/data/mnist.npz`` beside the
repository.
"""

import os
import pathlib

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from keras_dbn.data import load_mnist

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


def mnist_npz(folder):
    """A path to MNIST.

    ``MNIST_NPZ``, the file beside the repository, or keras' download into ``folder``.
    """
    for path in (os.environ.get("MNIST_NPZ"), REPO.parent / "shared" / "data" / "mnist.npz"):
        if path and os.path.exists(path):
            return str(path)
    try:
        arrays = load_mnist()
    except Exception as err:  # offline, and no file: nothing to run the notebook on
        pytest.skip(
            f"no MNIST: MNIST_NPZ is unset, {REPO.parent / 'shared'} is absent "
            f"and the download failed ({err})"
        )
    path = folder / "mnist.npz"
    np.savez(path, **dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays)))
    return str(path)


def run_notebook(name, monkeypatch, **environment):
    for key, value in {"TF_CPP_MIN_LOG_LEVEL": "3", **environment}.items():
        monkeypatch.setenv(key, value)  # the kernel inherits this process's environment
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    return notebook


def text_output(notebook):
    return "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def test_quickstart(monkeypatch):
    notebook = run_notebook("01_quickstart.ipynb", monkeypatch)
    assert "test accuracy" in text_output(notebook)


def test_mnist_dbn_quick(monkeypatch, tmp_path):
    notebook = run_notebook(
        "02_mnist_dbn.ipynb", monkeypatch, MNIST_NPZ=mnist_npz(tmp_path), KERAS_DBN_QUICK="1"
    )
    output = text_output(notebook)
    assert "5000 training, 5000 validation, 10000 test images" in output
    assert "test error" in output


def test_tuning(monkeypatch):
    notebook = run_notebook("03_tuning.ipynb", monkeypatch)
    assert "best trial" in text_output(notebook)
