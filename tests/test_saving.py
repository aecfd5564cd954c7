import hashlib
import os
import stat

import keras
import numpy as np
import pytest

from keras_dbn import DBN, load_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    x = np.random.default_rng(0).random((50, 6)).astype("float32")
    dbn = DBN([4, 3], output_units=2, persistent=True, seed=0)
    dbn.pretrain(x, epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("saved") / "dbn.keras"
    dbn.save(path)
    return dbn, x, path


def test_loads_in_safe_mode_read_only_and_never_writes(saved, tmp_path):
    dbn, x, path = saved
    copy = tmp_path / "read_only.keras"
    copy.write_bytes(path.read_bytes())
    digest, mtime = hashlib.sha256(copy.read_bytes()).hexdigest(), os.stat(copy).st_mtime_ns
    os.chmod(copy, stat.S_IRUSR)
    for loaded in (load_model(copy), keras.saving.load_model(copy, safe_mode=True)):
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), dbn.predict(x, verbose=0))
        np.testing.assert_array_equal(
            loaded.rbms[0].persistent_chains, dbn.rbms[0].persistent_chains
        )
    assert (
        hashlib.sha256(copy.read_bytes()).hexdigest() == digest
        and os.stat(copy).st_mtime_ns == mtime
    )


def test_truncated_and_corrupted_files_raise_clear_errors(saved, tmp_path):
    data = saved[2].read_bytes()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        load_model(truncated)
    damaged = bytearray(data)
    middle = len(data) // 2
    damaged[middle : middle + 64] = bytes(b ^ 0xFF for b in damaged[middle : middle + 64])
    corrupted = tmp_path / "corrupted.keras"
    corrupted.write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="corrupted|damaged"):
        load_model(corrupted)
    with pytest.raises(ValueError, match="No such file"):
        load_model(tmp_path / "missing.keras")


def test_package_holds_no_pickle_or_lambda_in_saved_configs(saved):
    import zipfile

    with zipfile.ZipFile(saved[2]) as archive:
        config = archive.read("config.json").decode()
    assert "lambda" not in config.lower() and "pickle" not in config.lower()
    assert '"registered_name": "keras_dbn>DBN"' in config


def test_files_written_by_version_0_1_0_still_load(tmp_path):
    """tests/data holds .keras files written by keras_dbn 0.1.0 (commit 2134c6d) and their
    outputs."""
    import pathlib

    import keras_dbn

    folder = pathlib.Path(__file__).parent / "data"
    expected = np.load(folder / "v0_1_0_outputs.npz")
    rbm = keras_dbn.load_model(folder / "rbm_v0_1_0.keras")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(rbm(expected["x"])), expected["rbm"], rtol=1e-6
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(rbm.free_energy(expected["x"])),
        expected["rbm_free_energy"],
        rtol=1e-6,
    )
    np.testing.assert_array_equal(rbm.persistent_chains.numpy(), expected["chains"])
    assert int(rbm.optimizer.iterations.numpy()) == 8
    dbn = keras_dbn.load_model(folder / "dbn_v0_1_0.keras")
    np.testing.assert_allclose(dbn.predict(expected["x"], verbose=0), expected["dbn"], rtol=1e-6)
    assert dbn.hidden == [keras_dbn.units.Bernoulli()] * 2
