"""Input pipelines for unsupervised training: shuffled, streamed, resumable batches."""

import numpy as np
import tensorflow as tf


def array_batches(x, batch_size, shuffle=True, seed=0, epoch_key=None):
    """A `tf.data.Dataset` of batches of rows of ``x``, read batch by batch.

    Rows are gathered from ``x`` one batch at a time, so a `numpy.memmap`
    larger than memory streams from disk. The shuffled order of an epoch is a
    function of ``(seed, epoch_key())`` alone, read when the epoch starts: with
    ``epoch_key`` returning the optimizer's step count, a run resumed from a
    checkpoint (e.g. `keras.callbacks.BackupAndRestore`) sees the same batches
    as an uninterrupted one.

    Args:
        x: array ``(n_samples, n_features)`` (numpy array or memory map).
        batch_size: rows per batch.
        shuffle: shuffle the rows each epoch.
        seed: integer seed of the shuffles.
        epoch_key: callable returning an integer that changes between epochs;
            None means the shuffle is the same every epoch.

    Returns:
        A `tf.data.Dataset` of float32 batches.

    Example:

    >>> import numpy as np
    >>> from keras_dbn.data import array_batches
    >>> batches = array_batches(np.arange(10.0).reshape(5, 2), 2, shuffle=False)
    >>> [b.shape[0] for b in batches.as_numpy_iterator()]
    [2, 2, 1]
    """
    n = len(x)

    def epoch_order():
        key = 0 if epoch_key is None else int(epoch_key())
        yield np.random.default_rng([seed, key]).permutation(n) if shuffle else np.arange(n)

    if isinstance(x, np.memmap):  # gather from disk, one batch at a time
        def gather(rows):
            return tf.numpy_function(lambda r: np.asarray(x[np.sort(r)], "float32"), [rows], tf.float32)
    else:
        table = tf.convert_to_tensor(x, tf.float32)

        def gather(rows):
            return tf.gather(table, rows)

    full = n // batch_size * batch_size

    def split(rows):  # reshaping beats Dataset.batch by far (as in Keras's own adapter)
        batches = tf.data.Dataset.from_tensor_slices(tf.reshape(rows[:full], (-1, batch_size)))
        return batches.concatenate(tf.data.Dataset.from_tensors(rows[full:])) if full < n else batches

    order = tf.data.Dataset.from_generator(epoch_order, output_signature=tf.TensorSpec((n,), tf.int64))
    dataset = order.flat_map(split).map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(lambda batch: tf.ensure_shape(batch, (None, x.shape[1])))
    steps = -(-n // batch_size)
    return dataset.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(2)
