import subprocess
import sys

import numpy as np
import pytest

from keras_dbn.data import array_batches


def _epoch(x, key, shuffle=True, batch_size=64):
    batches = list(
        array_batches(
            x, batch_size, shuffle=shuffle, seed=5, epoch_key=lambda: key
        ).as_numpy_iterator()
    )
    return batches, np.concatenate(batches)[:, 0]


@pytest.fixture(params=["array", "memmap"])
def rows(request, tmp_path):
    x = np.arange(40000 * 2, dtype="float32").reshape(40000, 2) / 2  # column 0 = row index
    if request.param == "array":
        return x
    np.save(tmp_path / "x.npy", x)
    return np.load(tmp_path / "x.npy", mmap_mode="r")


def test_each_epoch_yields_every_row_once_in_a_keyed_order(rows):
    batches, first = _epoch(rows, key=0)
    assert len(batches) == -(-40000 // 64) and all(len(b) == 64 for b in batches[:-1])
    np.testing.assert_array_equal(np.sort(first), np.arange(40000))
    _, again = _epoch(rows, key=0)
    _, other = _epoch(rows, key=625)
    np.testing.assert_array_equal(first, again)  # same key: same order (what resuming relies on)
    assert not np.array_equal(first, other) and np.mean(first != np.arange(40000)) > 0.9
    _, ordered = _epoch(rows, key=0, shuffle=False)
    np.testing.assert_array_equal(ordered, np.arange(40000))


_FAULTS_SCRIPT = """
import os, resource, sys
import keras, numpy as np
import keras_dbn

x = (np.random.default_rng(0).random((6000, 784)) < 0.3).astype("float32")
np.save(sys.argv[1], x)
rbm = keras_dbn.RBM(500, seed=0)
rbm.compile("sgd")
rbm.fit(np.load(sys.argv[1], mmap_mode="r"), batch_size=100, epochs=2, verbose=0)


class Faults(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:  # after the first epoch's tracing
            self.start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    def on_train_end(self, logs=None):
        print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - self.start)


rbm.fit(x, batch_size=100, epochs=6, verbose=0, callbacks=[Faults()])
"""


def test_pipelines_leave_the_allocator_alone(tmp_path):
    # A process that ever runs Dataset.from_generator gets M_TRIM_THRESHOLD set, after which each
    # step maps and unmaps its batch-sized buffers: hundreds of minor page faults per step.
    script = tmp_path / "faults.py"
    script.write_text(_FAULTS_SCRIPT)
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "x.npy")], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Memory patch applied" not in run.stderr
    faults_per_step = int(run.stdout.split()[-1]) / (5 * 60)
    assert faults_per_step < 20, faults_per_step
