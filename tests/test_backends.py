"""The same files and numbers on every Keras backend, each in its own process.

A `.keras` file saved under TensorFlow loads under JAX and PyTorch (and back) and
gives the same outputs, free energies, exact log Z and generative classes. A
backend that is not installed is skipped, naming the extra that installs it.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(__file__), "scripts", "backend_worker.py")
EXTRA = {"jax": "pip install -e '.[test]'", "torch": "pip install -e '.[torch]'"}


def run(backend, mode, folder):
    if backend != "tensorflow" and importlib.util.find_spec(backend) is None:
        pytest.skip(f"the {backend} backend is not installed ({EXTRA[backend]})")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, WORKER, mode, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend
    return result


@pytest.mark.parametrize(
    "saved_by, loaded_by",
    [("tensorflow", "jax"), ("jax", "tensorflow"), ("tensorflow", "torch"), ("torch", "jax")],
)
def test_keras_file_saved_under_one_backend_predicts_the_same_under_another(
    saved_by, loaded_by, tmp_path
):
    saved = run(saved_by, "save", tmp_path)
    loaded = run(loaded_by, "load", tmp_path)
    for key in ("rbm", "dbn", "free_energy"):
        np.testing.assert_allclose(loaded[key], saved[key], rtol=1e-5, atol=1e-5, err_msg=key)
    # float64 enumeration of the same weights: the same log Z on both backends.
    assert abs(loaded["log_z"] - saved["log_z"]) < 1e-5
    assert loaded["generative"] == saved["generative"]
