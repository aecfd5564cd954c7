"""Reliability: interrupted pretraining resumes exactly; runs are deterministic."""

import signal

import keras
import numpy as np
from script_runs import run_script

from keras_dbn import RBM


def _run(mode, backup, out):
    return run_script("pretrain_run.py", mode, backup, out)


def test_killed_pretraining_resumes_to_the_uninterrupted_weights(tmp_path):
    backup = tmp_path / "backup"
    killed = _run("kill", backup, tmp_path / "never.npz")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    # The first RBM finished and the second backed up epochs 1-2 before the kill.
    assert (backup / "rbm_0" / "completed.weights.h5").exists()
    assert (backup / "rbm_1").exists() and not (backup / "rbm_1" / "completed.weights.h5").exists()

    resumed = _run("plain", backup, tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not backup.exists()  # removed once pretraining finished
    uninterrupted = _run("plain", "-", tmp_path / "uninterrupted.npz")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]

    with np.load(tmp_path / "resumed.npz") as a, np.load(tmp_path / "uninterrupted.npz") as b:
        assert a.files == b.files
        for name in (f for f in a.files if f != "epochs"):
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        # Keras's History of a resumed fit holds the epochs run after the restart.
        assert list(a["epochs"]) == [5, 3, 5] and list(b["epochs"]) == [5, 5, 5]


def test_same_global_seed_gives_bit_identical_weights():
    def train():
        keras.utils.set_random_seed(3)
        x = np.random.default_rng(0).random((200, 10)).astype("float32")
        rbm = RBM(6, persistent=True)
        rbm.compile(keras.optimizers.SGD(0.1, momentum=0.9))
        rbm.fit(x, epochs=3, batch_size=20, verbose=0)
        return rbm.get_weights()

    for first, second in zip(train(), train()):
        np.testing.assert_array_equal(first, second)


def test_save_and_load_continue_training_exactly(tmp_path):
    """Weights, optimizer state, persistent chains and the sampler's state are all saved."""
    x = np.random.default_rng(0).random((200, 10)).astype("float32")
    keras.utils.set_random_seed(0)
    rbm = RBM(6, persistent=True, seed=4)
    rbm.compile(keras.optimizers.SGD(0.1, momentum=0.9))
    rbm.fit(x, epochs=2, batch_size=20, verbose=0)
    rbm.save(tmp_path / "rbm.keras")
    rbm.fit(x, epochs=1, batch_size=20, verbose=0)
    loaded = keras.saving.load_model(tmp_path / "rbm.keras")
    loaded.fit(x, epochs=1, batch_size=20, verbose=0)
    for first, second in zip(rbm.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(first, second)
