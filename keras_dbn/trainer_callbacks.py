"""The callbacks every `fit` of the trainer (`keras_dbn.base`) adds itself."""

import math

import keras
import numpy as np


class TrainingDivergedError(FloatingPointError):
    """Raised when training produced non-finite metrics or weights."""


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training that diverges and puts back the last finite weights.

    At the end of each epoch the metrics and weights are checked. If any is NaN or
    infinite (too high a learning rate, or NaN/inf in a streamed dataset), the model
    gets back the weights it had at the end of the last good epoch (or before
    training) and `TrainingDivergedError` is raised naming the metric, so no NaN
    weights are ever saved. `RBM.fit`, `DBN.pretrain` and `DBN.fit` add it
    themselves.
    """

    def on_train_begin(self, logs=None):
        self._good_weights = self.model.get_weights()
        self._good_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        bad = sorted(k for k, v in (logs or {}).items() if _not_finite(v))
        if not bad and all(np.isfinite(w).all() for w in self.model.get_weights()):
            self._good_weights = self.model.get_weights()
            self._good_epoch = epoch
            return
        self.model.set_weights(self._good_weights)
        self.model.stop_training = True
        what = ", ".join(f"{k}={logs[k]}" for k in bad) or "the weights"
        since = (
            "before training"
            if self._good_epoch is None
            else f"at the end of epoch {self._good_epoch + 1}"
        )
        raise TrainingDivergedError(
            f"Training diverged in epoch {epoch + 1}: {what} became non-finite. "
            "The learning rate is probably too high (or the data hold NaN/inf values). "
            f"The weights were restored to their values {since}."
        )

    @classmethod
    def added_to(cls, callbacks):
        """Returns ``callbacks`` (None, a list or a CallbackList) with a guard appended."""
        callbacks = list(callbacks or [])
        if not any(isinstance(c, cls) for c in callbacks):
            callbacks.append(cls())
        return callbacks


class StepProgbarLogger(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, whose count never passes the epoch's number of batches.

    With ``steps_per_execution`` larger than 1, Keras reports the end of the last
    batch an execution could run, so a 29-batch epoch run 100 steps per call shows
    ``100/29``. This bar counts the batches that exist. `RBM.fit`, `DBN.fit` and
    their ``evaluate`` add it themselves.
    """

    def _update_progbar(self, batch, logs=None):
        if self.target is not None:
            batch = min(batch, self.target - 1)
        super()._update_progbar(batch, logs)

    @classmethod
    def added_to(cls, callbacks):
        """Returns ``callbacks`` with this bar in place of Keras' default one.

        A `keras.callbacks.CallbackList` (what `fit` hands its validation
        ``evaluate``) is returned as it is.
        """
        if isinstance(callbacks, keras.callbacks.CallbackList):
            return callbacks
        callbacks = list(callbacks or [])
        if not any(isinstance(c, keras.callbacks.ProgbarLogger) for c in callbacks):
            callbacks.append(cls())
        return callbacks


def _not_finite(value):
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
