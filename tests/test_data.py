"""Input pipelines: `array_batches` on the current backend, and the backend-neutral
`ArrayBatches` (what JAX and PyTorch get), which every backend can run."""

import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_dbn import data
from keras_dbn.data import ArrayBatches, array_batches


def _epoch(x, key, shuffle=True, batch_size=64):
    batches = [
        np.asarray(b)
        for b in array_batches(x, batch_size, shuffle=shuffle, seed=5, epoch_key=lambda: key)
    ]
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


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.data's allocator side effect: only the TensorFlow backend builds a tf.data pipeline",
)
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
    # Measured on this project's 2-core machine: 12-26 faults a step with a healthy
    # allocator (the same before and after the pipeline's move into keras_dbn.data's
    # TensorFlow helpers), 386-461 once M_TRIM_THRESHOLD is set.
    assert faults_per_step < 100, faults_per_step


def test_array_batches_is_backend_neutral_off_tensorflow():
    batches = array_batches(np.zeros((5, 2)), 2)
    assert isinstance(batches, ArrayBatches) == (keras.backend.backend() != "tensorflow")


def _neutral_epoch(batches):
    out = [batches[i] for i in range(len(batches))]
    batches.on_epoch_end()
    return out


def _ids(out):
    return np.concatenate(out)[:, 0].astype(int)


def test_neutral_order_depends_only_on_seed_and_the_key_at_the_first_batch(rows):
    key = {"value": 3, "reads": 0}

    def epoch_key():
        key["reads"] += 1
        return key["value"]

    batches = ArrayBatches(rows, 64, seed=5, epoch_key=epoch_key)
    first = _ids(_neutral_epoch(batches))
    assert key["reads"] == 1  # read once, at index 0
    np.testing.assert_array_equal(np.sort(first), np.arange(len(rows)))
    assert np.mean(first != np.arange(len(rows))) > 0.9
    key["value"] = 7
    other = _ids(_neutral_epoch(batches))
    assert not np.array_equal(first, other)
    # A fresh object, no epoch before: the same (seed, key) gives the same order (resume needs it).
    fresh = ArrayBatches(rows, 64, seed=5, epoch_key=lambda: 7)
    np.testing.assert_array_equal(_ids(_neutral_epoch(fresh)), other)
    key["value"] = 3
    np.testing.assert_array_equal(_ids(_neutral_epoch(batches)), first)
    # The key changing within an epoch does not change the order of that epoch.
    out = []
    for i in range(len(batches)):
        out.append(batches[i])
        key["value"] = 100 + i
    np.testing.assert_array_equal(_ids(out), first)
    seeded = ArrayBatches(rows, 64, seed=6, epoch_key=lambda: 3)
    assert not np.array_equal(_ids(_neutral_epoch(seeded)), first)


def test_neutral_without_shuffle_keeps_row_order_and_the_partial_batch(rows):
    batches = ArrayBatches(rows, 300, shuffle=False, epoch_key=lambda: 9)
    out = _neutral_epoch(batches)
    assert len(batches) == len(out) == -(-40000 // 300)
    assert [len(b) for b in out] == [300] * (40000 // 300) + [40000 % 300]
    np.testing.assert_array_equal(_ids(out), np.arange(40000))


@pytest.mark.parametrize("shuffle", [True, False])
def test_neutral_partial_last_batch_and_float32(shuffle, tmp_path):
    x = np.arange(20, dtype="float64").reshape(10, 2)
    out = _neutral_epoch(ArrayBatches(x, 4, shuffle=shuffle))
    assert [b.shape for b in out] == [(4, 2), (4, 2), (2, 2)]
    assert all(b.dtype == np.float32 for b in out)
    np.testing.assert_array_equal(np.sort(np.concatenate(out), axis=0), x)
    np.save(tmp_path / "u8.npy", np.arange(20, dtype="uint8").reshape(10, 2))
    mapped = np.load(tmp_path / "u8.npy", mmap_mode="r")
    out = _neutral_epoch(ArrayBatches(mapped, 4, shuffle=shuffle))
    assert [b.shape for b in out] == [(4, 2), (4, 2), (2, 2)]
    assert all(b.dtype == np.float32 for b in out)


class _ReadLog(np.memmap):
    """A memory map that records every index it is read with."""

    reads = []

    def __getitem__(self, key):
        _ReadLog.reads.append(key)
        return super().__getitem__(key)


def test_neutral_memmap_is_read_in_contiguous_shuffled_blocks(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "_BLOCK_ROWS", 100)  # 32-row batches: blocks of 96 rows
    n = 1000
    np.save(tmp_path / "x.npy", np.arange(n * 3, dtype="float32").reshape(n, 3) / 3)
    x = np.load(tmp_path / "x.npy", mmap_mode="r").view(_ReadLog)
    _ReadLog.reads.clear()
    batches = ArrayBatches(x, 32, seed=1, epoch_key=lambda: 4)
    assert batches.block_rows == 96 and len(batches) == -(-n // 32)
    out = _neutral_epoch(batches)
    ids = _ids(out)
    np.testing.assert_array_equal(np.sort(ids), np.arange(n))  # every row once
    blocks = [set(b[:, 0].astype(int) // 96) for b in out]
    assert all(len(b) == 1 for b in blocks)  # each batch from one block
    # One contiguous read per block, in a shuffled block order; rows shuffled within blocks.
    assert all(isinstance(r, slice) and r.step is None for r in _ReadLog.reads), _ReadLog.reads
    starts = [r.start for r in _ReadLog.reads]
    assert sorted(starts) == list(range(0, n, 96)) and starts != sorted(starts)
    order = [b.pop() for b in blocks]
    assert [k for i, k in enumerate(order) if i == 0 or k != order[i - 1]] == [
        s // 96 for s in starts
    ]
    assert not np.array_equal(ids, np.sort(ids))
    partial = [len(b) for b in out].index(n % 32)  # the partial batch ends the file's last block
    assert order[partial] == n // 96 and (partial + 1 == len(out) or order[partial + 1] != n // 96)
    # The same (seed, key) gives the same epoch again.
    np.testing.assert_array_equal(_ids(_neutral_epoch(batches)), ids)


def test_neutral_map_applies_a_function_to_each_batch():
    batches = ArrayBatches(np.ones((10, 2)), 4, shuffle=False).map(lambda b: b * 2)
    assert [float(b.sum()) for b in batches] == [16.0, 16.0, 8.0]


def test_neutral_batches_train_a_keras_model_in_order():
    # Keras' PyDataset adapter (one worker, no multiprocessing, fit's shuffle off) asks for the
    # batches in order.
    seen = []

    class Logged(ArrayBatches):
        def __getitem__(self, index):
            seen.append(index)
            return super().__getitem__(index)

    x = np.random.default_rng(0).random((50, 3)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    batches = Logged(np.concatenate([x, x[:, :1]], axis=1), 16, epoch_key=lambda: 0)
    batches = batches.map(lambda b: (b[:, :3], b[:, 3:]))
    model.fit(batches, epochs=2, shuffle=False, verbose=0)
    assert seen[-8:] == [0, 1, 2, 3] * 2


def _balanced_epoch(batches_of, labels, key, batch_size):
    """Each batch's row indices for one epoch of class-balanced batches at ``key``."""
    x = np.arange(len(labels), dtype="float32")[:, None]  # column 0 = row index
    batches = batches_of(x, batch_size, seed=3, epoch_key=lambda: key, labels=labels)
    return [np.asarray(b)[:, 0].astype(int) for b in batches]


@pytest.mark.parametrize("batches_of", [array_batches, ArrayBatches], ids=["backend", "neutral"])
def test_balanced_batches_hold_each_class_within_one_in_a_keyed_order(batches_of):
    labels = np.repeat(np.arange(10), 53)[np.random.default_rng(1).permutation(530)]
    for batch_size in (100, 37):
        epoch = _balanced_epoch(batches_of, labels, 4, batch_size)
        assert sorted(np.concatenate(epoch)) == list(range(530))  # every row once
        for rows in epoch[:-1]:  # the last batch is partial
            counts = np.bincount(labels[rows], minlength=10)
            assert counts.max() - counts.min() <= 1, counts
    epoch, again = (_balanced_epoch(batches_of, labels, 4, 100) for _ in range(2))
    other = _balanced_epoch(batches_of, labels, 5, 100)
    assert all(np.array_equal(a, b) for a, b in zip(epoch, again))  # (seed, key) fix the order
    assert not all(np.array_equal(a, b) for a, b in zip(epoch, other))
    order = np.concatenate(_balanced_epoch(batches_of, labels, 4, 100))
    np.testing.assert_array_equal(order, data.balanced_order(labels, [3, 4]))  # either backend


def test_balanced_batches_follow_unequal_class_shares():
    labels = np.repeat(np.arange(3), [500, 300, 200])
    order = data.balanced_order(labels, [0, 0])
    for start in range(0, 1000, 100):
        counts = np.bincount(labels[order[start : start + 100]], minlength=3)
        assert np.all(np.abs(counts - [50, 30, 20]) <= 2), counts


def test_balanced_batches_refuse_bad_labels(tmp_path):
    x = np.zeros((10, 2), "float32")
    with pytest.raises(ValueError, match="one class per row"):
        ArrayBatches(x, 5, labels=np.zeros(9))
    with pytest.raises(ValueError, match="shuffle"):
        array_batches(x, 5, shuffle=False, labels=np.zeros(10))
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(ValueError, match="memory map"):
        array_batches(np.load(tmp_path / "x.npy", mmap_mode="r"), 5, labels=np.zeros(10))
