"""Pictures of what an RBM learned: filters, samples and training curves (matplotlib)."""

import math

import keras
import matplotlib.pyplot as plt
import numpy as np


def _image_shape(n_features, image_shape):
    if image_shape is not None:
        if int(np.prod(image_shape)) != n_features:
            raise ValueError(f"image_shape {image_shape} does not hold {n_features} values.")
        return tuple(image_shape)
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(
            f"{n_features} features are not a square image: pass image_shape=(rows, cols)."
        )
    return side, side


def tile_images(images, image_shape=None, columns=None, normalize=False):
    """Arranges flat images in a grid, one image per row of ``images``.

    Args:
        images: array ``(n_images, n_features)``.
        image_shape: ``(rows, cols)`` of one image; square by default.
        columns: images per grid row; about ``sqrt(n_images)`` by default.
        normalize: scale each image to [0, 1] on its own (for filters).

    Returns:
        A 2-D numpy array, the tiled picture, with a one-pixel border.

    Example:

    >>> from keras_dbn.viz import tile_images
    >>> import numpy as np
    >>> tile_images(np.zeros((4, 9)), columns=2).shape
    (9, 9)
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim != 2:
        raise ValueError(
            f"`images` must be a 2-D array (n_images, n_features), got shape {images.shape}."
        )
    rows_px, cols_px = _image_shape(images.shape[1], image_shape)
    if normalize:
        low = images.min(axis=1, keepdims=True)
        span = images.max(axis=1, keepdims=True) - low
        images = (images - low) / np.where(span > 0, span, 1.0)
    columns = columns or math.ceil(math.sqrt(len(images)))
    grid_rows = math.ceil(len(images) / columns)
    canvas = np.ones((grid_rows * (rows_px + 1) + 1, columns * (cols_px + 1) + 1), "float32")
    canvas *= images.max() if len(images) else 1.0
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = 1 + r * (rows_px + 1), 1 + c * (cols_px + 1)
        canvas[top : top + rows_px, left : left + cols_px] = image.reshape(rows_px, cols_px)
    return canvas


def _show(picture, title, path, cmap="gray"):
    figure, axis = plt.subplots(figsize=(6, 6 * picture.shape[0] / picture.shape[1]))
    axis.imshow(picture, cmap=cmap, interpolation="nearest")
    axis.set_title(title)
    axis.axis("off")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure


def plot_filters(rbm, max_filters=100, image_shape=None, path=None):
    """Shows first-layer weights, one tile per hidden unit (each scaled on its own).

    Args:
        rbm: a built `keras_dbn.RBM`, or a `keras_dbn.DBN` (its bottom RBM).
        max_filters: how many hidden units to show.
        image_shape: ``(rows, cols)`` of an input image; square by default.
        path: if given, the PNG file to write.

    Returns:
        The matplotlib `Figure`.
    """
    rbm = rbm.rbms[0] if hasattr(rbm, "rbms") else rbm
    if not rbm.built:
        raise ValueError(
            f"{rbm.name} has no weights yet: build or fit it before plotting its filters."
        )
    kernel = keras.ops.convert_to_numpy(rbm.kernel)[:, :max_filters].T
    picture = tile_images(kernel, image_shape, normalize=True)
    return _show(picture, f"{kernel.shape[0]} filters of {rbm.name}", path)


def plot_samples(images, image_shape=None, path=None, title="samples"):
    """Shows images (e.g. from `RBM.sample` or `DBN.generate`) in a grid.

    Args:
        images: array ``(n_images, n_features)`` of values in [0, 1].
        image_shape: ``(rows, cols)`` of one image; square by default.
        path: if given, the PNG file to write.
        title: title of the figure.

    Returns:
        The matplotlib `Figure`.
    """
    return _show(tile_images(images, image_shape), title, path)


def plot_history(history, path=None):
    """Plots each metric of a `keras.callbacks.History` (or its ``.history`` dict) by epoch.

    One panel per metric; ``val_<metric>`` entries share their metric's panel.

    Args:
        history: a `History` (as returned by ``fit``) or a dict of metric lists.
        path: if given, the PNG file to write.

    Returns:
        The matplotlib `Figure`.
    """
    logs = getattr(history, "history", history)
    names = [k for k in logs if not k.startswith("val_")]
    figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3), squeeze=False)
    for axis, name in zip(axes[0], names):
        axis.plot(range(1, len(logs[name]) + 1), logs[name], label=name)
        if f"val_{name}" in logs:
            axis.plot(range(1, len(logs[name]) + 1), logs[f"val_{name}"], label=f"val_{name}")
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.legend()
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure
