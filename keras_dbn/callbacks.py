"""Keras callbacks for RBM and DBN training."""

import os

import keras
import numpy as np

from keras_dbn import validation
from keras_dbn._moved import module_getattr
from keras_dbn.trainer_callbacks import DivergenceGuard, TrainingDivergedError

__all__ = ["DivergenceGuard", "EpochProgress", "TensorBoardImages", "TrainingDivergedError"]

__getattr__ = module_getattr(
    __name__, {"StepProgbarLogger": "keras_dbn.trainer_callbacks.StepProgbarLogger"}
)


class TensorBoardImages(keras.callbacks.Callback):
    """Logs first-layer filters and Gibbs samples to TensorBoard as images (TensorFlow only).

    Every ``every`` epochs two tiled pictures are written with `tf.summary.image`:
    ``filters``, the weights of the bottom RBM's first ``max_filters`` hidden units
    (each scaled to [0, 1] on its own, as in `keras_dbn.viz.plot_filters`), and
    ``samples``, the visible means after ``gibbs_steps`` Gibbs steps of
    ``num_samples`` chains (`RBM.sample`, or `DBN.generate` for a DBN). The step of
    each picture counts the epochs this callback has seen, so pictures from several
    fits (the RBMs of `DBN.pretrain`) follow one another.

    Args:
        log_dir: directory of the run; events go to its ``images`` subdirectory
            (next to the ``train`` and ``validation`` runs of
            `keras.callbacks.TensorBoard` given the same ``log_dir``).
        every: log after every ``every``-th epoch.
        model: the `RBM` or `DBN` to picture; by default the model being
            trained. Pass the DBN to `DBN.pretrain`'s callbacks to picture the
            whole network while each RBM trains.
        max_filters: number of hidden units whose weights are shown.
        num_samples: number of Gibbs chains.
        gibbs_steps: Gibbs steps per chain.
        image_shape: ``(rows, cols)`` of one input image; square by default.

    Example:

    >>> import numpy as np, keras, tempfile
    >>> from keras_dbn import RBM
    >>> from keras_dbn.callbacks import TensorBoardImages
    >>> x = (np.random.default_rng(0).random((32, 16)) > 0.5).astype("float32")
    >>> rbm = RBM(4, seed=0)
    >>> rbm.compile("sgd")
    >>> logger = TensorBoardImages(tempfile.mkdtemp(), gibbs_steps=2)
    >>> _ = rbm.fit(x, epochs=1, verbose=0, callbacks=[logger])
    """

    def __init__(
        self,
        log_dir,
        every=1,
        model=None,
        max_filters=64,
        num_samples=16,
        gibbs_steps=100,
        image_shape=None,
    ):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self.every = validation.check_positive_int(every, "every")
        self.source = model
        self.max_filters = validation.check_positive_int(max_filters, "max_filters")
        self.num_samples = validation.check_positive_int(num_samples, "num_samples")
        self.gibbs_steps = validation.check_positive_int(gibbs_steps, "gibbs_steps")
        self.image_shape = image_shape
        self.epochs_seen = 0
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_seen += 1
        if self.epochs_seen % self.every == 0:
            self.log_images(self.epochs_seen)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.flush()

    def log_images(self, step):
        """Writes the ``filters`` and ``samples`` pictures at ``step``."""
        from keras_dbn.viz import tile_images

        source = self.source or self.model
        bottom = source.rbms[0] if hasattr(source, "rbms") else source
        filters = np.asarray(bottom.kernel)[:, : self.max_filters].T
        if hasattr(source, "generate"):
            samples = source.generate(self.num_samples, gibbs_steps=self.gibbs_steps)
        else:
            samples = source.sample(self.num_samples, gibbs_steps=self.gibbs_steps)
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "images"))
        with self._writer.as_default(step=step):
            for name, picture in (
                ("filters", tile_images(filters, self.image_shape, normalize=True)),
                ("samples", np.clip(tile_images(samples, self.image_shape), 0.0, 1.0)),
            ):
                tf.summary.image(name, picture[None, :, :, None])


class EpochProgress(keras.callbacks.Callback):
    """One progress bar per `fit`, over its epochs, under a title naming the stage.

    Keras' own bar (``verbose=1``) draws one bar per epoch; a long run of many
    short epochs then fills the screen. Pass ``verbose=0`` and this callback for
    one line per stage: a `keras.utils.Progbar` advancing once per epoch with the
    epoch's metrics. One instance given to several fits (the RBMs of
    `DBN.pretrain`) draws one bar for each.

    Args:
        title: the line printed above the bar: a string, or a function of the
            model being trained returning one (called once per fit); by default
            the model's name.

    Example:

    >>> import numpy as np, keras
    >>> from keras_dbn import RBM
    >>> from keras_dbn.callbacks import EpochProgress
    >>> x = (np.random.default_rng(0).random((32, 6)) > 0.5).astype("float32")
    >>> rbm = RBM(3, seed=0, name="rbm")
    >>> rbm.compile("sgd")
    >>> progress = EpochProgress("An RBM")
    >>> _ = rbm.fit(x, epochs=2, verbose=0, callbacks=[progress])  # doctest: +ELLIPSIS
    An RBM
    ...
    """

    def __init__(self, title=None):
        super().__init__()
        self.title = title

    def on_train_begin(self, logs=None):
        title = self.title(self.model) if callable(self.title) else self.title
        print(title or self.model.name, flush=True)
        # Every epoch is drawn (interval 0): Keras skips updates closer than 0.05 s apart.
        self._bar = keras.utils.Progbar(self.params.get("epochs"), interval=0, unit_name="epoch")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._bar.stateful_metrics.update(logs)  # show each epoch's value, not a running mean
        self._bar.update(epoch + 1, values=list(logs.items()))
