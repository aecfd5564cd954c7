"""Hyperparameter search for Deep Belief Networks with KerasTuner.

`DBNHyperModel` lets any KerasTuner tuner search a DBN's depth, layer sizes,
pretraining and fine-tuning settings: each trial pretrains greedily, then
fine-tunes, and the tuner's callbacks (checkpoints, early stopping, TensorBoard)
see only the supervised fine-tuning, so ``tuner.get_best_models()`` works.

A plain model-building function works too, since a `DBN` with
``pretrain_epochs > 0`` pretrains at the start of its first ``fit``::

    def build(hp):
        dbn = keras_dbn.DBN(
            [hp.Choice("units", [128, 256])] * hp.Int("depth", 1, 2),
            output_units=10,
            pretrain_epochs=hp.Int("pretrain_epochs", 1, 5),
        )
        dbn.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return dbn

    tuner = keras_tuner.RandomSearch(build, objective="val_accuracy", max_trials=5)
"""

import keras
import keras_tuner

from keras_dbn import validation
from keras_dbn.dbn import DBN, unlabelled_training_part

#: Default search ranges of `DBNHyperModel`; see its ``search_space`` argument.
DEFAULT_SEARCH_SPACE = {
    "depth": (1, 3),
    "units": [128, 256, 512, 1024],
    "cd_k": [1, 3, 5],
    "pretrain_learning_rate": (1e-3, 0.1),
    "pretrain_epochs": (2, 20),
    "learning_rate": (1e-4, 1e-2),
    "dropout": [0.0, 0.1, 0.2, 0.3, 0.5],
}

# Searched on a log scale when given as a (low, high) range.
_LOG_SCALE = ("units", "pretrain_learning_rate", "learning_rate")


class DBNHyperModel(keras_tuner.HyperModel):
    """A KerasTuner hypermodel of a `DBN` classifier: pretraining, then fine-tuning.

    `build` draws the architecture and training settings from ``hp`` and returns a
    compiled DBN (Adam with the drawn learning rate for fine-tuning). The input
    size comes from the data: the DBN builds itself at the first `fit` or call.
    `fit` pretrains every RBM greedily (SGD with momentum 0.9 at the drawn
    pretraining learning rate, for the drawn number of epochs), then fine-tunes
    with ``model.fit(x, y, **kwargs)``; the tuner's callbacks go only to that
    supervised fit. To train the best configuration again, call
    ``hypermodel.fit(best_hp, hypermodel.build(best_hp), x, y, ...)`` (a plain
    ``model.fit`` would pretrain with `DBN`'s default optimizer instead).

    Args:
        output_units: number of classes (size of the softmax head).
        search_space: dict overriding entries of `DEFAULT_SEARCH_SPACE`. Keys:

            - ``depth``: number of RBMs.
            - ``units``: hidden units of each RBM (drawn per layer as ``units_0``,
              ``units_1``...).
            - ``cd_k``: Gibbs steps of contrastive divergence.
            - ``pretrain_learning_rate``: SGD learning rate of pretraining.
            - ``pretrain_epochs``: pretraining epochs per RBM.
            - ``learning_rate``: Adam learning rate of fine-tuning.
            - ``dropout``: dropout rate on hidden activations while fine-tuning.

            Each value is a list (``hp.Choice``), a ``(low, high)`` tuple (an
            ``hp.Int`` range if both are ints, else ``hp.Float``; log scale for
            ``units`` and the learning rates), or a single number (``hp.Fixed``).
        visible: unit type of the bottom RBM's visible layer (see `DBN`).
        loss: fine-tuning loss; the default expects integer labels.
        metrics: fine-tuning metrics.
        seed: seed of the DBN's samplers.
        **kwargs: `keras_tuner.HyperModel` arguments (``name``, ``tunable``).

    Example:

    >>> import keras_tuner
    >>> from keras_dbn.tuning import DBNHyperModel
    >>> hypermodel = DBNHyperModel(10, search_space={"depth": 2, "units": [32]})
    >>> dbn = hypermodel.build(keras_tuner.HyperParameters())
    >>> dbn.hidden_units
    [32, 32]
    """

    def __init__(
        self,
        output_units,
        search_space=None,
        visible="bernoulli",
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.output_units = validation.check_positive_int(output_units, "output_units")
        search_space = dict(search_space or {})
        unknown = sorted(set(search_space) - set(DEFAULT_SEARCH_SPACE))
        if unknown:
            raise ValueError(
                f"Unknown search_space keys {unknown}; the keys are {sorted(DEFAULT_SEARCH_SPACE)}."
            )
        self.search_space = {**DEFAULT_SEARCH_SPACE, **search_space}
        for key, value in self.search_space.items():
            _check_range(key, value)
        self.visible = visible
        self.loss = loss
        self.metrics = list(metrics)
        self.seed = seed

    def _draw(self, hp, key, name=None):
        """Registers hyperparameter ``name`` (default ``key``) with the range of ``key``."""
        name = name or key
        value = self.search_space[key]
        if isinstance(value, list):
            return hp.Choice(name, value)
        if isinstance(value, tuple):
            low, high = value
            sampling = "log" if key in _LOG_SCALE else "linear"
            if isinstance(low, int) and isinstance(high, int):
                return hp.Int(name, low, high, sampling=sampling)
            return hp.Float(name, float(low), float(high), sampling=sampling)
        return hp.Fixed(name, value)

    def build(self, hp):
        """Returns a compiled `DBN` with hyperparameters drawn from ``hp``."""
        depth = self._draw(hp, "depth")
        hidden_units = [self._draw(hp, "units", f"units_{i}") for i in range(depth)]
        # Registered here so that every hyperparameter exists after `build`.
        self._draw(hp, "pretrain_learning_rate")
        dbn = DBN(
            hidden_units,
            output_units=self.output_units,
            visible=self.visible,
            cd_k=self._draw(hp, "cd_k"),
            dropout=self._draw(hp, "dropout"),
            pretrain_epochs=self._draw(hp, "pretrain_epochs"),
            seed=self.seed,
        )
        dbn.compile(
            optimizer=keras.optimizers.Adam(self._draw(hp, "learning_rate")),
            loss=self.loss,
            metrics=list(self.metrics),
        )
        return dbn

    def fit(self, hp, model, x, y=None, **kwargs):
        """Pretrains ``model`` greedily with ``hp``'s settings, then fine-tunes it.

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
            model: the DBN returned by `build`.
            x: training data (or a dataset of ``(x, y)`` batches).
            y: training labels (None with a dataset).
            **kwargs: `keras.Model.fit` arguments (``epochs``, ``batch_size``,
                ``validation_data``, the tuner's ``callbacks``...), for
                fine-tuning only. Pretraining uses the training part of ``x``
                (without ``validation_split``), ``batch_size`` (100 by default)
                and the verbosity.

        Returns:
            The `keras.callbacks.History` of fine-tuning.
        """
        model.pretrain(
            unlabelled_training_part(x, kwargs.get("validation_split")),
            epochs=hp.get("pretrain_epochs"),
            batch_size=kwargs.get("batch_size") or 100,
            optimizer=keras.optimizers.SGD(hp.get("pretrain_learning_rate"), momentum=0.9),
            verbose=kwargs.get("verbose", "auto"),
        )
        return model.fit(x, y, **kwargs)


def _check_range(key, value):
    if isinstance(value, list):
        if not value:
            raise ValueError(f"search_space[{key!r}] is an empty list.")
    elif isinstance(value, tuple):
        if len(value) != 2 or not value[0] < value[1]:
            raise ValueError(
                f"search_space[{key!r}] must be a (low, high) tuple with low < high, got {value!r}."
            )
    elif not isinstance(value, (int, float)):
        raise ValueError(
            f"search_space[{key!r}] must be a list, a (low, high) tuple or a number, got {value!r}."
        )
