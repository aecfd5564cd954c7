"""Input pipelines for unsupervised training: shuffled, streamed, resumable batches."""

import numpy as np
import tensorflow as tf

# Rows per contiguous block read from a memory map (rounded to whole batches).
_BLOCK_ROWS = 16384


def array_batches(x, batch_size, shuffle=True, seed=0, epoch_key=None):
    """A `tf.data.Dataset` of batches of rows of ``x``, shuffled per epoch.

    The shuffled order of an epoch is a function of ``(seed, epoch_key())``
    alone, read when the epoch starts: with ``epoch_key`` returning the
    optimizer's step count, a run resumed from a checkpoint (e.g.
    `keras.callbacks.BackupAndRestore`) sees the same batches as an
    uninterrupted one.

    An in-memory array is shuffled row by row. A `numpy.memmap` streams from
    disk in contiguous blocks of about 16k rows, read in a shuffled block order
    and shuffled within each block, so only one block is in memory at a time
    and the disk is read sequentially (random row access would make the OS
    read each page many times over).

    Args:
        x: array ``(n_samples, n_features)`` (numpy array or memory map).
        batch_size: rows per batch.
        shuffle: shuffle the rows each epoch.
        seed: integer seed of the shuffles.
        epoch_key: callable returning an integer that changes between epochs;
            None means the shuffle is the same every epoch.

    Returns:
        A `tf.data.Dataset` of float32 batches ``(batch, n_features)``.

    Example:

    >>> import numpy as np
    >>> from keras_dbn.data import array_batches
    >>> batches = array_batches(np.arange(10.0).reshape(5, 2), 2, shuffle=False)
    >>> [b.shape[0] for b in batches.as_numpy_iterator()]
    [2, 2, 1]
    """
    n, width = x.shape
    steps = -(-n // batch_size)

    def epoch_rng():
        return np.random.default_rng([seed, 0 if epoch_key is None else int(epoch_key())])

    if isinstance(x, np.memmap):
        dataset = tf.data.Dataset.from_generator(
            lambda: _memmap_batches(x, batch_size, shuffle, epoch_rng()),
            output_signature=tf.TensorSpec((None, width), tf.float32),
        )
    else:
        table = tf.convert_to_tensor(x, tf.float32)
        full = n // batch_size * batch_size

        def epoch_order():
            yield epoch_rng().permutation(n) if shuffle else np.arange(n)

        def split(rows):  # reshaping beats Dataset.batch by far (as in Keras's own adapter)
            batches = tf.data.Dataset.from_tensor_slices(tf.reshape(rows[:full], (-1, batch_size)))
            return batches.concatenate(tf.data.Dataset.from_tensors(rows[full:])) if full < n else batches

        order = tf.data.Dataset.from_generator(epoch_order, output_signature=tf.TensorSpec((n,), tf.int64))
        dataset = order.flat_map(split).map(lambda rows: tf.gather(table, rows), num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.map(lambda batch: tf.ensure_shape(batch, (None, width)))
    return dataset.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(2)


def _memmap_batches(x, batch_size, shuffle, rng):
    block = max(1, _BLOCK_ROWS // batch_size) * batch_size
    starts = np.arange(0, len(x), block)
    for start in rng.permutation(starts) if shuffle else starts:
        rows = np.asarray(x[start : start + block], dtype="float32")
        if shuffle:
            rows = rows[rng.permutation(len(rows))]
        for i in range(0, len(rows), batch_size):
            yield rows[i : i + batch_size]


def load_mnist(path=None):
    """MNIST as uint8 arrays ``(x_train, y_train, x_test, y_test)``, images ``(n, 28, 28)``.

    Args:
        path: an ``.npz`` file with ``x_train, y_train, x_test, y_test`` (the
            layout of `keras.datasets.mnist`). ``None`` calls
            `keras.datasets.mnist.load_data`, which downloads the file once and
            keeps it under ``~/.keras/datasets``.

    Returns:
        The four arrays.
    """
    if path is None:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        return x_train, y_train, x_test, y_test
    with np.load(path) as data:
        return tuple(data[key] for key in ("x_train", "y_train", "x_test", "y_test"))
