"""The generative model of a DBN (Hinton, Osindero & Teh, 2006) and its up-down training.

Directed lower layers, each with generative weights (``kernel``, ``visible_bias``:
down) and recognition weights (``recognition_kernel``, ``recognition_bias``: up),
under a top RBM, an undirected associative memory over ``[top features, label]``.

`GenerativeModel.fit` trains it by the up-down algorithm (section 5 and appendix B).
Each batch of ``[x, one-hot label]`` rows

1. **goes up** (wake) through the recognition weights, sampling every layer,
   and the generative weights learn to reconstruct each layer from the one
   above it (``G += s_above^T (s_below - p(s_below | s_above))``);
2. trains the top RBM on ``[top features, label]`` by its own rule (CD-k
   started from the wake state, the label clamped in the positive phase and
   free in the negative one, as in the paper; or persistent CD), with its own
   ``cd_k`` (`fit`'s ``top_cd_k`` and ``top_persistent`` set them per call);
3. **goes down** (sleep) from the top RBM's negative-phase states through the
   generative weights, and the recognition weights learn to recover each
   layer from the one below it (``R += d_below^T (d_above - q(d_above | d_below))``).

Both delta rules are the gradients of directed log-likelihoods
(`keras_dbn.units.log_likelihood`), so any optimizer applies them.
"""

import random

import keras
import numpy as np
from keras import ops

from keras_dbn import backend, validation
from keras_dbn import units as units_lib
from keras_dbn.base import UnsupervisedModel, upward_means
from keras_dbn.rbm import RBM


@keras.saving.register_keras_serializable(package="keras_dbn")
class GenerativeModel(UnsupervisedModel):
    """Directed lower layers under a top RBM with optional label units, trained by up-down.

    It reads like a list of its layers, bottom first: ``model[0]`` is the lowest
    directed layer, ``model[-1]`` the top RBM, and ``*below, top = model``
    unpacks them. `fit` trains it on rows ``[x, one-hot label]`` (or ``x`` when
    the top RBM has no label units); `generate` samples from it; `predict_labels`
    and `predict_proba` classify by the top RBM's free energy of each label.
    `from_pretrained` makes one from a greedily pretrained stack of RBMs.

    Args:
        layers: the lower layers (`RBM`s with ``untied=True``, bottom first), then
            the top RBM.
        label_units: number of label units, the last visible units of the top RBM.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> import numpy as np
    >>> from keras_dbn import RBM
    >>> from keras_dbn.generative import GenerativeModel
    >>> x = (np.random.default_rng(0).random((64, 12)) < 0.5).astype("float32")
    >>> rbms = [RBM(8, seed=0), RBM(6, seed=1)]
    >>> _ = rbms[1](rbms[0](x))
    >>> model = GenerativeModel.from_pretrained(rbms)
    >>> model.compile("sgd")
    >>> history = model.fit(x, epochs=1, batch_size=16, verbose=0)
    >>> model.generate(3, gibbs_steps=5).shape
    (3, 12)
    """

    def __init__(self, layers, label_units=0, **kwargs):
        super().__init__(**kwargs)
        *self.lower, self.top = [
            layer if isinstance(layer, RBM) else keras.saving.deserialize_keras_object(layer)
            for layer in layers
        ]
        self.label_units = validation.check_positive_int(label_units, "label_units", minimum=0)
        top_visible = self.top.visible
        self.feature_units = (
            self.lower[0].visible
            if self.lower
            else (top_visible.parts[0][0] if label_units else top_visible)
        )
        self.seed_generator = self.top.seed_generator
        self.shuffle_seed = random.randrange(2**31) if self.top.seed is None else self.top.seed
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_error")
        self.free_energy_gap_tracker = keras.metrics.Mean(name="free_energy_gap")
        if all(layer.built for layer in self.layers_list):
            self.build((None, self.n_features + label_units))

    @classmethod
    def from_pretrained(cls, rbms, label_units=0, **kwargs):
        """The generative model of a stack of built RBMs, bottom first.

        Each RBM below the top gets an untied copy (``generative_<i>``) whose
        generative and recognition weights both start as its weights. The top
        RBM (``top_memory``) is a copy of ``rbms[-1]`` whose visible units are
        ``[features, label]`` when ``label_units`` is set (its label rows then
        start at zero), else ``rbms[-1]``'s weights.

        Args:
            rbms: the pretrained `RBM`s, bottom first, all built.
            label_units: number of label units to join to the top RBM's visible units.
            **kwargs: `keras.Model` arguments of the generative model.
        """
        *below, top = rbms
        lower = [_copy(rbm, f"generative_{i}", untied=True) for i, rbm in enumerate(below)]
        visible = top.visible
        if label_units:
            visible = units_lib.Joint(
                [(visible, top.n_visible), (units_lib.Softmax(label_units), label_units)]
            )
        memory = _copy(top, "top_memory", visible=visible)
        for layer, rbm in zip(lower + [memory], rbms):
            layer.build((None, rbm.n_visible + (label_units if layer is memory else 0)))
            layer.trainable = False  # only `fit` trains it
        model = cls(lower + [memory], label_units=label_units, **kwargs)
        model.copy_from(rbms)
        return model

    def copy_from(self, rbms):
        """Sets each lower layer's weights, both ways, to those of the RBM under it in ``rbms``;
        the top RBM's too, unless it has label units (pretraining trains that one in place)."""
        layers = self.layers_list if not self.label_units else self.lower
        # Copies (ops.copy): on JAX two variables must not share one buffer.
        for layer, rbm in zip(layers, rbms):
            for name in ("kernel", "hidden_bias", "visible_bias"):
                getattr(layer, name).assign(ops.copy(getattr(rbm, name)))
            if layer.untied:
                layer.tie()

    # ------------------------------------------------------------ the layers
    @property
    def layers_list(self):
        """The lower layers, then the top RBM."""
        return self.lower + [self.top]

    def __getitem__(self, index):
        return self.layers_list[index]

    def __len__(self):
        return len(self.lower) + 1

    def __iter__(self):
        return iter(self.layers_list)

    @property
    def n_features(self):
        """Width of the data ``x`` (without the label units)."""
        if self.lower:
            return self.lower[0].n_visible
        return None if self.top.n_visible is None else self.top.n_visible - self.label_units

    @property
    def n_visible(self):
        """Width of a training row ``[x, label]``."""
        return None if self.n_features is None else self.n_features + self.label_units

    @property
    def visible(self):
        """The units of a training row: the data's, then a softmax group of label units."""
        if not self.label_units:
            return self.feature_units
        return units_lib.Joint(
            [
                (self.feature_units, self.n_features),
                (units_lib.Softmax(self.label_units), self.label_units),
            ]
        )

    @property
    def metrics(self):
        return [self.reconstruction_tracker, self.free_energy_gap_tracker]

    def build(self, input_shape):
        width = input_shape[-1] - self.label_units
        for layer in self.lower:
            if not layer.built:
                layer.build((None, width))
            width = layer.units
        if not self.top.built:
            self.top.build((None, width + self.label_units))
        self.built = True

    def call(self, inputs):
        features, labels = self._split(inputs)
        for layer in self.lower:
            features = layer._call_unchecked(features)
        return self.top._call_unchecked(ops.concatenate([features, labels], axis=-1))

    def _split(self, rows):
        width = rows.shape[-1] - self.label_units
        return rows[:, :width], rows[:, width:]

    # -------------------------------------------------------------- up-down
    def fit(self, x=None, y=None, top_cd_k=None, top_persistent=None, **kwargs):
        """Trains every layer by the up-down algorithm on rows ``[x, one-hot label]``.

        See `keras_dbn.base.UnsupervisedModel.fit`; the layers are trainable only
        during the call.

        Args:
            x: training rows ``[x, one-hot label]`` (or ``x`` without label units).
            y: unused.
            top_cd_k: Gibbs steps of the top RBM's negative phase during this
                call, or None for its own `cd_k`. The paper raises it from 3 to
                6 to 10 over its three stages of up-down: call `fit` once per
                stage.
            top_persistent: False runs the top RBM's negative phase as CD-k from
                the wake state (the paper's up-down), True from its persistent
                chains (a top RBM built with ``persistent=True``), None as the
                top RBM is configured.
            **kwargs: `keras_dbn.base.UnsupervisedModel.fit` arguments.

        Neither setting outlives the call: the top RBM's config (and a saved
        file's) keeps its own ``cd_k`` and ``persistent``.
        """
        top = self.top
        settings = {
            "cd_k": top.cd_k
            if top_cd_k is None
            else validation.check_positive_int(top_cd_k, "top_cd_k"),
            "persistent": top.persistent
            if top_persistent is None
            else validation.check_choice(top_persistent, (False, True), "top_persistent"),
        }
        if settings["persistent"] and not hasattr(top, "persistent_chains"):
            raise ValueError(
                "`top_persistent=True` needs a top RBM with persistent chains (persistent=True)."
            )
        return self._fit_with_top(settings, x, y, **kwargs)

    def _fit_with_top(self, settings, x, y, **kwargs):
        """`fit` with the top RBM's ``settings`` (attribute values) in force for the call."""
        saved = {name: getattr(self.top, name) for name in settings}
        changed = settings != saved
        for layer in self:
            layer.trainable = True
        for name, value in settings.items():
            setattr(self.top, name, value)
        if changed:  # the traced steps hold the top RBM's settings
            self.train_function = self.test_function = None
        try:
            return super().fit(x, y, **kwargs)
        finally:
            for layer in self:
                layer.trainable = False
            for name, value in saved.items():
                setattr(self.top, name, value)
            if changed:
                self.train_function = self.test_function = None

    def rule_variables(self):
        """The variables the rule changes: each lower layer's generative and recognition
        weights, then the top RBM's."""
        lower = [
            v
            for layer in self.lower
            for v in (
                layer.kernel,
                layer.visible_bias,
                layer.recognition_kernel,
                layer.recognition_bias,
            )
        ]
        return lower + self.top.rule_variables()

    def rule_gradients(self, batch, update_chains=True):
        """One up-down step on a batch of ``[x, label]`` rows.

        Returns:
            ``(gradients, diagnostics)``: gradients for `rule_variables` (to be
            descended) and a dict with ``reconstruction_error`` (the data against
            its reconstruction down the generative weights from the wake
            states) and the top RBM's ``free_energy_gap``.
        """
        x, labels = self._split(batch)
        wake = [x]  # up: a sample of each layer from the recognition weights
        for layer in self.lower:
            wake.append(layer.hidden.sample(layer.recognition_pre(wake[-1]), layer.seed_generator))
        top_gradients, top_diagnostics, top_model = self.top._contrastive_divergence(
            ops.concatenate([wake[-1], labels], axis=-1), update_chains
        )
        sleep = [self._split(top_model)[0]]  # down from the top RBM's negative states
        for layer in reversed(self.lower):
            pre = layer._visible_pre(sleep[0])
            sleep.insert(
                0,
                layer.visible.mean(pre)
                if layer is self.lower[0]
                else layer.visible.sample(pre, layer.seed_generator),
            )
        # Held fixed, in the variables' dtype (products meet float32 weights under bfloat16).
        wake, sleep = (
            [ops.stop_gradient(ops.cast(s, "float32")) for s in states] for states in (wake, sleep)
        )
        if not self.lower:
            return list(top_gradients), top_diagnostics
        gradients, reconstruction = self._delta_rules(wake, sleep)
        diagnostics = {
            "reconstruction_error": ops.mean(ops.square(wake[0] - reconstruction)),
            "free_energy_gap": top_diagnostics["free_energy_gap"],
        }
        return gradients + list(top_gradients), diagnostics

    def _delta_rules(self, wake, sleep):
        """Gradients of the lower layers' directed log-likelihoods (generative weights on the
        wake states, recognition weights on the sleep states) and the data's reconstruction."""

        def loss(*variables):
            total, reconstruction = 0.0, None
            for i, layer in enumerate(self.lower):
                kernel, visible_bias, recognition_kernel, recognition_bias = variables[
                    4 * i : 4 * i + 4
                ]
                generative_pre = ops.matmul(wake[i + 1], ops.transpose(kernel)) + visible_bias
                recognition_pre = ops.matmul(sleep[i], recognition_kernel) + recognition_bias
                total -= ops.mean(units_lib.log_likelihood(layer.visible, wake[i], generative_pre))
                total -= ops.mean(
                    units_lib.log_likelihood(layer.hidden, sleep[i + 1], recognition_pre)
                )
                if i == 0:
                    reconstruction = layer.visible.mean(generative_pre)
            return total, reconstruction

        variables = self.rule_variables()[: 4 * len(self.lower)]
        _, reconstruction, gradients = backend.value_and_gradients(loss, variables)
        replicas = backend.num_replicas()  # the optimizer sums replicas' gradients
        return [g / replicas for g in gradients], reconstruction

    # ------------------------------------------------------------ sampling
    def generate(self, num_samples, labels=None, gibbs_steps=1000, mean=True):
        """Samples: Gibbs in the top RBM, then one pass down the generative weights.

        The top RBM's chains run ``gibbs_steps`` steps; their feature units are
        then propagated down through the lower layers' ``p(v | h)``, sampling
        intermediate layers. With ``labels``, the label units are clamped to each
        sample's class and the chains start with every feature unit off: the
        first hidden state comes from the label alone. Without, the label units
        are sampled with the rest and the chains start from ``p(v | h = 0)``.

        Args:
            num_samples: number of samples.
            labels: optional classes, one integer in ``[0, label_units)`` per sample.
            gibbs_steps: Gibbs steps in the top RBM.
            mean: return ``E[v | h]`` of the bottom layer (True) or a sample.

        Returns:
            A numpy array ``(num_samples, n_features)``.
        """
        num_samples = validation.check_positive_int(num_samples, "num_samples")
        top, below = self.top, self.lower
        if labels is None:
            v = top.sample(num_samples, gibbs_steps=gibbs_steps, mean=not below and mean)
        else:
            label_part = self.one_hot(labels, num_samples)
            features = top.n_visible - self.label_units
            initial = np.concatenate(
                [np.zeros((num_samples, features), "float32"), label_part], axis=1
            )
            v = top.sample(
                num_samples,
                gibbs_steps=gibbs_steps,
                initial=initial,
                mean=not below and mean,
                clamp=np.arange(top.n_visible) >= features,
            )
        h = v[:, : top.n_visible - self.label_units]
        for layer in reversed(below):
            h = ops.convert_to_numpy(layer.sample_visible(h, mean=mean and layer is below[0]))
        return h

    def one_hot(self, labels, num_samples, name="labels"):
        """Checked class labels as one-hot rows of the label units."""
        if not self.label_units:
            raise ValueError(f"`{name}` need a top RBM with label units (label_units >= 2).")
        return np.eye(self.label_units, dtype="float32")[
            validation.check_labels(labels, self.label_units, num_samples, name)
        ]

    # -------------------------------------------------------- classification
    def predict_labels(self, x, batch_size=1024):
        """The label whose ``[features, label]`` has the lowest free energy in the top RBM.

        Each row goes up the lower layers' recognition weights; the top RBM then
        scores every label (Hinton, Osindero & Teh, 2006, section 6).

        Returns:
            An int64 numpy array ``(n_samples,)`` of classes.
        """
        return np.argmin(self.label_free_energies(x, batch_size), axis=1)

    def predict_proba(self, x, batch_size=1024):
        """Label probabilities ``softmax(-F(features, label))`` over the labels.

        Returns:
            A float32 numpy array ``(n_samples, label_units)`` whose rows sum to 1.
        """
        energies = self.label_free_energies(x, batch_size)
        return ops.convert_to_numpy(ops.softmax(-ops.convert_to_tensor(energies), axis=-1))

    def label_free_energies(self, x, batch_size=1024):
        """The top RBM's free energy of ``[features, label]`` for each row and label.

        Returns:
            A numpy array ``(n_samples, label_units)``.
        """
        if not self.label_units:
            raise ValueError("Classifying needs a top RBM with label units (label_units >= 2).")
        features = validation.check_array(x, self.feature_units, self.n_features, "input")
        features = upward_means(self.lower, features, batch_size)[-1] if self.lower else features
        energies = [
            np.concatenate(
                [
                    ops.convert_to_numpy(self.top.free_energy(rows[i : i + batch_size]))
                    for i in range(0, len(rows), batch_size)
                ]
            )
            for rows in (
                np.concatenate([features, np.broadcast_to(label, (len(features), len(label)))], 1)
                for label in np.eye(self.label_units, dtype="float32")
            )
        ]
        return np.stack(energies, axis=1)

    def get_config(self):
        config = super().get_config()
        config.update(
            layers=[keras.saving.serialize_keras_object(layer) for layer in self],
            label_units=self.label_units,
        )
        return config


class ValidationError(keras.callbacks.Callback):
    """Logs ``val_generative_error`` at the end of each epoch of a `GenerativeModel`'s `fit`.

    The share of ``x`` that `GenerativeModel.predict_labels` (the free-energy
    classifier) gets wrong, written into the epoch's logs, so callbacks after
    it in the list (`keras.callbacks.EarlyStopping` with
    ``restore_best_weights=True``, `keras.callbacks.ModelCheckpoint`, the
    History) can monitor it.

    Args:
        x: validation data ``(n_samples, n_features)``.
        labels: its classes, one integer per row.
    """

    def __init__(self, x, labels):
        super().__init__()
        self.x, self.labels = x, np.asarray(labels)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            predicted = self.model.predict_labels(self.x)
            logs["val_generative_error"] = float(np.mean(predicted != self.labels))


def with_labels(features, labels, label_units):
    """``[features, labels]`` rows for a top RBM with ``label_units`` label units.

    ``labels`` are one-hot rows (`GenerativeModel.one_hot`), or None: then the
    label units see the uniform ``1 / label_units``. ``features`` is an array, or
    (without labels) a dataset of batches (TensorFlow only).
    """
    if labels is not None:
        return np.concatenate([features, labels], axis=1)
    if validation.is_tf_dataset(features):
        import tensorflow as tf

        def joined(batch):
            uniform = tf.fill((tf.shape(batch)[0], label_units), 1.0 / label_units)
            return tf.concat([batch, tf.cast(uniform, batch.dtype)], axis=1)

        return features.map(joined)
    uniform = np.full((len(features), label_units), 1.0 / label_units, "float32")
    return np.concatenate([features, uniform], axis=1)


def _copy(rbm, name, **changes):
    """A new RBM configured as ``rbm`` but for ``changes``, not persistent unless it was."""
    arguments = {**rbm.constructor_arguments(), "name": name, **changes}
    if changes.get("untied"):
        arguments.update(persistent=False, num_chains=None)
    return RBM(**arguments)
