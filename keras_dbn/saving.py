"""Loading `.keras` files with a clear error for damaged ones."""

import os
import zipfile

import keras


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """`keras.saving.load_model` for keras_dbn models, checking the archive first.

    Keras reports a truncated `.keras` file as "File not found" and a corrupted
    one as a CRC error from deep inside `zipfile`. This checks the archive's
    integrity first (reading only) and raises a ``ValueError`` that says what
    is wrong with which file. Safe mode stays on: keras_dbn models hold no
    lambdas or pickled objects.

    Args:
        filepath: path of a `.keras` file.
        custom_objects: as in `keras.saving.load_model`.
        compile: as in `keras.saving.load_model`.
        safe_mode: as in `keras.saving.load_model`.

    Returns:
        The model.

    Raises:
        ValueError: the file is missing, not a zip archive, truncated or corrupted.

    Example:

    >>> import numpy as np, os, tempfile
    >>> from keras_dbn import RBM, load_model
    >>> rbm = RBM(2, seed=0)
    >>> _ = rbm(np.zeros((1, 3), "float32"))
    >>> path = os.path.join(tempfile.mkdtemp(), "rbm.keras")
    >>> rbm.save(path)
    >>> load_model(path).units
    2
    """
    filepath = os.fspath(filepath)
    if not os.path.isfile(filepath):
        raise ValueError(f"No such file: {filepath!r}.")
    if not zipfile.is_zipfile(filepath):
        raise ValueError(
            f"{filepath!r} is not a .keras archive: it is truncated or is not a zip file "
            f"({os.path.getsize(filepath)} bytes)."
        )
    try:
        with zipfile.ZipFile(filepath) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ValueError(f"{filepath!r} is a damaged .keras archive: {err}.") from None
    if damaged is not None:
        raise ValueError(
            f"{filepath!r} is corrupted: the checksum of its member {damaged!r} does not match."
        )
    return keras.saving.load_model(
        filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode
    )
