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
    uninterrupted one. The permutations are drawn in the graph from that
    stateless seed.

    An in-memory array is shuffled row by row. A `numpy.memmap` streams from
    disk in contiguous blocks of about 16k rows, read in a shuffled block order
    and shuffled within each block, so only a couple of blocks are in memory at
    a time and the disk is read sequentially (random row access would make the
    OS read each page many times over).

    The pipeline uses no ``Dataset.from_generator``: running one makes
    TensorFlow set glibc's ``M_TRIM_THRESHOLD``, which freezes malloc's mmap
    threshold for the whole process, and every batch-sized buffer is then
    mapped and unmapped at each step (docs/performance.md).

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
    key = (lambda: np.int64(0)) if epoch_key is None else (lambda: np.int64(epoch_key()))
    # One element per epoch, computed when the epoch's iterator starts.
    epoch_seed = tf.data.Dataset.range(1).map(
        lambda _: tf.stack([tf.constant(seed, tf.int64), _read_key(key)])
    )

    def order(size, seed_pair):
        return (
            tf.random.experimental.stateless_shuffle(tf.range(size), seed_pair)
            if shuffle
            else tf.range(size)
        )

    if isinstance(x, np.memmap):
        block = max(1, _BLOCK_ROWS // batch_size) * batch_size
        starts = np.arange(0, n, block)

        def read(start):  # one contiguous read, in the file's own dtype (cast in the graph)
            rows = tf.numpy_function(
                lambda s: np.ascontiguousarray(x[s : s + block]), [start], x.dtype
            )
            return tf.cast(tf.reshape(rows, (-1, width)), tf.float32)

        def blocks(seed_pair):
            block_starts = tf.gather(tf.constant(starts), order(len(starts), seed_pair))
            return tf.data.Dataset.from_tensor_slices(block_starts).map(
                lambda start: shuffled(read(start), _fold(seed_pair, start))
            )

        def shuffled(rows, seed_pair):
            return tf.gather(rows, order(tf.shape(rows)[0], seed_pair))

        dataset = epoch_seed.flat_map(blocks).flat_map(lambda rows: _split(rows, batch_size))
    else:
        table = tf.convert_to_tensor(x, tf.float32)
        rows = epoch_seed.map(lambda seed_pair: order(n, seed_pair)).flat_map(
            lambda rows: _split(rows, batch_size)
        )
        dataset = rows.map(lambda rows: tf.gather(table, rows), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(lambda batch: tf.ensure_shape(batch, (None, width)))
    return dataset.apply(tf.data.experimental.assert_cardinality(-(-n // batch_size))).prefetch(2)


def _read_key(key):
    return tf.reshape(tf.numpy_function(key, [], tf.int64, stateful=True), ())


def _fold(seed_pair, data):
    return tf.random.experimental.stateless_fold_in(seed_pair, tf.cast(data, tf.int32))


def _split(rows, batch_size):
    """``rows`` as a dataset of batches.

    Reshaping beats ``Dataset.batch`` by far (as in Keras's own adapter).
    """
    full = tf.shape(rows)[0] // batch_size * batch_size
    batches = tf.data.Dataset.from_tensor_slices(
        tf.reshape(rows[:full], tf.concat([[-1, batch_size], tf.shape(rows)[1:]], 0))
    )
    rest = tf.data.Dataset.from_tensors(rows[full:]).filter(lambda tail: tf.shape(tail)[0] > 0)
    return batches.concatenate(rest)


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
