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
from nbclient import NotebookClient

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
MNIST = os.environ.get("MNIST_NPZ", str(REPO.parent / "shared" / "data" / "mnist.npz"))


def run_notebook(name, monkeypatch, **environment):
    for key, value in {"TF_CPP_MIN_LOG_LEVEL": "3", **environment}.items():
        monkeypatch.setenv(key, value)  # the kernel inherits this process's environment
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    return notebook


def text_output(notebook):
    return "\n".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )


def test_quickstart(monkeypatch):
    notebook = run_notebook("01_quickstart.ipynb", monkeypatch)
    assert "test accuracy" in text_output(notebook)


def test_mnist_dbn_quick(monkeypatch):
    assert os.path.exists(MNIST), f"MNIST not found at {MNIST}: set MNIST_NPZ to an .npz of MNIST"
    notebook = run_notebook("02_mnist_dbn.ipynb", monkeypatch, MNIST_NPZ=MNIST, KERAS_DBN_QUICK="1")
    output = text_output(notebook)
    assert "5000 training, 5000 validation, 10000 test images" in output
    assert "test error" in output


def test_tuning(monkeypatch):
    notebook = run_notebook("03_tuning.ipynb", monkeypatch)
    assert "best trial" in text_output(notebook)
