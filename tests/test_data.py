import numpy as np
import pytest

from keras_dbn.data import array_batches


def _epoch(x, key, shuffle=True, batch_size=64):
    batches = list(array_batches(x, batch_size, shuffle=shuffle, seed=5, epoch_key=lambda: key).as_numpy_iterator())
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
