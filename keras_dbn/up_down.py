"""The up-down algorithm: contrastive wake-sleep fine-tuning of a DBN's generative model.

Hinton, Osindero & Teh (2006), section 5 and appendix B. Once pretraining has
untied the recognition and generative weights of the lower layers, each batch

1. **goes up** (wake) through the recognition weights, sampling every layer,
   and the generative weights learn to reconstruct each layer from the one
   above it (``G += s_above^T (s_below - p(s_below | s_above))``);
2. trains the top RBM on ``[top features, label]`` by its own rule (CD or
   persistent CD, with the label units free in the negative phase);
3. **goes down** (sleep) from the top RBM's negative-phase states through the
   generative weights, and the recognition weights learn to recover each
   layer from the one below it (``R += d_below^T (d_above - q(d_above | d_below))``).

Both delta rules are the gradients of directed log-likelihoods
(`keras_dbn.units.log_likelihood`), so any optimizer applies them.
"""

import random

import keras
from keras import ops

from keras_dbn import backend
from keras_dbn import units as units_lib
from keras_dbn.base import UnsupervisedModel


class UpDown(UnsupervisedModel):
    """Trains a generative model (directed lower layers under a top RBM) by the up-down algorithm.

    `keras_dbn.DBN.fit_generative` builds one over the DBN's `generative`
    model; the layers it is given are trained in place. Its training rows are
    ``[x, one-hot label]`` (or ``x`` when the top RBM has no label units).

    Args:
        layers: the lower layers (`RBM`s with ``untied=True``, bottom first), then
            the top RBM, all built.
        label_units: number of label units, the last visible units of the top RBM.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> import numpy as np, keras
    >>> from keras_dbn import DBN
    >>> from keras_dbn.up_down import UpDown
    >>> x = (np.random.default_rng(0).random((64, 12)) < 0.5).astype("float32")
    >>> y = np.arange(64) % 2
    >>> dbn = DBN([8, 6], output_units=2, seed=0)
    >>> _ = dbn.pretrain(x, y=y, epochs=1, batch_size=16, verbose=0)
    >>> trainer = UpDown(dbn.generative, label_units=2)
    >>> rows = np.concatenate([x, np.eye(2, dtype="float32")[y]], axis=1)
    >>> gradients, diagnostics = trainer.contrastive_divergence(keras.ops.convert_to_tensor(rows))
    >>> # 4 for the lower layer, 3 for the top RBM
    >>> len(gradients) == len(trainer.rule_variables()) == 7
    True
    """

    def __init__(self, layers, label_units=0, **kwargs):
        super().__init__(**kwargs)
        *self.lower, self.top = layers
        self.label_units = label_units
        bottom = self.lower[0] if self.lower else self.top
        width = bottom.n_visible - (0 if self.lower else label_units)
        self.visible = (
            bottom.visible
            if not label_units or not self.lower
            else units_lib.Joint(
                [(bottom.visible, width), (units_lib.Softmax(label_units), label_units)]
            )
        )
        self._n_visible = width + label_units
        self.seed_generator = self.top.seed_generator
        self.shuffle_seed = random.randrange(2**31) if self.top.seed is None else self.top.seed
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_error")
        self.free_energy_gap_tracker = keras.metrics.Mean(name="free_energy_gap")
        self.built = True

    @property
    def n_visible(self):
        return self._n_visible

    @property
    def metrics(self):
        return [self.reconstruction_tracker, self.free_energy_gap_tracker]

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
        return lower + [self.top.kernel, self.top.hidden_bias, self.top.visible_bias]

    def contrastive_divergence(self, batch, update_chains=True):
        """One up-down step on a batch of ``[x, label]`` rows.

        Returns:
            ``(gradients, diagnostics)``: gradients for `rule_variables` (to be
            descended) and a dict with ``reconstruction_error`` (the data against
            its reconstruction down the generative weights from the wake
            states) and the top RBM's ``free_energy_gap``.
        """
        features = batch.shape[-1] - self.label_units
        x, labels = batch[:, :features], batch[:, features:]
        wake = [x]  # up: a sample of each layer from the recognition weights
        for layer in self.lower:
            wake.append(layer.hidden.sample(layer.recognition_pre(wake[-1]), layer.seed_generator))
        top_data = ops.concatenate([wake[-1], labels], axis=-1)
        top_gradients, top_diagnostics, top_model = self.top._contrastive_divergence(
            top_data, update_chains
        )
        sleep = [
            top_model[:, : top_model.shape[-1] - self.label_units]
        ]  # down from the top RBM's negative states
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

        variables = self.rule_variables()[: 4 * len(self.lower)]  # the top RBM's rule gave its own
        if self.lower:
            _, reconstruction, gradients = backend.value_and_gradients(loss, variables)
            replicas = backend.num_replicas()  # the optimizer sums replicas' gradients
            gradients = [g / replicas for g in gradients]
            error = ops.mean(ops.square(wake[0] - reconstruction))
        else:
            gradients, error = [], top_diagnostics["reconstruction_error"]
        diagnostics = {
            "reconstruction_error": error,
            "free_energy_gap": top_diagnostics["free_energy_gap"],
        }
        return gradients + list(top_gradients), diagnostics
