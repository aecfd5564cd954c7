"""Pictures: tile layout against numpy, figures that show it, PNG files, and errors."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest

from keras_dbn import DBN, RBM
from keras_dbn.viz import plot_filters, plot_history, plot_samples, tile_images


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def shown_picture(figure):
    """The array drawn by the figure's (first) image."""
    return np.asarray(figure.axes[0].images[0].get_array())


def test_tile_images_places_image_i_in_row_major_cells():
    rng = np.random.default_rng(0)
    images = rng.random((7, 6))  # seven 2x3 images
    canvas = tile_images(images, image_shape=(2, 3), columns=3)
    # 3 grid rows (7 images in 3 columns), 1-pixel borders around every cell.
    assert canvas.shape == (3 * 3 + 1, 3 * 4 + 1)
    border = images.max()
    for i, image in enumerate(images):
        r, c = divmod(i, 3)
        top, left = 1 + 3 * r, 1 + 4 * c
        np.testing.assert_allclose(
            canvas[top : top + 2, left : left + 3], image.reshape(2, 3), rtol=1e-6
        )
    # Everything else (borders and the two empty cells) is the border value.
    mask = np.ones(canvas.shape, bool)
    for i in range(7):
        r, c = divmod(i, 3)
        mask[1 + 3 * r : 3 + 3 * r, 1 + 4 * c : 4 + 4 * c] = False
    np.testing.assert_allclose(canvas[mask], border, rtol=1e-6)


def test_tile_images_defaults_to_square_images_and_grid():
    images = np.arange(5 * 16, dtype="float32").reshape(5, 16)
    canvas = tile_images(images)  # 4x4 images, ceil(sqrt(5)) = 3 columns, 2 rows
    assert canvas.shape == (2 * 5 + 1, 3 * 5 + 1)
    np.testing.assert_array_equal(canvas[6:10, 6:10], images[4].reshape(4, 4))


def test_tile_images_normalize_scales_each_image_to_unit_range():
    images = np.array([[0.0, 1.0, 2.0, 4.0], [-3.0, -1.0, -1.0, -3.0], [5.0, 5.0, 5.0, 5.0]])
    canvas = tile_images(images, columns=3, normalize=True)
    np.testing.assert_allclose(canvas[1:3, 1:3], [[0.0, 0.25], [0.5, 1.0]])
    np.testing.assert_allclose(canvas[1:3, 4:6], [[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(canvas[1:3, 7:9], 0.0)  # constant image


def test_non_square_features_need_image_shape():
    with pytest.raises(ValueError, match="10 features are not a square image: pass image_shape"):
        tile_images(np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"image_shape \(3, 3\) does not hold 10 values"):
        tile_images(np.zeros((2, 10)), image_shape=(3, 3))
    with pytest.raises(ValueError, match="must be a 2-D array"):
        tile_images(np.zeros((2, 4, 4)))
    rbm = RBM(3)
    rbm.build((None, 10))
    with pytest.raises(ValueError, match="10 features are not a square image"):
        plot_filters(rbm)
    assert shown_picture(plot_filters(rbm, image_shape=(2, 5))).shape == (2 * 3 + 1, 2 * 6 + 1)


def test_plot_filters_shows_normalized_kernel_columns_and_writes_png(tmp_path):
    rbm = RBM(12, seed=0)
    rbm.build((None, 25))
    path = tmp_path / "filters.png"
    figure = plot_filters(rbm, max_filters=9, path=path)
    assert isinstance(figure, matplotlib.figure.Figure)
    expected = tile_images(rbm.kernel.numpy()[:, :9].T, normalize=True)
    assert expected.shape == (3 * 6 + 1, 3 * 6 + 1)
    np.testing.assert_allclose(shown_picture(figure), expected)
    png = matplotlib.image.imread(path)
    width, height = figure.get_size_inches() * 120  # saved at 120 dpi
    assert png.shape[:2] == (round(height), round(width))
    # A DBN shows its bottom RBM; an unbuilt model is refused.
    dbn = DBN([4, 3], output_units=None)
    dbn.build((None, 16))
    np.testing.assert_allclose(
        shown_picture(plot_filters(dbn)), tile_images(dbn.rbms[0].kernel.numpy().T, normalize=True)
    )
    with pytest.raises(ValueError, match="build or fit it before plotting"):
        plot_filters(RBM(3))


def test_plot_samples_shows_the_images_and_writes_png(tmp_path):
    images = np.random.default_rng(1).random((6, 9))
    path = tmp_path / "samples.png"
    figure = plot_samples(images, path=path, title="chains")
    np.testing.assert_allclose(shown_picture(figure), tile_images(images), rtol=1e-6)
    assert figure.axes[0].get_title() == "chains"
    png = matplotlib.image.imread(path)
    assert png.ndim == 3 and png.shape[2] == 4 and png.shape[0] > 100


def test_plot_history_has_one_panel_per_metric_with_validation_curves(tmp_path):
    logs = {"loss": [1.0, 0.5, 0.25], "accuracy": [0.5, 0.7, 0.9], "val_loss": [1.1, 0.6, 0.4]}
    path = tmp_path / "history.png"
    figure = plot_history(logs, path=path)
    assert [axis.get_title() for axis in figure.axes] == ["loss", "accuracy"]
    loss_lines = figure.axes[0].get_lines()
    assert [line.get_label() for line in loss_lines] == ["loss", "val_loss"]
    np.testing.assert_array_equal(loss_lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss_lines[1].get_ydata(), logs["val_loss"])
    np.testing.assert_array_equal(figure.axes[1].get_lines()[0].get_ydata(), logs["accuracy"])
    assert matplotlib.image.imread(path).shape[1] == round(figure.get_size_inches()[0] * 120)
