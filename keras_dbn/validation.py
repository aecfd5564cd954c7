"""Checks on user data, run before any weight changes.

Every public entry point that takes arrays (``fit``, ``pretrain``, ``__call__``,
``free_energy``...) passes them through `check_array` first, so bad input gets a
``ValueError`` naming the problem instead of a deep TensorFlow error or, worse, NaN
weights.
"""

import contextlib
import sys

import numpy as np
from keras import ops

from keras_dbn import backend

# Rows checked per pass, so a memory-mapped array larger than memory is never read whole.
_CHUNK_ROWS = 8192


def is_tf_dataset(x):
    """Whether ``x`` is a `tf.data.Dataset`, decided without importing TensorFlow.

    Nothing can be a dataset before TensorFlow is imported, so on the JAX and
    PyTorch backends this costs no import.
    """
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(x, tf.data.Dataset)


def is_array_like(x):
    """Whether ``x`` is data we check eagerly (numpy arrays, lists, eager tensors)."""
    return isinstance(x, (np.ndarray, list, tuple)) or backend.is_eager_tensor(x)


def check_array(x, units=None, n_features=None, name="input", copy_dtype="float32"):
    """Validates a 2-D feature array and returns it as a float array.

    Args:
        x: array-like of shape ``(n_samples, n_features)``.
        units: optional `keras_dbn.units.Units`; its ``check`` tests the value range.
        n_features: expected feature count (``None`` when the model is not built).
        name: how the error messages call the array.
        copy_dtype: the float dtype the data are converted to when they are not
            floating point already (floating arrays and memory maps are returned
            as they are, without a copy).

    Returns:
        The data as a numpy floating-point array (or memory map).

    Raises:
        ValueError: empty input, wrong rank, wrong feature count, non-numeric
            dtype, NaN or infinite values, or values outside the units' support.
    """
    if backend.is_eager_tensor(x):
        x = ops.convert_to_numpy(x)
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except ValueError as err:  # ragged nested lists
            raise ValueError(f"The {name} is not a rectangular array: {err}") from None
    if (
        x.dtype.name == "bfloat16"
    ):  # ml_dtypes' numpy bfloat16 (what `predict` returns under mixed_bfloat16)
        x = x.astype("float32")
    if x.dtype == object or x.dtype.kind in "USVOMm":
        raise ValueError(
            f"The {name} has non-numeric dtype {x.dtype}; expected numbers "
            "(float, int or bool) in an array of shape (n_samples, n_features)."
        )
    if x.dtype.kind == "c":
        raise ValueError(f"The {name} has complex dtype {x.dtype}; expected real numbers.")
    if x.ndim != 2:
        raise ValueError(
            f"The {name} must be 2-D (n_samples, n_features), got shape {x.shape}. "
            "Flatten images first, e.g. x.reshape(len(x), -1)."
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"The {name} is empty (shape {x.shape}).")
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(
            f"The {name} has {x.shape[1]} features, but the model was built for {n_features}."
        )
    if x.dtype.kind not in "f" and not isinstance(x, np.memmap):  # memory maps convert per batch
        x = x.astype(copy_dtype)
    _check_values(x, units, name)
    return x


def _check_values(x, units, name):
    """Raises ``ValueError`` at the first NaN or infinity, or values outside the units' support."""
    for start in range(0, len(x), _CHUNK_ROWS):
        chunk = np.asarray(x[start : start + _CHUNK_ROWS])
        finite = np.isfinite(chunk)
        if not finite.all():
            row, col = np.argwhere(~finite)[0]
            kind = "NaN" if np.isnan(chunk[row, col]) else "infinite"
            raise ValueError(
                f"The {name} contains {kind} values (first at row {start + row}, "
                f"column {col}). Remove or impute them before training."
            )
        if units is not None:
            units.check(chunk)


def check_positive_int(value, name, minimum=1):
    """Returns ``int(value)``; raises ``ValueError`` unless it is an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_sizes(sizes, name):
    """Returns ``sizes`` as a list of ints; raises ``ValueError`` unless it is a non-empty
    sequence of integers >= 1 (layer sizes)."""
    if isinstance(sizes, int) or not sizes:
        raise ValueError(f"`{name}` must be a non-empty list of sizes, got {sizes!r}.")
    return [check_positive_int(size, f"{name}[i]") for size in sizes]


def check_choice(value, choices, name):
    """Returns ``value``; raises ``ValueError`` unless it is one of ``choices`` (type included)."""
    if not any(type(value) is type(c) and value == c for c in choices):
        raise ValueError(f"`{name}` must be one of {choices}, got {value!r}.")
    return value


_BAD_BATCH = "keras_dbn rejected a batch: "


def check_labels(labels, num_classes, num_samples=None, name="labels"):
    """Validates class labels: integers in ``[0, num_classes)``, one per sample.

    Returns:
        The labels as an int64 numpy array of shape ``(n,)``.
    """
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"`{name}` must be one integer class per sample, shape (n,); got shape {y.shape}."
        )
    if num_samples is not None and len(y) != num_samples:
        raise ValueError(f"`{name}` has {len(y)} entries for {num_samples} samples.")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    if y.dtype.kind not in "iuf" or (y.dtype.kind == "f" and np.any(y != np.round(y))):
        raise ValueError(f"`{name}` must hold integer classes, got dtype {y.dtype}.")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"`{name}` must be classes in [0, {num_classes}), got values in [{y.min()}, {y.max()}]."
        )
    return y.astype("int64")


def check_dataset(dataset, units=None, n_features=None):
    """Checks a `tf.data.Dataset`'s element spec now and each batch as it streams.

    TensorFlow only: it imports TensorFlow (a `tf.data.Dataset` input needs it
    on any backend).

    The features (the first element of tuples) must be numeric and, when
    ``n_features`` is given, have that many columns. Every batch then goes
    through `check_array` on its way to the model; a bad batch stops training
    inside `restore_on_bad_batch`, which turns it into a ``ValueError``.

    Returns:
        The dataset with the per-batch check mapped over it.
    """
    import tensorflow as tf

    spec = dataset.element_spec
    spec = spec[0] if isinstance(spec, tuple) else spec
    if not isinstance(spec, tf.TensorSpec) or not (
        spec.dtype.is_floating or spec.dtype.is_integer or spec.dtype.is_bool
    ):
        raise ValueError(f"The dataset yields {spec}; expected numeric feature batches.")
    width = spec.shape[-1] if spec.shape.rank else None
    if spec.shape.rank is not None and spec.shape.rank != 2:
        raise ValueError(
            f"The dataset yields batches of shape {spec.shape}; expected (batch, n_features)."
        )
    if width is not None and n_features is not None and width != n_features:
        raise ValueError(
            f"The dataset yields {width} features, but the model was built for {n_features}."
        )

    def check(batch):
        try:
            check_array(batch, units, n_features, "batch")
        except ValueError as err:
            raise ValueError(_BAD_BATCH + str(err)) from None
        return batch

    def checked(*element):
        x = tf.numpy_function(check, [element[0]], element[0].dtype, stateful=False)
        x = tf.ensure_shape(x, element[0].shape)
        return x if len(element) == 1 else (x,) + element[1:]

    return dataset.map(checked)


def feature_width(dataset):
    """The feature count of a dataset's batches (first tuple element), or None if unknown."""
    spec = dataset.element_spec
    spec = spec[0] if isinstance(spec, tuple) else spec
    return spec.shape[-1] if spec.shape.rank else None


@contextlib.contextmanager
def restore_on_bad_batch(model):
    """Turns a batch rejected by `check_dataset` into a ``ValueError``, weights restored.

    On JAX, whose trainer detaches every variable's value during `fit`, any other
    exception puts back the values from before `fit` where a variable is left
    detached (the optimizer's and metrics' after `DivergenceGuard` restored the weights).

    A rejected batch arrives as a TensorFlow ``OpError``, which only a
    `tf.data.Dataset` input (TensorFlow imported by then) can raise; the check
    imports no TensorFlow, so fitting arrays on JAX or PyTorch never loads it.
    """
    variables = backend.fit_state(model)
    values = [ops.convert_to_numpy(v) for v in variables]

    def restore(only_detached=False):
        for variable, value in zip(variables, values):
            if not only_detached or backend.is_detached(variable):
                variable.assign(value)

    try:
        yield
    except BaseException as err:
        if not _is_bad_batch(err):
            restore(only_detached=True)
            raise
        restore()
        reason = str(err).split(_BAD_BATCH, 1)[1].split("\n", 1)[0]
        raise ValueError(
            f"Bad training data: {reason} The weights were left as they were before fit()."
        ) from None


def _is_bad_batch(err):
    """Whether ``err`` is a batch rejected by `check_dataset` (a TensorFlow ``OpError``)."""
    tf = sys.modules.get("tensorflow")  # no TensorFlow loaded: no tf.data batch was checked
    errors = getattr(tf, "errors", None)
    return errors is not None and isinstance(err, errors.OpError) and _BAD_BATCH in str(err)
