"""The Deep Belief Network: a stack of RBMs pretrained greedily, then fine-tuned as one model."""

import json
import os
import shutil
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_dbn import backend, validation
from keras_dbn import units as units_lib
from keras_dbn.base import CheckedModel
from keras_dbn.rbm import RBM
from keras_dbn.up_down import UpDown

# Persistent chains of each PCD RBM in a DBN
# (fixed, so a saved DBN's chains fit the RBMs it rebuilds).
PERSISTENT_CHAINS = 100


def default_pretrain_optimizer():
    """SGD with momentum 0.9 and learning rate 0.1 (Hinton's guide, sections 4 and 9)."""
    return keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)


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
        persistent: where to use persistent chains (PCD): False (CD everywhere),
            True (every RBM) or ``"top"`` (the top RBM only). Persistent chains
            need a learning rate that decays (a
            `keras.optimizers.schedules.CosineDecay` in the top RBM's
            optimizer). On MNIST, PCD in the top RBM at a rate decayed to 1% of
            its start removed the spurious mode CD-1 falls into. On
            scikit-learn's 1,437 digits, CD-1 gave better samples and better
            `predict_generative` (docs/results.md).
        dropout: dropout rate on hidden activations during fine-tuning.
        input_dropout: dropout rate on the input during fine-tuning (Srivastava
            et al. 2014 drop 0.2 of the pixels and 0.5 of the hidden units).
        pretrain_epochs: if > 0, the first `fit` of a DBN that was never pretrained
            runs `pretrain` for this many epochs first (lets a plain
            ``build(hp)`` function hand a DBN to any keras-tuner tuner).
        seed: seed of the RBMs' samplers (RBM ``i`` gets ``seed + i``).
        untied: keep a separate generative model (`generative`: the top RBM, with
            the label units when ``output_units >= 2``, and a copy of each lower
            RBM with recognition weights of its own, ``RBM(untied=True)``) that
            `generate` and `predict_generative` use, `fit_generative` trains by
            the up-down algorithm and `fit` leaves alone, as Hinton, Osindero &
            Teh untie the recognition and generative weights. False ties them
            (files saved by keras-dbn 0.1, which had no generative model, load
            this way).
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
        persistent=False,
        dropout=0.0,
        input_dropout=0.0,
        pretrain_epochs=0,
        seed=None,
        untied=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(hidden_units, int) or not hidden_units:
            raise ValueError(
                f"`hidden_units` must be a non-empty list of sizes, got {hidden_units!r}."
            )
        self.hidden_units = [
            validation.check_positive_int(u, "hidden_units[i]") for u in hidden_units
        ]
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
            units_lib.get(h) for h in _per_layer(hidden, len(self.hidden_units), "hidden")
        ]
        self.cd_k = validation.check_positive_int(cd_k, "cd_k")
        self.persistent = validation.check_choice(persistent, (False, True, "top"), "persistent")
        self.untied = bool(untied)
        self._policy = kwargs.get("dtype")
        top = len(self.hidden_units) - 1
        pcd = [
            self.persistent is True or (i == top and self.persistent == "top")
            for i in range(top + 1)
        ]
        self.rbms = [self._rbm(i, f"rbm_{i}", persistent=pcd[i]) for i in range(top + 1)]
        self.generative = []  # made in `build`, once the width of the top RBM's input is known
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

    def _rbm(self, i, name, visible=None, persistent=False, untied=False):
        return RBM(
            self.hidden_units[i],
            visible=visible or ([self.visible] + self.hidden)[i],
            hidden=self.hidden[i],
            cd_k=self.cd_k,
            persistent=persistent,
            num_chains=PERSISTENT_CHAINS if persistent else None,
            seed=None if self.seed is None else self.seed + i,
            untied=untied,
            dtype=self._policy,
            name=name,
        )

    @property
    def label_units(self):
        """Number of label units in the top RBM of the generative model (0 if none)."""
        return self.output_units if self.untied and (self.output_units or 0) >= 2 else 0

    def _build_generative_model(self, n_visible):
        """Untied copies of the lower RBMs, then the top RBM over ``[features, label]``."""
        top = len(self.rbms) - 1
        self.generative = [self._rbm(i, f"generative_{i}", untied=True) for i in range(top)]
        features = ([self.visible] + self.hidden)[top]
        visible = features
        if self.label_units:
            width = ([n_visible] + self.hidden_units)[top]
            visible = units_lib.Joint(
                [(features, width), (units_lib.Softmax(self.label_units), self.label_units)]
            )
        self.generative.append(
            self._rbm(top, "top_memory", visible=visible, persistent=bool(self.persistent))
        )
        widths = [n_visible] + self.hidden_units[:-1]
        widths[-1] += self.label_units
        for rbm, width in zip(self.generative, widths):
            rbm.build((None, width))
            rbm.trainable = (
                False  # pretraining and fit_generative train it; fine-tuning leaves it alone
            )

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
                self._build_generative_model(input_shape[-1])
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
        self, x, y=None, epochs=10, batch_size=100, optimizer=None, callbacks=None, verbose="auto"
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
        batch, so data larger than memory train.

        A `keras.callbacks.BackupAndRestore` among ``callbacks`` makes
        pretraining resumable per layer: each RBM backs up under
        ``backup_dir/<rbm name>/``, finished layers are kept there, and a
        restarted run skips them and resumes the interrupted layer at the epoch
        where it stopped. The backup folder is removed when pretraining ends
        (unless the callback has ``delete_checkpoint=False``).

        Args:
            x: training data, an array ``(n_samples, n_features)`` or a dataset.
            y: optional class labels, one integer in ``[0, output_units)`` per
                row of an in-memory array ``x``.
            epochs: epochs per RBM (an int, or one per RBM).
            batch_size: mini-batch size (arrays only).
            optimizer: None (SGD, learning rate 0.1, momentum 0.9), an optimizer
                (instance, name or config) cloned for each RBM, or a list with one
                per RBM.
            callbacks: Keras callbacks passed to each RBM's `fit`.
            verbose: Keras verbosity; each RBM shows its own progress bar.

        Returns:
            The list of `keras.callbacks.History` objects, one per RBM.
        """
        is_dataset = isinstance(x, tf.data.Dataset)
        if (is_dataset or isinstance(x, np.memmap)) and len(self.rbms) > 1:
            backend.require_tensorflow(
                "Pretraining on a memory map or tf.data.Dataset (streamed through the lower RBMs)"
            )
        if not is_dataset:
            x = self._check(x, "training data")
        labels = None if y is None else self._one_hot_labels(x, y)
        epochs_per_layer = _per_layer(epochs, len(self.rbms), "epochs")
        optimizers = [
            _fresh_optimizer(o) for o in _per_layer(optimizer, len(self.rbms), "optimizer")
        ]
        callbacks = list(callbacks or [])
        backups = [c for c in callbacks if isinstance(c, keras.callbacks.BackupAndRestore)]
        others = [c for c in callbacks if c not in backups]
        if not self.built:
            self.build((None, validation.feature_width(x) if is_dataset else x.shape[1]))
        trainees = self.rbms[:-1] + [self.generative[-1] if self.label_units else self.rbms[-1]]
        histories, features = [], x
        for i, (rbm, layer_epochs) in enumerate(zip(trainees, epochs_per_layer)):
            rbm.trainable = True
            rbm.compile(optimizer=optimizers[i])
            if i > 0:
                features = self._layer_input(x, features, i, batch_size, rbm)
            if rbm.n_visible != self.rbms[i].n_visible:  # the label units of the top RBM
                features = self._with_labels(features, labels)
            layer_dirs = [os.path.join(b.backup_dir, rbm.name) for b in backups]
            history = _completed_layer(rbm, layer_dirs)
            if verbose:
                done = " (finished earlier, restored from its backup)" if history else ""
                print(f"Pretraining RBM {i + 1}/{len(self.rbms)}: {rbm.units} hidden units{done}")
            if history is None:
                fit_options = dict(
                    epochs=layer_epochs,
                    batch_size=None if is_dataset else batch_size,
                    verbose=verbose,
                )
                history = _fit_resumably(
                    rbm, features, zip(backups, layer_dirs), others, **fit_options
                )
            rbm.trainable = rbm not in self.generative
            histories.append(history)
        if self.untied:
            self._untie(labelled=labels is not None)
        self.pretrained.assign(1)
        for backup in backups:
            if backup.delete_checkpoint:
                shutil.rmtree(backup.backup_dir, ignore_errors=True)
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
        return self._one_hot(y, len(x), "y")

    def _one_hot(self, labels, num_samples, name="labels"):
        """Checked class labels as one-hot rows of the top RBM's label units."""
        return np.eye(self.label_units, dtype="float32")[
            validation.check_labels(labels, self.label_units, num_samples, name)
        ]

    def _with_labels(self, features, labels):
        """``[features, one-hot label]``; without labels the label units see the uniform 1/K."""
        if labels is not None:
            return np.concatenate([features, labels], axis=1)

        def uniform(batch):
            return tf.fill((tf.shape(batch)[0], self.label_units), 1.0 / self.label_units)

        if isinstance(features, tf.data.Dataset):
            return features.map(
                lambda batch: tf.concat([batch, tf.cast(uniform(batch), batch.dtype)], axis=1)
            )
        return np.concatenate(
            [
                features,
                np.full((len(features), self.label_units), 1.0 / self.label_units, "float32"),
            ],
            1,
        )

    def _untie(self, labelled):
        """Copies the pretrained weights into the generative model (and, from a top RBM with
        labels, into the recognition path's top RBM)."""
        top = self.generative[-1]
        # Copies (ops.copy): on JAX two variables must not share one buffer.
        for rbm, copy in zip(self.rbms, self.generative):
            if copy is not top or not self.label_units:
                for name in ("kernel", "hidden_bias", "visible_bias"):
                    getattr(copy, name).assign(ops.copy(getattr(rbm, name)))
                if copy is not top:
                    copy.tie()
        if self.label_units:
            width = self.rbms[-1].n_visible
            self.rbms[-1].kernel.assign(ops.copy(top.kernel[:width]))
            self.rbms[-1].hidden_bias.assign(ops.copy(top.hidden_bias))
            self.rbms[-1].visible_bias.assign(ops.copy(top.visible_bias[:width]))
        self.labelled.assign(int(labelled))

    def _layer_input(self, x, below, i, batch_size, trainee):
        """The training data of RBM ``i``: upward means of the RBMs under it."""
        lower = self.rbms[:i]

        def upward(batch):
            for layer in lower:
                batch = layer(batch)
            return batch

        if isinstance(x, tf.data.Dataset):
            return x.map(lambda *batch: upward(batch[0]))
        if isinstance(x, np.memmap):
            return trainee.fit_batches(x, batch_size).map(upward)
        return lower[-1].predict(below, batch_size=max(batch_size, 1024), verbose=0)

    def fit_generative(
        self, x, y=None, epochs=10, batch_size=100, optimizer=None, callbacks=None, verbose="auto"
    ):
        """Fine-tunes the generative model by the up-down algorithm (contrastive wake-sleep).

        Hinton, Osindero & Teh (2006), section 5: each batch goes up the
        recognition weights of the generative model, trains the top RBM
        (with the labels clamped in its positive phase) and comes down from
        the top RBM's negative states; the generative weights learn from the
        way up and the recognition weights from the way down
        (`keras_dbn.up_down.UpDown`). Only `generative` changes, so it runs
        before or after fine-tuning with `fit`, and `generate` and
        `predict_generative` use its result.

        Args:
            x: training data, an array ``(n_samples, n_features)``.
            y: class labels (one integer in ``[0, output_units)`` per row), needed
                by a DBN pretrained with labels and refused by one pretrained without.
            epochs: epochs of up-down.
            batch_size: mini-batch size.
            optimizer: None (SGD, learning rate 0.01, momentum 0.9), or an
                optimizer (instance, name or config). For long runs, decay its
                rate: on MNIST a constant rate left the unconditional chains in
                one or two digits, and 200 epochs at 0.005 decayed by a
                `keras.optimizers.schedules.CosineDecay` to 1% balanced them
                (docs/results.md).
            callbacks: Keras callbacks.
            verbose: Keras verbosity.

        Returns:
            A `keras.callbacks.History` of ``reconstruction_error`` (the data
            against its reconstruction down the generative weights) and the top
            RBM's ``free_energy_gap``.

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
        x = self._check(x, "training data")
        labelled = self.label_units and int(ops.convert_to_numpy(self.labelled))
        if labelled and y is None:
            raise ValueError(
                "This DBN was pretrained with labels: fit_generative needs them too (y)."
            )
        if y is not None and not labelled:
            self._require_labelled("fit_generative")
        rows = (
            self._with_labels(x, self._one_hot(y, len(x), "y") if labelled else None)
            if self.label_units
            else x
        )
        optimizer = (
            keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
            if optimizer is None
            else _fresh_optimizer(optimizer)
        )
        with self.strategy_scope():
            trainer = UpDown(
                self.generative, label_units=self.label_units, dtype=self._policy, name="up_down"
            )
        for layer in self.generative:
            layer.trainable = True
        try:
            trainer.compile(optimizer=optimizer)
            return trainer.fit(
                rows, epochs=epochs, batch_size=batch_size, callbacks=callbacks, verbose=verbose
            )
        finally:
            for layer in self.generative:
                layer.trainable = False

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
        features = self._check(x, "input")
        last = len(self.rbms) - 1 if layer is None else range(len(self.rbms))[layer]
        every = []
        for rbm in self.rbms[: last + 1]:
            features = rbm.predict(features, batch_size=batch_size, verbose=0)
            every.append(features)
        return every if layer is None else features

    def generate(self, num_samples, labels=None, gibbs_steps=1000, mean=True):
        """Samples from the generative model: Gibbs in the top RBM, then one pass down.

        The top RBM's chains run ``gibbs_steps`` steps; their feature units are
        then propagated down through the lower layers' ``p(v | h)``, sampling
        intermediate layers (Hinton, Osindero & Teh, 2006). With ``untied``
        (the default) these are the generative weights, which fine-tuning
        leaves alone.

        With ``labels``, the top RBM's label units are clamped to each sample's
        class and its chains start with every feature unit off: the first
        hidden state comes from the label alone. Without, the label units are
        sampled with the rest and the chains start from ``p(v | h = 0)``.

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
        *below, top = self.generative or self.rbms
        if labels is None:
            v = top.sample(num_samples, gibbs_steps=gibbs_steps, mean=not below and mean)
        else:
            self._require_labelled("generate")
            label_part = self._one_hot(
                labels, validation.check_positive_int(num_samples, "num_samples")
            )
            initial = np.concatenate(
                [
                    np.zeros((len(label_part), top.n_visible - self.label_units), "float32"),
                    label_part,
                ],
                1,
            )
            clamp = np.arange(top.n_visible) >= top.n_visible - self.label_units
            v = top.sample(
                len(initial),
                gibbs_steps=gibbs_steps,
                initial=initial,
                mean=not below and mean,
                clamp=clamp,
            )
        h = v[:, : top.n_visible - self.label_units]
        for rbm in reversed(below):
            h = ops.convert_to_numpy(rbm.sample_visible(h, mean=mean and rbm is below[0]))
        return h

    def _require_labelled(self, purpose):
        if not self.label_units or not int(ops.convert_to_numpy(self.labelled)):
            raise ValueError(
                f"{purpose} with labels needs a DBN pretrained with labels: "
                "dbn.pretrain(x, y=labels)."
            )

    def predict_generative(self, x, batch_size=1024):
        """Classifies by the generative model: the label of lowest free energy in the top RBM.

        Each input goes up the generative model's lower layers (their
        recognition weights: the pretrained ones, or those of `fit_generative`;
        `fit` does not change them); the top RBM then scores
        ``[features, label]`` for every label, and the label whose free energy
        is lowest wins (Hinton, Osindero & Teh, 2006, section 6).

        Args:
            x: data, shape ``(n_samples, n_features)``.
            batch_size: rows per batch.

        Returns:
            An int64 numpy array ``(n_samples,)`` of classes.
        """
        self._require_labelled("predict_generative")
        *below, top = self.generative
        features = self._check(x, "input")
        for rbm in below:
            features = rbm.predict(features, batch_size=batch_size, verbose=0)
        energies = []
        for label in np.eye(self.label_units, dtype="float32"):
            joint = np.concatenate(
                [features, np.broadcast_to(label, (len(features), self.label_units))], axis=1
            )
            energies.append(
                np.concatenate(
                    [
                        ops.convert_to_numpy(top.free_energy(joint[i : i + batch_size]))
                        for i in range(0, len(joint), batch_size)
                    ]
                )
            )
        return np.argmin(np.stack(energies, axis=1), axis=1)

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
            persistent=self.persistent,
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
    if isinstance(x, tf.data.Dataset):
        return x.map(lambda *batch: batch[0])
    return x[: int(len(x) * (1.0 - (validation_split or 0.0)))]


def _per_layer(value, n, name):
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"`{name}` has {len(value)} entries for {n} RBMs.")
        return list(value)
    return [value] * n


def _fresh_optimizer(optimizer):
    """A new optimizer for one RBM (an optimizer can only update the variables it was built for)."""
    if optimizer is None:
        return default_pretrain_optimizer()
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer.__class__.from_config(optimizer.get_config())
    return keras.optimizers.get(optimizer)


_COMPLETED = "completed.weights.h5"


def _fit_resumably(rbm, features, backups_and_dirs, callbacks, **fit_options):
    """Fits one RBM with a ``BackupAndRestore`` of its own in each ``(backup, layer folder)``.

    Marks it completed there.
    """
    backups_and_dirs = list(backups_and_dirs)
    layer_backups = [
        keras.callbacks.BackupAndRestore(
            d, save_freq=b.save_freq, double_checkpoint=b.double_checkpoint, delete_checkpoint=False
        )
        for b, d in backups_and_dirs
    ]
    history = rbm.fit(features, callbacks=callbacks + layer_backups, **fit_options)
    for _, folder in backups_and_dirs:
        _mark_completed(rbm, folder, history)
    return history


def _completed_layer(rbm, layer_dirs):
    """Loads an RBM finished in an earlier, interrupted run; returns its History or None."""
    for folder in layer_dirs:
        if os.path.exists(os.path.join(folder, _COMPLETED)):
            rbm.optimizer.build(rbm.trainable_variables)
            rbm.load_weights(os.path.join(folder, _COMPLETED))
            history = keras.callbacks.History()
            with open(os.path.join(folder, "history.json")) as f:
                history.history = json.load(f)
            history.set_model(rbm)
            return history
    return None


def _mark_completed(rbm, folder, history):
    """Records a finished layer; the weights file, renamed into place last, is the marker."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "history.json"), "w") as f:
        json.dump({k: [float(v) for v in values] for k, values in history.history.items()}, f)
    partial = os.path.join(folder, "partial." + _COMPLETED)
    rbm.save_weights(partial)
    os.replace(partial, os.path.join(folder, _COMPLETED))
