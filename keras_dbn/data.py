"""Input pipelines for unsupervised training: shuffled, streamed, resumable batches.

On TensorFlow, `array_batches` builds a `tf.data` pipeline; on JAX and PyTorch it
returns an `ArrayBatches` (a `keras.utils.PyDataset`) with the same guarantees, so
those backends never import TensorFlow to train from arrays.
"""

import keras
import numpy as np

# Rows per contiguous block read from a memory map (rounded to whole batches).
_BLOCK_ROWS = 16384


def array_batches(x, batch_size, shuffle=True, seed=0, epoch_key=None, labels=None):
    """Batches of rows of ``x``, shuffled per epoch (class-balanced with ``labels``).

    The shuffled order of an epoch is a function of ``(seed, epoch_key())``
    alone, read when the epoch starts: with ``epoch_key`` returning the
    optimizer's step count, a run resumed from a checkpoint (e.g.
    `keras.callbacks.BackupAndRestore`) sees the same batches as an
    uninterrupted one.

    An in-memory array is shuffled row by row. A `numpy.memmap` streams from
    disk in contiguous blocks of about 16k rows, read in a shuffled block order
    and shuffled within each block, so only a couple of blocks are in memory at
    a time and the disk is read sequentially (random row access would make the
    OS read each page many times over).

    On the TensorFlow backend the result is a `tf.data.Dataset` whose
    permutations are drawn in the graph from that stateless seed. The
    pipeline uses no ``Dataset.from_generator``: running one makes
    TensorFlow set glibc's ``M_TRIM_THRESHOLD``, which freezes malloc's mmap
    threshold for the whole process, and every batch-sized buffer is then
    mapped and unmapped at each step (docs/performance.md). On JAX and
    PyTorch it is an `ArrayBatches`, which imports no TensorFlow; the two
    draw different permutations from the same seed.

    Args:
        x: array ``(n_samples, n_features)`` (numpy array or memory map).
        batch_size: rows per batch.
        shuffle: shuffle the rows each epoch.
        seed: integer seed of the shuffles.
        epoch_key: callable returning an integer that changes between epochs;
            None means the shuffle is the same every epoch.
        labels: optional class labels, one per row of an in-memory ``x``: each
            epoch's order is then `balanced_order`, so every batch holds each
            class in proportion to its share of the rows, within about a row
            (Hinton, Osindero & Teh's batches of 100 held 10 of each digit). It
            is drawn by numpy on every backend, from ``(seed, epoch_key())``.

    Returns:
        Float32 batches ``(batch, n_features)``, the last one partial if
        ``batch_size`` does not divide the row count: a `tf.data.Dataset` on
        TensorFlow, an `ArrayBatches` on the other backends.

    Example:

    >>> import numpy as np
    >>> from keras_dbn.data import array_batches
    >>> batches = array_batches(np.arange(10.0).reshape(5, 2), 2, shuffle=False)
    >>> [int(b.shape[0]) for b in batches]
    [2, 2, 1]
    """
    if keras.backend.backend() == "tensorflow":
        labels = checked_labels(x, labels, shuffle)
        return _tf_array_batches(x, batch_size, shuffle, seed, epoch_key, labels)
    return ArrayBatches(
        x, batch_size, shuffle=shuffle, seed=seed, epoch_key=epoch_key, labels=labels
    )


def balanced_order(labels, seed):
    """A permutation of the rows that interleaves the classes of ``labels``.

    Each class's rows are shuffled and spread evenly over the epoch: the row of
    rank ``r`` among ``n_c`` of its class gets the key ``(r + u_c) / n_c``, ``u_c``
    uniform in [0, 1) per class, and the rows are sorted by key. Any run of
    consecutive rows then holds each class in proportion to its count, within
    about one row; with equal class counts the classes take turns, so the
    counts in a batch differ by at most one.

    Args:
        labels: integer class labels, shape ``(n_samples,)``.
        seed: seed of ``numpy.random.default_rng`` (an int or a sequence of ints).

    Returns:
        An int64 array ``(n_samples,)``: the rows in their order.
    """
    rng = np.random.default_rng(seed)
    classes = np.unique(labels, return_inverse=True)[1]
    keys = np.empty(len(classes))
    for c in range(int(classes.max(initial=-1)) + 1):
        rows = rng.permutation(np.flatnonzero(classes == c))
        keys[rows] = (np.arange(len(rows)) + rng.random()) / len(rows)
    return np.argsort(keys, kind="stable").astype(np.int64)


def checked_labels(x, labels, shuffle):
    """``labels`` as a 1-D array of one class per row of ``x``, or None; raises ValueError."""
    if labels is None:
        return None
    if isinstance(x, np.memmap):
        raise ValueError("Class-balanced batches need an in-memory array, not a memory map.")
    if not shuffle:
        raise ValueError("Class-balanced batches are shuffled: pass `shuffle=True` with `labels`.")
    labels = np.asarray(labels)
    if labels.shape != (len(x),):
        raise ValueError(
            f"`labels` must hold one class per row ({len(x)}), got shape {labels.shape}."
        )
    return labels


class ArrayBatches(keras.utils.PyDataset):
    """Shuffled float32 batches of an array's rows, as a `keras.utils.PyDataset`.

    What `array_batches` returns on JAX and PyTorch; it needs no TensorFlow and
    works on every backend. Batch ``i`` is ``self[i]``; ``len(self)`` is the
    number of batches, the last one partial when ``batch_size`` does not divide
    the row count.

    The order of an epoch is drawn with ``numpy.random.default_rng([seed, key])``,
    ``key = epoch_key()`` read when the epoch's first batch (index 0) is
    requested. With Keras' default of one worker and no multiprocessing, and
    ``fit(..., shuffle=False)`` (else `fit` shuffles the batch indices), Keras
    requests the batches in order from the training thread, so each epoch's
    order depends only on the seed and the key at its start (with the
    optimizer's step count as the key, `keras.callbacks.BackupAndRestore`
    resumes exactly).

    A `numpy.memmap` is read in contiguous blocks of about 16k rows (whole
    batches), in a shuffled block order, each block shuffled in memory; only
    the current block is held. Each batch comes from one block; the partial
    batch, if any, ends the file's last block, wherever that block falls in the
    epoch. An in-memory array is shuffled row by row.

    Args:
        x: array ``(n_samples, n_features)`` (numpy array or memory map).
        batch_size: rows per batch.
        shuffle: shuffle the rows each epoch; ``False`` keeps the row order.
        seed: integer seed of the shuffles.
        epoch_key: callable returning an integer that changes between epochs;
            None means the shuffle is the same every epoch.
        labels: optional class labels, one per row of an in-memory ``x``: each
            epoch's order is `balanced_order` (see `array_batches`).
        **kwargs: `keras.utils.PyDataset`'s ``workers``,
            ``use_multiprocessing`` and ``max_queue_size``. Leave them at their
            defaults: with parallel workers, index 0 may be read after other
            batches and ``epoch_key`` from another thread.

    Example:

    >>> import numpy as np
    >>> from keras_dbn.data import ArrayBatches
    >>> batches = ArrayBatches(np.arange(10.0).reshape(5, 2), 2, shuffle=False)
    >>> len(batches), batches[2]
    (3, array([[8., 9.]], dtype=float32))
    """

    def __init__(self, x, batch_size, shuffle=True, seed=0, epoch_key=None, labels=None, **kwargs):
        super().__init__(**kwargs)
        self._memmap = isinstance(x, np.memmap)
        self.x = x if self._memmap else np.asarray(x)
        if self.x.ndim != 2:
            raise ValueError(f"Expected an array (n_samples, n_features), got shape {x.shape}.")
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"`batch_size` must be >= 1, got {batch_size!r}.")
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.epoch_key = epoch_key
        self.labels = checked_labels(self.x, labels, self.shuffle)
        self._transforms = ()
        n = len(self.x)
        if self._memmap:
            self.block_rows = max(1, _BLOCK_ROWS // self.batch_size) * self.batch_size
        else:
            self.block_rows = max(n, 1)  # one block: the whole array
        self._starts = np.arange(0, n, self.block_rows)
        sizes = np.minimum(self.block_rows, n - self._starts)
        self._block_batches = -(-sizes // self.batch_size)
        self._order = None  # (block order, first batch of each block in it)
        self._block = None  # (block index, its rows as float32, their order)

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch {index} of {len(self)}.")
        if index == 0 or self._order is None:
            self._start_epoch()
        blocks, first_batch = self._order
        position = int(np.searchsorted(first_batch, index, side="right")) - 1
        rows, order = self._rows(int(blocks[position]))
        start = (index - int(first_batch[position])) * self.batch_size
        stop = start + self.batch_size
        batch = rows[start:stop] if order is None else rows[order[start:stop]]
        if not self._memmap:
            batch = batch.astype(np.float32, copy=False)
        for fn in self._transforms:
            batch = fn(batch)
        return batch

    def _key(self):
        return 0 if self.epoch_key is None else int(self.epoch_key())

    def _start_epoch(self):
        """Reads the epoch key and draws the block order."""
        self._seed_pair = [self.seed, self._key()]
        blocks = np.arange(len(self._starts))
        if self.shuffle:
            blocks = np.random.default_rng(self._seed_pair).permutation(blocks)
        first_batch = np.concatenate([[0], np.cumsum(self._block_batches[blocks])[:-1]])
        self._order = (blocks, first_batch)
        self._block = None

    def _rows(self, block):
        """Block ``block``'s rows and the order they are served in (None: as they are)."""
        if self._block is None or self._block[0] != block:
            start = int(self._starts[block])
            rows = self.x[start : start + self.block_rows]
            if self._memmap:  # one contiguous read, cast once
                rows = np.array(rows, dtype=np.float32)
            order = None
            if self.labels is not None:
                order = balanced_order(self.labels, self._seed_pair)
            elif self.shuffle:  # an array's one block is shuffled by (seed, key) alone
                seed = self._seed_pair + [block] if self._memmap else self._seed_pair
                order = np.random.default_rng(seed).permutation(len(rows))
            self._block = (block, rows, order)
        return self._block[1], self._block[2]

    def on_epoch_end(self):
        """Drops the block in memory; the next epoch's order is drawn at its first batch."""
        self._block = None

    def map(self, fn):
        """A copy whose batches are ``fn(batch)`` (as `tf.data.Dataset.map` for one tensor)."""
        mapped = type(self).__new__(type(self))
        mapped.__dict__.update(self.__dict__)
        mapped._transforms = self._transforms + (fn,)
        mapped._order = mapped._block = None
        return mapped


def _tf_array_batches(x, batch_size, shuffle, seed, epoch_key, labels):
    """`array_batches` on TensorFlow: a `tf.data` pipeline, the permutations drawn in the graph."""
    import tensorflow as tf

    n, width = x.shape
    key = (lambda: np.int64(0)) if epoch_key is None else (lambda: np.int64(epoch_key()))
    # One element per epoch, computed when the epoch's iterator starts.
    epoch_seed = tf.data.Dataset.range(1).map(
        lambda _: tf.stack([tf.constant(seed, tf.int64), _read_key(key)])
    )

    def order(size, seed_pair):
        if labels is not None:
            rows = tf.numpy_function(lambda s: balanced_order(labels, s), [seed_pair], tf.int64)
            return tf.reshape(rows, (n,))
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
    import tensorflow as tf

    return tf.reshape(tf.numpy_function(key, [], tf.int64, stateful=True), ())


def _fold(seed_pair, data):
    import tensorflow as tf

    return tf.random.experimental.stateless_fold_in(seed_pair, tf.cast(data, tf.int32))


def _split(rows, batch_size):
    """``rows`` as a dataset of batches.

    Reshaping beats ``Dataset.batch`` by far (as in Keras's own adapter).
    """
    import tensorflow as tf

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
