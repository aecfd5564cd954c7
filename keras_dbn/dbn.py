"""The Deep Belief Network: a stack of RBMs pretrained greedily, then fine-tuned as one model."""

import warnings

import keras
import numpy as np
from keras import ops

from keras_dbn import backend, pretraining, validation
from keras_dbn import units as units_lib
from keras_dbn._moved import module_getattr
from keras_dbn.base import CheckedModel, upward_means
from keras_dbn.generative import GenerativeModel, ValidationError, with_labels
from keras_dbn.rbm import RBM

__getattr__ = module_getattr(
    __name__, {"default_pretrain_optimizer": "keras_dbn.pretraining.default_pretrain_optimizer"}
)

# Persistent chains of each PCD RBM in a DBN
# (fixed, so a saved DBN's chains fit the RBMs it rebuilds).
PERSISTENT_CHAINS = 100


@keras.saving.register_keras_serializable(package="keras_dbn")
class DBN(CheckedModel):
    """A Deep Belief Network (Hinton, Osindero & Teh, 2006) with an optional output head.

    The network is a stack of `RBM` layers, bottom first, and (when
    ``output_units`` is set) a `keras.layers.Dense` head. Calling it runs the upward
    means through every RBM, then the head. Train it in two stages:

    1. `pretrain`: greedy layer-wise contrastive divergence; RBM ``i`` is fit on the
       upward means of the RBMs below it.
    2. Fine-tuning: ordinary ``compile`` / ``fit`` with labels, by backpropagation
       through the whole stack. Optionally, before or after it, `fit_generative`
       fine-tunes the generative model by the up-down algorithm.

    Args:
        hidden_units: hidden layer sizes, bottom first.
        output_units: size of the output head, or None for an unsupervised
            feature stack (calling it returns the top RBM's hidden means).
        output_activation: activation of the head.
        visible: unit type of the bottom RBM's visible layer (``"bernoulli"`` for
            data in [0, 1], ``"gaussian"`` for standardised real data).
        hidden: hidden unit type of every RBM, or a list with one per RBM
            (``"bernoulli"``, ``"relu"``, ``"binomial"``... see `keras_dbn.units`).
            Each upper RBM's visible units are the hidden units of the RBM below,
            fed with their means.
        cd_k: Gibbs steps of contrastive divergence in every RBM.
        top_cd_k: Gibbs steps of the top RBM (in pretraining and, unless
            `fit_generative` is told otherwise, in up-down), or None for ``cd_k``.
            Hinton, Osindero & Teh (2006) pretrain every RBM by CD-1 and raise
            the top RBM's k in up-down (``fit_generative(..., top_cd_k=3)``).
        persistent: where to use persistent chains (PCD): False (CD everywhere),
            True (every RBM) or ``"top"`` (the top RBM only). Persistent chains
            need a learning rate that decays (a
            `keras.optimizers.schedules.CosineDecay` in the top RBM's
            optimizer). On MNIST, PCD in the top RBM at a rate decayed to 1% of
            its start removed the spurious mode CD-1 falls into. On
            scikit-learn's 1,437 digits, CD-1 gave better samples and better
            `predict_generative` (docs/results.md).
        negative_visible: the visible state of each negative-phase Gibbs step
            (`RBM`'s ``negative_visible``: ``"sample"``, ``"mean"`` as Hinton's
            ``rbm.m``, or ``"softmax_mean"``, the label units' probabilities as
            in the paper's up-down), for every RBM or a list with one per RBM.
        dropout: dropout rate on hidden activations during fine-tuning.
        input_dropout: dropout rate on the input during fine-tuning (Srivastava
            et al. 2014 drop 0.2 of the pixels and 0.5 of the hidden units).
        pretrain_epochs: if > 0, the first `fit` of a DBN that was never pretrained
            runs `pretrain` for this many epochs first (lets a plain
            ``build(hp)`` function hand a DBN to any keras-tuner tuner).
        seed: seed of the RBMs' samplers (RBM ``i`` gets ``seed + i``).
        untied: keep a separate generative model
            (`keras_dbn.generative.GenerativeModel`, in `generative_model`; its
            layers, bottom first, in `generative`: a copy of each lower RBM with
            recognition weights of its own, then the top RBM, with the label
            units when ``output_units >= 2``) that `generate` and
            `predict_generative` use, `fit_generative` trains by the up-down
            algorithm and `fit` leaves alone, as Hinton, Osindero & Teh untie
            the recognition and generative weights. False ties them (files saved
            by keras-dbn 0.1, which had no generative model, load this way).
        **kwargs: `keras.Model` arguments (``name``, ``dtype``...).

    Example:

    >>> import numpy as np, keras
    >>> from keras_dbn import DBN
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((128, 16)).astype("float32")
    >>> y = (x[:, 0] > 0.5).astype("int32")
    >>> dbn = DBN(hidden_units=[8, 8], output_units=2, seed=0)
    >>> histories = dbn.pretrain(x, epochs=1, batch_size=32, verbose=0)
    >>> dbn.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> history = dbn.fit(x, y, epochs=1, verbose=0)
    >>> dbn.predict(x, verbose=0).shape
    (128, 2)
    """

    def __init__(
        self,
        hidden_units=(500, 500, 2000),
        output_units=10,
        output_activation="softmax",
        visible="bernoulli",
        hidden="bernoulli",
        cd_k=1,
        top_cd_k=None,
        persistent=False,
        negative_visible="sample",
        dropout=0.0,
        input_dropout=0.0,
        pretrain_epochs=0,
        seed=None,
        untied=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_units = validation.check_sizes(hidden_units, "hidden_units")
        self.output_units = (
            None
            if output_units is None
            else validation.check_positive_int(output_units, "output_units")
        )
        self.output_activation = keras.activations.get(output_activation)
        for name, rate in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"`{name}` must be in [0, 1), got {rate!r}.")
        self.dropout, self.input_dropout = float(dropout), float(input_dropout)
        self.pretrain_epochs = validation.check_positive_int(
            pretrain_epochs, "pretrain_epochs", minimum=0
        )
        self.seed = seed
        self.visible = units_lib.get(visible)
        self.hidden = [
            units_lib.get(h)
            for h in pretraining.per_layer(hidden, len(self.hidden_units), "hidden")
        ]
        self.cd_k = validation.check_positive_int(cd_k, "cd_k")
        self.top_cd_k = (
            None if top_cd_k is None else validation.check_positive_int(top_cd_k, "top_cd_k")
        )
        self.negative_visible = pretraining.per_layer(
            negative_visible, len(self.hidden_units), "negative_visible"
        )
        self.persistent = validation.check_choice(persistent, (False, True, "top"), "persistent")
        self.untied = bool(untied)
        self._policy = kwargs.get("dtype")
        top = len(self.hidden_units) - 1
        self.rbms = [
            self._rbm(i, self.persistent is True or (i == top and self.persistent == "top"))
            for i in range(top + 1)
        ]
        # The generative model's layers, made in `build` once the input width is known
        # (a list attribute: the weight paths ``generative/rbm...`` of saved files).
        self.generative = []
        self.dropouts = [keras.layers.Dropout(self.dropout, dtype=self._policy) for _ in self.rbms]
        self.input_dropout_layer = keras.layers.Dropout(self.input_dropout, dtype=self._policy)
        self.head = None
        if self.output_units is not None:
            self.head = keras.layers.Dense(
                self.output_units,
                activation=self.output_activation,
                dtype=self._policy,
                name="head",
            )

    def _rbm(self, i, persistent):
        return RBM(
            self.hidden_units[i],
            visible=([self.visible] + self.hidden)[i],
            hidden=self.hidden[i],
            cd_k=self.cd_k if i < len(self.hidden_units) - 1 else self.top_cd_k or self.cd_k,
            persistent=persistent,
            negative_visible=self.negative_visible[i],
            num_chains=PERSISTENT_CHAINS if persistent else None,
            seed=None if self.seed is None else self.seed + i,
            dtype=self._policy,
            name=f"rbm_{i}",
        )

    @property
    def label_units(self):
        """Number of label units in the top RBM of the generative model (0 if none)."""
        return self.output_units if self.untied and (self.output_units or 0) >= 2 else 0

    def build(self, input_shape):
        # Variables belong to the strategy the model was created under, also when
        # `fit`, `pretrain` or a first call builds the model outside `strategy.scope()`.
        with self.strategy_scope():
            shape = tuple(input_shape)
            for rbm in self.rbms:
                if not rbm.built:
                    rbm.build(shape)
                shape = (None, rbm.units)
            if self.head is not None and not self.head.built:
                self.head.build(shape)
            if self.untied and not self.generative:
                model = GenerativeModel.from_pretrained(
                    self.rbms, self.label_units, dtype=self._policy, name="generative_model"
                )
                self.generative = list(model)
                self.generative_model = model
            # 1 once `pretrain` has run; saved with the weights so a reloaded DBN
            # with `pretrain_epochs` is not pretrained again over its fine-tuning.
            self.pretrained = self.add_weight(
                name="pretrained", shape=(), initializer="zeros", dtype="int32", trainable=False
            )
            if self.untied:  # 1 once the top RBM has learnt with labels
                self.labelled = self.add_weight(
                    name="labelled", shape=(), initializer="zeros", dtype="int32", trainable=False
                )

    @property
    def n_visible(self):
        """Number of visible units of the bottom RBM (None before the DBN is built)."""
        return self.rbms[0].n_visible

    def call(self, inputs, training=False):
        x = self.input_dropout_layer(inputs, training=training) if self.input_dropout else inputs
        for rbm, dropout in zip(self.rbms, self.dropouts):
            x = rbm._call_unchecked(x)
            if self.dropout:
                x = dropout(x, training=training)
        return x if self.head is None else self.head(x)

    # ---------------------------------------------------------- pretraining
    def pretrain(
        self,
        x,
        y=None,
        epochs=10,
        batch_size=100,
        optimizer=None,
        callbacks=None,
        verbose="auto",
        balanced=False,
    ):
        """Greedy layer-wise pretraining: fits each RBM, bottom first, by CD.

        RBM ``i`` is fit on the upward means ``E[h | v]`` of the RBMs below it.
        With ``y``, the top RBM learns the joint distribution of the top
        features and the one-hot label (its visible units are ``[features,
        label]``, the label a softmax group of ``output_units`` units), Hinton,
        Osindero & Teh's associative memory, which `generate` can then clamp
        to a digit and `predict_generative` classifies with. When pretraining
        ends the recognition weights (used by ``call`` and fine-tuned by `fit`)
        and the generative model (`generative`) part: see ``untied``.
        For an in-memory array these are computed batch-wise once per layer
        (one layer's features in memory at a time); for a `numpy.memmap` or a
        `tf.data.Dataset` they are streamed through the lower RBMs batch by
        batch, so data larger than memory train (TensorFlow only).

        A `keras.callbacks.BackupAndRestore` among ``callbacks`` makes
        pretraining resumable per layer: each RBM backs up under
        ``backup_dir/<rbm name>/``, finished layers are kept there, and a
        restarted run skips them and resumes the interrupted layer at the epoch
        where it stopped. The backup folder is removed when pretraining ends
        (unless the callback has ``delete_checkpoint=False``). See
        `keras_dbn.pretraining.pretrain_greedily`.

        Args:
            x: training data, an array ``(n_samples, n_features)`` or a dataset.
            y: optional class labels, one integer in ``[0, output_units)`` per
                row of an in-memory array ``x``.
            epochs: epochs per RBM (an int, or one per RBM).
            batch_size: mini-batch size (arrays only).
            optimizer: None (SGD, learning rate 0.1, momentum 0.9), an optimizer
                (instance, name or config) copied for each RBM with all its
                settings, or a list with one per RBM. Its ``weight_decay``
                (e.g. ``keras.optimizers.SGD(0.1, momentum=0.9,
                weight_decay=2e-4)``, the paper's weight cost) decays every
                variable it trains; after
                ``optimizer.exclude_from_weight_decay(var_names=["bias"])`` only
                the weights.
            callbacks: Keras callbacks passed to each RBM's `fit`.
            verbose: Keras verbosity; each RBM shows its own progress bar.
            balanced: with ``y``, every batch of every RBM holds the classes in
                their shares of ``x`` (100 rows of 10 balanced digits hold 10 of
                each, as in the paper; `keras_dbn.data.balanced_order`).

        Returns:
            The list of `keras.callbacks.History` objects, one per RBM.
        """
        is_dataset = validation.is_tf_dataset(x)
        if (is_dataset or isinstance(x, np.memmap)) and len(self.rbms) > 1:
            backend.require_tensorflow(
                "Pretraining on a memory map or tf.data.Dataset (streamed through the lower RBMs)"
            )
        if balanced and y is None:
            raise ValueError("pretrain(balanced=True) balances the classes of `y`: pass y.")
        if not is_dataset:
            x = self._check_and_build(x, "training data")
        labels = None if y is None else self._one_hot_labels(x, y)
        if not self.built:
            self.build((None, validation.feature_width(x)))
        trainees = self.rbms[:-1] + [self.generative[-1] if self.label_units else self.rbms[-1]]
        histories = pretraining.pretrain_greedily(
            trainees,
            self._layer_inputs(x, labels, batch_size, trainees),
            epochs,
            optimizer,
            batch_size=None if is_dataset else batch_size,
            callbacks=callbacks,
            verbose=verbose,
            balance_labels=np.argmax(labels, axis=1) if balanced else None,
        )
        if self.untied:
            self._untie(labelled=labels is not None)
        self.pretrained.assign(1)
        return histories

    def _one_hot_labels(self, x, y):
        if not self.label_units:
            raise ValueError(
                "pretrain(y=...) needs a top RBM with label units: "
                "a DBN with output_units >= 2 and untied=True."
            )
        if not isinstance(x, np.ndarray) or isinstance(x, np.memmap):
            raise ValueError(
                "pretrain(y=...) takes `x` as an in-memory numpy array "
                "(not a memory map or dataset)."
            )
        return self.generative_model.one_hot(y, len(x), "y")

    def _layer_inputs(self, x, labels, batch_size, trainees):
        """``layer_input(i)`` for `pretraining.pretrain_greedily`: RBM ``i``'s training data,
        the upward means of the RBMs under it (joined to the labels for a labelled top RBM)."""
        below = [x]  # the last layer's input, kept for the next one (arrays)

        def layer_input(i):
            if i > 0 and isinstance(x, np.ndarray) and not isinstance(x, np.memmap):
                below[0] = upward_means(self.rbms[i - 1 : i], below[0], max(batch_size, 1024))[-1]
            elif i > 0:
                below[0] = pretraining.streamed_upward(self.rbms[:i], x, batch_size, trainees[i])
            if i == len(self.rbms) - 1 and self.label_units:
                return with_labels(below[0], labels, self.label_units)
            return below[0]

        return layer_input

    def _untie(self, labelled):
        """Copies the pretrained weights into the generative model; from a labelled top RBM,
        copies its feature rows back into the recognition path's top RBM."""
        self.generative_model.copy_from(self.rbms)
        if self.label_units:
            top, width = self.generative[-1], self.rbms[-1].n_visible
            # Copies (ops.copy): on JAX two variables must not share one buffer.
            self.rbms[-1].kernel.assign(ops.copy(top.kernel[:width]))
            self.rbms[-1].hidden_bias.assign(ops.copy(top.hidden_bias))
            self.rbms[-1].visible_bias.assign(ops.copy(top.visible_bias[:width]))
        self.labelled.assign(int(labelled))

    def fit_generative(
        self,
        x,
        y=None,
        epochs=10,
        batch_size=100,
        optimizer=None,
        callbacks=None,
        verbose="auto",
        top_cd_k=None,
        top_persistent=None,
        balanced=False,
        validation_data=None,
    ):
        """Fine-tunes the generative model by the up-down algorithm (contrastive wake-sleep).

        Hinton, Osindero & Teh (2006), section 5: each batch goes up the
        recognition weights of the generative model, trains the top RBM
        (with the labels clamped in its positive phase) and comes down from
        the top RBM's negative states; the generative weights learn from the
        way up and the recognition weights from the way down
        (`keras_dbn.generative.GenerativeModel`). Only `generative` changes, so
        it runs before or after fine-tuning with `fit`, and `generate` and
        `predict_generative` use its result. A `keras.callbacks.BackupAndRestore`
        among ``callbacks`` makes a killed run resume exactly.

        Args:
            x: training data, an array ``(n_samples, n_features)``.
            y: class labels (one integer in ``[0, output_units)`` per row), needed
                by a DBN pretrained with labels and refused by one pretrained without.
            epochs: epochs of up-down.
            batch_size: mini-batch size.
            optimizer: None (SGD, learning rate 0.01, momentum 0.9), or an
                optimizer (instance, name or config), copied with all its
                settings. For long runs, decay its rate: on MNIST a constant
                rate left the unconditional chains in one or two digits, and 200
                epochs at 0.005 decayed by a
                `keras.optimizers.schedules.CosineDecay` to 1% balanced them
                (docs/results.md). Its ``weight_decay`` applies to every
                variable up-down trains (`pretrain` says how to spare the biases).
            callbacks: Keras callbacks.
            verbose: Keras verbosity.
            top_cd_k: Gibbs steps of the top RBM's negative phase in this call,
                or None for its own (`DBN`'s ``top_cd_k``). The paper's schedule
                is three calls: ``top_cd_k=3``, then 6, then 10.
            top_persistent: False runs the top RBM's negative phase as CD-k
                started from the wake state with the labels clamped in the
                positive phase (the paper's up-down), True from the persistent
                chains of a PCD top RBM (``persistent="top"``), None as the top
                RBM was pretrained. ``top_cd_k`` and ``top_persistent`` hold for
                this call only: the DBN's config and saved files keep the top
                RBM's own settings.
            balanced: every batch holds the classes of ``y`` in their shares
                of ``x`` (`keras_dbn.data.balanced_order`); needs ``y``.
            validation_data: ``(x_val, y_val)``: each epoch then logs
                ``val_generative_error``, the error of `predict_generative` on
                it (a fraction), which `keras.callbacks.EarlyStopping` (with
                ``restore_best_weights=True``) and
                `keras.callbacks.ModelCheckpoint` can monitor with
                ``mode="min"`` (Keras cannot tell the direction of a logged
                value by itself); needs a DBN pretrained with labels.

        Returns:
            A `keras.callbacks.History` of ``reconstruction_error`` (the data
            against its reconstruction down the generative weights), the top
            RBM's ``free_energy_gap`` and, with ``validation_data``,
            ``val_generative_error``.

        Example:

        >>> import numpy as np
        >>> from keras_dbn import DBN
        >>> x = (np.random.default_rng(0).random((64, 12)) < 0.5).astype("float32")
        >>> y = np.arange(64) % 2
        >>> dbn = DBN([8, 6], output_units=2, seed=0)
        >>> _ = dbn.pretrain(x, y=y, epochs=1, batch_size=16, verbose=0)
        >>> history = dbn.fit_generative(x, y, epochs=2, batch_size=16, verbose=0)
        >>> sorted(history.history)
        ['free_energy_gap', 'reconstruction_error']
        """
        if not self.generative or not int(ops.convert_to_numpy(self.pretrained)):
            raise ValueError(
                "fit_generative needs a DBN with a generative model (untied=True), "
                "pretrained first."
            )
        if balanced and y is None:
            raise ValueError("fit_generative(balanced=True) balances the classes of `y`: pass y.")
        x = self._check_and_build(x, "training data")
        labelled = self._is_labelled()
        if labelled and y is None:
            raise ValueError(
                "This DBN was pretrained with labels: fit_generative needs them too (y)."
            )
        if y is not None and not labelled:
            self._require_labelled("fit_generative")
        labels = self.generative_model.one_hot(y, len(x), "y") if labelled else None
        callbacks = list(callbacks or [])
        if validation_data is not None:
            callbacks.insert(0, self._validation_error(validation_data))
        rows = with_labels(x, labels, self.label_units) if self.label_units else x
        self.generative_model.compile(
            optimizer=pretraining.fresh_optimizer(
                optimizer, default=lambda: keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
            )
        )
        return self.generative_model.fit(
            rows,
            epochs=epochs,
            batch_size=batch_size,
            callbacks=callbacks,
            verbose=verbose,
            top_cd_k=top_cd_k,
            top_persistent=top_persistent,
            balance_labels=np.argmax(labels, axis=1) if balanced else None,
        )

    def _validation_error(self, validation_data):
        """The callback logging ``val_generative_error`` on checked ``(x_val, y_val)``."""
        self._require_labelled("fit_generative(validation_data=...)")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("`validation_data` must be a tuple (x_val, y_val).")
        x_val = self._check_and_build(validation_data[0], "validation data")
        labels = validation.check_labels(
            validation_data[1], self.label_units, len(x_val), "validation labels"
        )
        return ValidationError(x_val, labels)

    # ------------------------------------------------------------ fine-tuning
    def fit(self, x=None, y=None, batch_size=None, epochs=1, **kwargs):
        """Fine-tunes the whole network with labels; see `keras.Model.fit`.

        Arrays are checked first. If ``pretrain_epochs > 0`` and the DBN was never
        pretrained, `pretrain` runs first on the training part of ``x`` (with
        ``y`` as the top RBM's labels when they are integer classes).
        """
        x = self._checked_fit_inputs(x, kwargs)
        if self.pretrain_epochs and (
            not self.built or not int(ops.convert_to_numpy(self.pretrained))
        ):
            part = unlabelled_training_part(x, kwargs.get("validation_split"))
            sparse = isinstance(part, np.ndarray) and isinstance(y, np.ndarray) and y.ndim == 1
            self.pretrain(
                part,
                y=y[: len(part)] if sparse and self.label_units else None,
                epochs=self.pretrain_epochs,
                batch_size=batch_size or 100,
                verbose=kwargs.get("verbose", "auto"),
            )
        with warnings.catch_warnings():
            # Visible biases take no part in the upward pass, so they get no gradient:
            # expected, and not worth Keras's warning.
            warnings.filterwarnings(
                "ignore", message="Gradients do not exist for variables.*visible_bias"
            )
            return self._guarded_fit(x, y, batch_size=batch_size, epochs=epochs, **kwargs)

    # ----------------------------------------------------------- inference
    def extract_features(self, x, layer=-1, batch_size=1024):
        """Upward mean activations of one hidden layer, or of all of them.

        Args:
            x: data, shape ``(n_samples, n_features)``.
            layer: index into `rbms` (negative counts from the top), or None for
                a list with every layer's features, bottom first.
            batch_size: rows per batch of the upward pass.

        Returns:
            A numpy array ``(n_samples, hidden_units[layer])``, or a list of them.
        """
        x = self._check_and_build(x, "input")
        last = len(self.rbms) - 1 if layer is None else range(len(self.rbms))[layer]
        every = upward_means(self.rbms[: last + 1], x, batch_size)
        return every if layer is None else every[-1]

    def generate(self, num_samples, labels=None, gibbs_steps=1000, mean=True):
        """Samples from the generative model: Gibbs in the top RBM, then one pass down.

        See `keras_dbn.generative.GenerativeModel.generate`. With ``untied``
        (the default) the pass down takes the generative weights, which
        fine-tuning leaves alone; a tied DBN samples its own RBMs.

        Args:
            num_samples: number of samples.
            labels: optional classes, one integer in ``[0, output_units)`` per
                sample (needs a DBN pretrained with ``y``).
            gibbs_steps: Gibbs steps in the top RBM.
            mean: return ``E[v | h]`` of the bottom layer (True) or a sample.

        Returns:
            A numpy array ``(num_samples, n_visible)``.

        Example:

        >>> import numpy as np
        >>> from keras_dbn import DBN
        >>> x = (np.random.default_rng(0).random((64, 12)) < 0.5).astype("float32")
        >>> dbn = DBN([8, 6], output_units=2, seed=0)
        >>> _ = dbn.pretrain(x, y=np.arange(64) % 2, epochs=1, batch_size=16, verbose=0)
        >>> dbn.generate(4, labels=[0, 1, 0, 1], gibbs_steps=10).shape
        (4, 12)
        """
        if not self.built:
            raise ValueError("Build or pretrain the DBN before generating from it.")
        if labels is not None:
            self._require_labelled("generate")
        model = self.generative_model if self.untied else GenerativeModel(self.rbms)
        return model.generate(num_samples, labels=labels, gibbs_steps=gibbs_steps, mean=mean)

    def predict_generative(self, x, batch_size=1024):
        """Classifies by the generative model: the label of lowest free energy in the top RBM.

        Each input goes up the generative model's lower layers (their
        recognition weights: the pretrained ones, or those of `fit_generative`;
        `fit` does not change them); the top RBM then scores
        ``[features, label]`` for every label, and the label whose free energy
        is lowest wins (Hinton, Osindero & Teh, 2006, section 6).

        Returns:
            An int64 numpy array ``(n_samples,)`` of classes.
        """
        self._require_labelled("predict_generative")
        return self.generative_model.predict_labels(x, batch_size)

    def predict_generative_proba(self, x, batch_size=1024):
        """The generative model's label probabilities, ``softmax(-F(features, label))``.

        The distribution over labels that the top RBM gives each input (its
        free energies ``F`` as in `predict_generative`, whose class is the
        argmax), as `predict` gives the fine-tuned network's.

        Returns:
            A float32 numpy array ``(n_samples, output_units)``; rows sum to 1.
        """
        self._require_labelled("predict_generative_proba")
        return self.generative_model.predict_proba(x, batch_size)

    def _is_labelled(self):
        return bool(self.label_units) and bool(int(ops.convert_to_numpy(self.labelled)))

    def _require_labelled(self, purpose):
        if not self._is_labelled():
            raise ValueError(
                f"{purpose} with labels needs a DBN pretrained with labels: "
                "dbn.pretrain(x, y=labels)."
            )

    # --------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_units=list(self.hidden_units),
            output_units=self.output_units,
            output_activation=keras.activations.serialize(self.output_activation),
            visible=units_lib.serialize(self.visible),
            hidden=[units_lib.serialize(h) for h in self.hidden],
            cd_k=self.cd_k,
            top_cd_k=self.top_cd_k,
            persistent=self.persistent,
            negative_visible=list(self.negative_visible),
            dropout=self.dropout,
            input_dropout=self.input_dropout,
            pretrain_epochs=self.pretrain_epochs,
            seed=self.seed,
            untied=self.untied,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["output_activation"] = keras.activations.deserialize(config["output_activation"])
        config.setdefault("untied", False)  # keras-dbn 0.1 had no separate generative model
        return cls(**config)


def unlabelled_training_part(x, validation_split=None):
    """The inputs that pretraining may see: ``x`` without the ``validation_split`` tail,
    or the feature part of a dataset of ``(x, y)`` batches."""
    if validation.is_tf_dataset(x):
        return x.map(lambda *batch: batch[0])
    return x[: int(len(x) * (1.0 - (validation_split or 0.0)))]
