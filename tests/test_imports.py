"""Under JAX or PyTorch, importing keras_dbn and training from arrays loads no TensorFlow.

Each backend runs in a fresh process, whatever this run's backend, so the module runs
in the TensorFlow pass of the suite only (tests/conftest.py).
"""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

# A meta-path finder goes first, so the stack of whoever first imports tensorflow is kept.
_SCRIPT = textwrap.dedent(
    """
    import sys
    import traceback


    class TensorFlowSpy:
        stack = None

        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" and TensorFlowSpy.stack is None:
                frames = traceback.format_stack()[:-1]
                TensorFlowSpy.stack = "".join(f for f in frames if "<frozen " not in f)
            return None


    sys.meta_path.insert(0, TensorFlowSpy())


    def check(stage):
        if "tensorflow" in sys.modules:
            print(f"tensorflow imported by {stage}; first import from:")
            print(TensorFlowSpy.stack)
            sys.exit(3)


    import keras
    import numpy as np

    assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
    check("import keras")
    import keras_dbn

    check("import keras_dbn")
    rng = np.random.default_rng(0)
    x = (rng.random((64, 8)) < 0.3).astype("float32")
    y = np.arange(64) % 2
    rbm = keras_dbn.RBM(4, seed=0)
    rbm.compile("sgd")
    rbm.fit(x, epochs=1, verbose=0)
    check("RBM.fit")
    dbn = keras_dbn.DBN([6, 4], output_units=2, seed=0)
    dbn.pretrain(x, y=y, epochs=1, batch_size=16, verbose=0)
    check("DBN.pretrain")
    dbn.fit_generative(x, y, epochs=1, batch_size=16, verbose=0)
    check("DBN.fit_generative")
    dbn.compile("adam", "sparse_categorical_crossentropy")
    dbn.fit(x, y, epochs=1, batch_size=16, verbose=0)
    check("DBN.fit")
    assert dbn.generate(4, labels=[0, 1, 0, 1], gibbs_steps=5).shape == (4, 8)
    check("DBN.generate")
    assert dbn.predict_generative(x).shape == (64,)
    check("DBN.predict_generative")
    print("no tensorflow")
    """
)


EXTRA = {"jax": "pip install -e '.[test]'", "torch": "pip install -e '.[torch]'"}


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_training_from_arrays_imports_no_tensorflow(backend, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed ({EXTRA[backend]})")
    script = tmp_path / "no_tf.py"
    script.write_text(_SCRIPT)
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.run(
        [sys.executable, str(script), backend], capture_output=True, text=True, env=env, timeout=600
    )
    assert run.returncode == 0, f"{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    assert "no tensorflow" in run.stdout
