"""The TensorBoardImages callback: pictures of filters and samples in TensorBoard event files."""

import glob

import keras
import numpy as np
import pytest
import tensorflow as tf
from digit_data import scaled_digits

from keras_dbn import DBN, RBM
from keras_dbn.callbacks import TensorBoardImages
from keras_dbn.viz import tile_images


@pytest.fixture(scope="module")
def digits():
    return scaled_digits(512)[0]


def read_images(log_dir):
    """{(tag, step): decoded picture} from the event files of the ``images`` run."""
    pictures = {}
    for path in glob.glob(f"{log_dir}/images/events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                assert value.metadata.plugin_data.plugin_name == "images"
                width, height, png = value.tensor.string_val
                picture = tf.io.decode_png(png).numpy()
                assert picture.shape == (int(height), int(width), 1)
                pictures[value.tag, event.step] = picture[:, :, 0]
    return pictures


def test_rbm_fit_logs_filters_and_samples(digits, tmp_path):
    keras.utils.set_random_seed(0)
    rbm = RBM(20, seed=0)
    rbm.compile(keras.optimizers.SGD(0.1, momentum=0.9))
    logger = TensorBoardImages(tmp_path, every=2, max_filters=16, num_samples=9, gibbs_steps=5)
    rbm.fit(digits, epochs=4, batch_size=32, verbose=0, callbacks=[logger])
    pictures = read_images(tmp_path)
    assert sorted(pictures) == [("filters", 2), ("filters", 4), ("samples", 2), ("samples", 4)]
    # Filters: 16 tiles of 8x8 in a 4x4 grid with 1-pixel borders; the last picture is
    # the final kernel, each filter scaled to [0, 1] on its own (8-bit PNG).
    expected = tile_images(rbm.kernel.numpy()[:, :16].T, normalize=True)
    assert pictures["filters", 4].shape == (4 * 9 + 1, 4 * 9 + 1) == expected.shape
    np.testing.assert_allclose(pictures["filters", 4] / 255.0, expected, atol=1 / 255 + 1e-6)
    assert not np.array_equal(pictures["filters", 2], pictures["filters", 4])
    # Samples: 9 chains in a 3x3 grid.
    assert pictures["samples", 4].shape == (3 * 9 + 1, 3 * 9 + 1)


def test_dbn_pictures_its_bottom_rbm_and_generated_samples(digits, tmp_path):
    keras.utils.set_random_seed(0)
    dbn = DBN([16, 12], output_units=10, seed=0)
    y = scaled_digits(512)[1]
    logger = TensorBoardImages(tmp_path, model=dbn, max_filters=16, num_samples=4, gibbs_steps=3)
    dbn.pretrain(digits, epochs=1, batch_size=32, verbose=0, callbacks=[logger])
    dbn.compile("adam", "sparse_categorical_crossentropy")
    dbn.fit(digits, y, epochs=1, batch_size=32, verbose=0, callbacks=[logger])
    pictures = read_images(tmp_path)
    # One step per epoch seen: two pretraining epochs (one per RBM), then fine-tuning.
    assert sorted(pictures) == [(tag, step) for tag in ("filters", "samples") for step in (1, 2, 3)]
    expected = tile_images(dbn.rbms[0].kernel.numpy().T, normalize=True)
    np.testing.assert_allclose(pictures["filters", 3] / 255.0, expected, atol=1 / 255 + 1e-6)
    assert pictures["samples", 3].shape == (2 * 9 + 1, 2 * 9 + 1)


def test_tensorboard_images_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="`every` must be an integer >= 1"):
        TensorBoardImages(tmp_path, every=0)
    rbm = RBM(3)
    rbm.build((None, 10))
    with pytest.raises(ValueError, match="10 features are not a square image"):
        TensorBoardImages(tmp_path, model=rbm, gibbs_steps=1).log_images(1)


def test_epoch_progress_draws_one_bar_per_fit_with_each_epochs_values(digits, capsys):
    from keras_dbn.callbacks import EpochProgress

    dbn = DBN([16, 8], output_units=None, seed=0)
    titles = iter(["first RBM", "second RBM"])
    histories = dbn.pretrain(
        digits,
        epochs=3,
        batch_size=64,
        verbose=0,
        callbacks=[EpochProgress(lambda rbm: f"{next(titles)} ({rbm.units} units)")],
    )
    printed = capsys.readouterr().out
    lines = printed.split("\n")
    assert lines[0] == "first RBM (16 units)" and "second RBM (8 units)" in lines
    for title, history in zip(["first RBM", "second RBM"], histories):
        start = next(i for i, line in enumerate(lines) if line.startswith(title))
        bar = lines[start + 1].split("\r")  # one redraw per epoch, on one line
        assert len([b for b in bar if "/3" in b]) == 3, bar
        last = history.history["reconstruction_error"][-1]
        # The last epoch's own value, not a mean over the epochs.
        assert f"reconstruction_error: {last:.4f}" in bar[-1]
        assert history.history["reconstruction_error"][0] != last
