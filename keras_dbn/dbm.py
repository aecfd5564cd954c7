"""The Deep Boltzmann Machine: an undirected stack whose hidden layers are inferred jointly.

Salakhutdinov & Hinton, "Deep Boltzmann Machines" (AISTATS 2009) and "An Efficient
Learning Procedure for Deep Boltzmann Machines" (Neural Computation 2012). Layers
``x_0 = v, x_1, ..., x_L`` (bottom first) have the energy

    E(x) = E_0(v; b_0) - sum_(l>=1) b_l.x_l - sum_(l>=1) x_(l-1) W_l x_l

(``E_0`` the visible units' own term, ``-b_0.v`` for Bernoulli units). Unlike a DBN
every connection is undirected, so the posterior over the hidden layers couples
them all, each layer's units depending on the layers above and below it. It is
approximated by a factorial distribution ``q(h | v)`` whose means are found by
`mean_field`; learning (`DBM.fit_generative`) maximises the variational lower
bound that ``q`` gives (`keras_dbn.evaluation.elbo`).
"""

import random

import keras
import numpy as np
from keras import ops

from keras_dbn import backend, pretraining, validation
from keras_dbn import units as units_lib
from keras_dbn.base import (
    CheckedModel,
    ReplicaSeedGenerator,
    SavesSeedState,
    UnsupervisedModel,
    upward_means,
)
from keras_dbn.rbm import RBM

# Rows per batch of `DBM.posterior`.
_POSTERIOR_BATCH = 1024
# Gibbs steps written out in a training step before a compiled loop replaces them.
_UNROLLED_GIBBS_STEPS = 5


def default_optimizer():
    """Salakhutdinov's recipe: SGD at rate 0.001 with momentum 0.9 and weight decay on the
    kernels (not the biases).

    His code adds ``0.0002 W`` to each kernel's gradient, inside the momentum;
    Keras' ``weight_decay`` shrinks the weights outside it, so the same steady
    decay is ``0.0002 / (1 - 0.9) = 0.002`` there.
    """
    optimizer = keras.optimizers.SGD(learning_rate=0.001, momentum=0.9, weight_decay=0.002)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    return optimizer


# ------------------------------------------------------------------- the math
def energy(units, states, kernels, biases):
    """``E(x_0, ..., x_L)`` of each row: every layer's own term minus each pair's ``x W x``.

    For a factorial ``q`` over Bernoulli hidden units the energy is linear in each
    layer, so ``E_q[E(v, h)]`` is this energy at the means of ``q``.

    Args:
        units: each layer's unit type, visible first.
        states: each layer's states (or means), ``(batch, n_l)``, visible first.
        kernels: ``W_1 .. W_L``, ``W_l`` of shape ``(n_(l-1), n_l)``.
        biases: ``b_0 .. b_L``.

    Returns:
        A tensor ``(batch,)``.
    """
    total = sum(unit.energy(x, b) for unit, x, b in zip(units, states, biases))
    for below, above, kernel in zip(states, states[1:], kernels):
        total -= ops.sum(backend.matmul(below, kernel) * above, axis=-1)
    return total


def _layer_pre(i, states, kernels, biases):
    """Total input of layer ``i`` from its neighbours: ``x_(i-1) W_i + x_(i+1) W_(i+1)^T + b_i``."""
    pre = biases[i]
    if i > 0:
        pre = pre + backend.matmul(states[i - 1], kernels[i - 1])
    if i < len(kernels):
        pre = pre + backend.matmul(states[i + 1], ops.transpose(kernels[i]))
    return pre


def mean_field(units, v, kernels, biases, steps):
    """The means of the factorial posterior ``q(h | v)``, by fixed-point updates.

    It starts with one bottom-up pass in which each middle layer gets twice its
    input from below (standing in for the input from above that it does not have
    yet: the doubled weights of pretraining) and the top layer once. Each of the
    ``steps`` updates then sets every hidden layer, bottom to top, to the mean of
    its units given the current means of the layers below and above it,
    ``mu_l = E[x_l | mu_(l-1) W_l + mu_(l+1) W_(l+1)^T + b_l]``, using the layer
    below's mean of this same update (Salakhutdinov's order). Each such update
    raises the variational bound.

    Args:
        units: each layer's unit type, visible first (hidden layers Bernoulli).
        v: visible data ``(batch, n_0)``.
        kernels: ``W_1 .. W_L``.
        biases: ``b_0 .. b_L``.
        steps: number of updates (>= 0).

    Returns:
        A list of the hidden layers' means, bottom first.
    """
    depth = len(kernels)
    states = [v]
    for i, kernel in enumerate(kernels, start=1):
        factor = 2.0 if i < depth else 1.0
        states.append(units[i].mean(factor * backend.matmul(states[-1], kernel) + biases[i]))
    for _ in range(steps):
        for i in range(1, depth + 1):
            states[i] = units[i].mean(_layer_pre(i, states, kernels, biases))
    return states[1:]


def gibbs_sweep(units, states, kernels, biases, seed):
    """One step of block Gibbs: the odd layers given the even ones, then the even layers.

    The layers of each parity are conditionally independent given the others, so
    each half is one exact draw. Returns the new states, visible first.
    """
    states = list(states)
    for parity in (1, 0):
        for i in range(parity, len(states), 2):
            states[i] = units[i].sample(_layer_pre(i, states, kernels, biases), seed)
    return states


@keras.saving.register_keras_serializable(package="keras_dbn")
class DBM(SavesSeedState, CheckedModel):
    """A Deep Boltzmann Machine with an optional classifier, bottom layer first.

    Its weights are `kernels` (``W_l`` between layers ``l-1`` and ``l``, bottom
    first) and `biases` (one per layer, the visible layer's first); the energy is
    ``E = E_0(v; b_0) - sum_l b_l.x_l - sum_l x_(l-1) W_l x_l`` (module docstring).
    Train it in up to three stages:

    1. `pretrain`: greedy layer-wise RBMs, modified so that their composed
       weights suit a DBM;
    2. `fit_generative`: the DBM learning procedure, a mean-field posterior for
       the data statistics and persistent chains for the model's;
    3. with ``output_units``, ``compile`` / ``fit(x, y)``: discriminative
       fine-tuning of a classifier initialised from the DBM (``call``).

    Calling the DBM returns the mean-field posterior of the top hidden layer (so
    it composes in the functional API, as a fixed feature extractor: the
    generative weights are not trainable by another model's `fit`), or the class
    probabilities of the classifier when ``output_units`` is set. `posterior`
    gives every hidden layer's means and `generate` samples the model;
    `keras_dbn.evaluation` measures it (`exact_log_partition`,
    `ais_log_partition`, `elbo`).

    Args:
        hidden_units: hidden layer sizes, bottom first.
        output_units: number of classes of the classifier, or None.
        visible: unit type of the visible layer (``"bernoulli"`` for data in
            [0, 1], ``"gaussian"`` for standardised data...; `keras_dbn.units`).
        hidden: unit type of the hidden layers: ``"bernoulli"`` (the only type
            whose mean-field posterior and ``E_q[E]`` this class computes).
        mean_field_steps: fixed-point updates of `mean_field` per posterior (>= 0).
        gibbs_steps: block-Gibbs steps the persistent chains advance per update.
        num_chains: number of persistent chains ("fantasy particles").
        seed: seed of the sampler, of the chains' start, of the shuffle and of
            the kernels' initializer.
        **kwargs: `keras.Model` arguments (``name``, ``dtype``...).

    Example:

    >>> import numpy as np
    >>> from keras_dbn import DBM
    >>> x = (np.random.default_rng(0).random((64, 12)) < 0.5).astype("float32")
    >>> dbm = DBM([8, 4], num_chains=16, seed=0)
    >>> history = dbm.fit_generative(x, epochs=2, batch_size=16, verbose=0)
    >>> sorted(history.history)
    ['reconstruction_error']
    >>> [m.shape for m in dbm.posterior(x)]
    [(64, 8), (64, 4)]
    >>> dbm.generate(3, gibbs_steps=10).shape
    (3, 12)
    """

    def __init__(
        self,
        hidden_units=(500, 1000),
        output_units=None,
        visible="bernoulli",
        hidden="bernoulli",
        mean_field_steps=10,
        gibbs_steps=5,
        num_chains=100,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_units = validation.check_sizes(hidden_units, "hidden_units")
        self.output_units = (
            None
            if output_units is None
            else validation.check_positive_int(output_units, "output_units", minimum=2)
        )
        self.visible = units_lib.get(visible)
        self.hidden = units_lib.get(hidden)
        if type(self.hidden) is not units_lib.Bernoulli:
            raise ValueError(
                f"A DBM's hidden units must be Bernoulli, got {self.hidden}: its mean-field "
                "posterior and variational bound are written for binary hidden units."
            )
        self.mean_field_steps = validation.check_positive_int(
            mean_field_steps, "mean_field_steps", minimum=0
        )
        self.gibbs_steps = validation.check_positive_int(gibbs_steps, "gibbs_steps")
        self.num_chains = validation.check_positive_int(num_chains, "num_chains")
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed, name="seed_generator")
        self.shuffle_seed = seed if seed is not None else random.randrange(2**31)
        self.head = None
        if self.output_units is not None:
            self.head = keras.layers.Dense(
                self.output_units, activation="softmax", dtype=kwargs.get("dtype"), name="head"
            )

    @property
    def units(self):
        """Each layer's unit type, visible first."""
        return [self.visible] + [self.hidden] * len(self.hidden_units)

    @property
    def n_visible(self):
        """Number of visible units (None before the DBM is built)."""
        return self.kernels[0].shape[0] if self.built else None

    def build(self, input_shape):
        widths = [input_shape[-1]] + self.hidden_units
        if widths[0] is None:
            raise ValueError("The DBM needs a known feature count to build.")
        rng = np.random.default_rng(self.seed)
        with self.strategy_scope():
            # The generative model: trained by `pretrain` and `fit_generative` only
            # (trainable during them), so another model's `fit` leaves it alone.
            self.kernels = [
                self.add_weight(
                    name=f"kernel_{i}",
                    shape=(widths[i - 1], widths[i]),
                    initializer=keras.initializers.RandomNormal(
                        stddev=0.01, seed=None if self.seed is None else self.seed + i
                    ),
                    trainable=False,
                )
                for i in range(1, len(widths))
            ]
            self.biases = [
                self.add_weight(name=f"bias_{i}", shape=(n,), initializer="zeros", trainable=False)
                for i, n in enumerate(widths)
            ]
            # Persistent chains, one state per layer, starting as coin flips; one set
            # per replica under tf.distribute (saving keeps the first replica's).
            self.chains = [
                keras.Variable(
                    initializer=(rng.random((self.num_chains, n)) < 0.5).astype("float32"),
                    dtype=self.variable_dtype,
                    trainable=False,
                    synchronization="on_read",
                    aggregation="only_first_replica",
                    name=f"chain_{i}",
                )
                for i, n in enumerate(widths)
            ]
            if self.head is not None:
                self._build_classifier(widths)
        self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: widths[0]})

    def _build_classifier(self, widths):
        """The fine-tuned network's own weights: from below into each hidden layer, from
        ``q(h_2 | v)`` into the first, each layer's bias, and the softmax head."""
        self.classifier_kernels = [
            self.add_weight(
                name=f"classifier_kernel_{i}", shape=(widths[i - 1], widths[i]), initializer="zeros"
            )
            for i in range(1, len(widths))
        ]
        self.classifier_feedback = (
            self.add_weight(
                name="classifier_feedback", shape=(widths[2], widths[1]), initializer="zeros"
            )
            if len(widths) > 2
            else None
        )
        self.classifier_biases = [
            self.add_weight(name=f"classifier_bias_{i}", shape=(n,), initializer="zeros")
            for i, n in enumerate(widths[1:], start=1)
        ]
        self.head.build((None, widths[-1]))
        # 1 while the classifier's weights are not yet copied from the generative model's.
        self.classifier_stale = self.add_weight(
            name="classifier_stale", shape=(), initializer="ones", dtype="int32", trainable=False
        )

    def _generative_weights(self, dtype=None):
        """``(kernels, biases)`` as tensors of ``dtype`` (the compute dtype by default),
        held fixed."""
        cast = lambda w: ops.cast(ops.stop_gradient(w), dtype or self.compute_dtype)  # noqa: E731
        return [cast(w) for w in self.kernels], [cast(b) for b in self.biases]

    def _mean_field(self, v):
        kernels, biases = self._generative_weights()
        v = ops.cast(v, self.compute_dtype)
        return mean_field(self.units, v, kernels, biases, self.mean_field_steps)

    def call(self, inputs):
        means = self._mean_field(inputs)
        if self.head is None:
            return means[-1]
        return self.head(self._classifier_features(ops.cast(inputs, self.compute_dtype), means))

    def _classifier_features(self, v, means):
        """The fine-tuned network's top hidden layer from ``[v, q(h_2 | v)]`` (Salakhutdinov &
        Hinton, 2009, figure 3): the first hidden layer gets ``v K_1 + q(h_2) F + c_1``."""
        x = v
        for i, (kernel, bias) in enumerate(zip(self.classifier_kernels, self.classifier_biases)):
            pre = ops.matmul(x, kernel) + bias
            if i == 0 and self.classifier_feedback is not None:
                pre = pre + ops.matmul(means[1], self.classifier_feedback)
            x = self.hidden.mean(pre)
        return x

    # ------------------------------------------------------------- inference
    def posterior(self, x, batch_size=_POSTERIOR_BATCH):
        """The mean-field posterior ``q(h | v)`` of each row: every hidden layer's means.

        Args:
            x: visible data ``(n_samples, n_visible)``.
            batch_size: rows per batch.

        Returns:
            A list of numpy arrays ``(n_samples, hidden_units[l])``, bottom first.
        """
        x = self._check_and_build(x, "input")
        if not hasattr(self, "_posterior_fn"):
            self._posterior_fn = backend.compiled(self._mean_field, self.variables)
        batches = [
            [ops.convert_to_numpy(m) for m in self._posterior_fn(ops.convert_to_tensor(chunk))]
            for chunk in np.array_split(x, max(1, -(-len(x) // batch_size)))
        ]
        return [np.concatenate(layer) for layer in zip(*batches)]

    def generate(self, num_samples, gibbs_steps=1000):
        """Samples the model: block Gibbs from the persistent chains' states.

        Chain ``i`` starts from persistent chain ``i mod num_chains`` (which it
        leaves where it is) and runs ``gibbs_steps`` steps.

        Args:
            num_samples: number of samples.
            gibbs_steps: block-Gibbs steps per sample.

        Returns:
            The visible means ``E[v | h_1]`` of the last step, a numpy array
            ``(num_samples, n_visible)``.
        """
        if not self.built:
            raise ValueError("Build or train the DBM before generating from it.")
        num_samples = validation.check_positive_int(num_samples, "num_samples")
        steps = validation.check_positive_int(gibbs_steps, "gibbs_steps")
        rows = ops.convert_to_tensor(np.arange(num_samples) % self.num_chains)
        if not hasattr(self, "_generate_fn"):
            self._generate_fn = backend.compiled(
                self._generate, self.variables, static_argnums=(1,)
            )
        return ops.convert_to_numpy(self._generate_fn(rows, steps))

    def _generate(self, rows, steps):
        kernels, biases = self._generative_weights()
        states = [ops.take(ops.cast(c, self.compute_dtype), rows, axis=0) for c in self.chains]
        states = self._gibbs(states, steps, kernels, biases)
        return self.visible.mean(_layer_pre(0, states, kernels, biases))

    def _gibbs(self, states, steps, kernels, biases):
        """``steps`` sweeps of `gibbs_sweep`; long runs as one compiled loop."""
        sweep = lambda s: gibbs_sweep(self.units, s, kernels, biases, self.seed_generator)  # noqa: E731
        if steps <= _UNROLLED_GIBBS_STEPS:
            for _ in range(steps):
                states = sweep(states)
            return states
        return list(
            backend.fori_loop(
                0,
                steps,
                lambda i, s: tuple(sweep(list(s))),
                tuple(states),
                [self.seed_generator.state],
            )
        )

    # ------------------------------------------------------------- training
    def pretrain(
        self, x, epochs=10, batch_size=100, optimizer=None, callbacks=None, verbose="auto"
    ):
        """Greedy layer-wise pretraining by RBMs whose composed weights suit a DBM.

        Salakhutdinov & Hinton (2009, section 3.1; 2012, section 4): in the
        DBM each middle layer gets input from below and from above, so the
        RBMs count the missing half twice. RBM ``l`` (hidden layer ``l``, fit
        by `RBM`'s contrastive divergence on the layer below's upward means,
        through `keras_dbn.pretraining.pretrain_greedily`) is

        * the bottom one: two tied copies of the visible layer, i.e. visible
          ``Binomial(2)`` units fit on ``2x``: ``p(h_1 | v) = sigma(2 v K + c)``,
          ``p(v | h_1) = sigma(h_1 K^T + a)``; composed ``W_1 = K``, ``b_0 = a``;
        * a middle one: a plain RBM whose kernel stands for both directions'
          doubled weights; composed ``W_l = K / 2``;
        * the top one: two tied copies of its hidden layer, hidden
          ``Binomial(2)`` units: ``p(h_(L-1) | h_L) = sigma(2 h_L K^T + a)``;
          composed ``W_L = K``.

        Each hidden layer's bias is the hidden bias of the RBM under it (the
        upper RBMs' visible biases are dropped). The upward means each RBM
        passes on (``sigma(2 v K + c)``, ``sigma(h K + c)``) are `mean_field`'s
        starting pass. A DBM with one hidden layer is an RBM and is pretrained
        as one. The persistent chains then start at training rows and their
        mean-field posteriors, and a classifier is copied anew at the next `fit`.

        Args:
            x: training data, an array ``(n_samples, n_visible)`` (Bernoulli
                visible units when there are two hidden layers or more).
            epochs: epochs per RBM (an int, or one per RBM).
            batch_size: mini-batch size.
            optimizer: None (`keras_dbn.pretraining.default_optimizer`), an
                optimizer (instance, name or config) copied for each RBM, or a
                list with one per RBM.
            callbacks: Keras callbacks passed to each RBM's `fit` (a
                `keras.callbacks.BackupAndRestore` makes pretraining resumable
                per layer).
            verbose: Keras verbosity.

        Returns:
            The list of `keras.callbacks.History` objects, one per RBM.
        """
        x = self._check_and_build(x, "training data")
        depth = len(self.hidden_units)
        if depth > 1 and self.visible != units_lib.Bernoulli():
            raise ValueError(
                "Pretraining a DBM doubles its visible layer, written for Bernoulli visible "
                f"units; this DBM has {self.visible}. Train it with fit_generative alone."
            )
        optimizers = [
            pretraining.fresh_optimizer(o)
            for o in pretraining.per_layer(optimizer, depth, "optimizer")
        ]
        rbms = self._pretraining_rbms()
        inputs = [2.0 * x if depth > 1 else x]

        def layer_input(i):
            if i > 0:
                inputs.append(upward_means(rbms[i - 1 : i], inputs[-1], max(batch_size, 1024))[0])
            return inputs[i]

        histories = pretraining.pretrain_greedily(
            rbms,
            layer_input,
            epochs,
            optimizers,
            batch_size=batch_size,
            callbacks=callbacks,
            verbose=verbose,
        )
        self._compose(rbms)
        self._start_chains(x)
        self._mark_classifier_stale()
        return histories

    def _pretraining_rbms(self):
        """The RBMs of `pretrain`, built: ``Binomial(2)`` visible units at the bottom and
        hidden units at the top (no doubling with one hidden layer)."""
        depth, widths = len(self.hidden_units), [self.n_visible] + self.hidden_units
        doubled = units_lib.Binomial(2)
        rbms = []
        for i in range(1, depth + 1):
            rbm = RBM(
                widths[i],
                visible=doubled
                if i == 1 and depth > 1
                else self.visible
                if i == 1
                else "bernoulli",
                hidden=doubled if i == depth and depth > 1 else "bernoulli",
                seed=None if self.seed is None else self.seed + i,
                name=f"{self.name}_rbm_{i}",
            )
            rbm.build((None, widths[i - 1]))
            rbms.append(rbm)
        return rbms

    def _compose(self, rbms):
        """The DBM's weights from the pretrained RBMs (`pretrain`'s factors)."""
        depth = len(rbms)
        for i, rbm in enumerate(rbms, start=1):
            halved = 1 < i < depth
            self.kernels[i - 1].assign(ops.copy(rbm.kernel) * (0.5 if halved else 1.0))
            self.biases[i].assign(ops.copy(rbm.hidden_bias))
        self.biases[0].assign(ops.copy(rbms[0].visible_bias))

    def _start_chains(self, x):
        """Starts the persistent chains at rows of ``x`` and their mean-field posteriors."""
        rows = np.random.default_rng(self.shuffle_seed).integers(0, len(x), self.num_chains)
        start = np.asarray(x[np.sort(rows)], "float32")
        for chain, state in zip(self.chains, [start] + self.posterior(start)):
            chain.assign(state)

    def fit_generative(
        self,
        x,
        epochs=10,
        batch_size=100,
        optimizer=None,
        callbacks=None,
        verbose="auto",
        validation_data=None,
    ):
        """The DBM learning procedure (Salakhutdinov & Hinton, 2009, section 3).

        For each batch, the data statistics come from the mean-field posterior
        ``q(h | v)`` (`mean_field`, ``mean_field_steps`` updates) and the model
        statistics from the persistent chains advanced ``gibbs_steps`` steps of
        block Gibbs (`gibbs_sweep`); the optimizer descends the gradient of
        ``mean E(v, q) - mean E(chains)``, the states held fixed, i.e. follows
        ``<x_(l-1) x_l^T>_data - <x_(l-1) x_l^T>_model`` for each kernel: the
        gradient of the variational bound's data term plus a stochastic
        approximation of ``-log Z``'s. Only `kernels` and `biases` change (a
        classifier is copied from them again at the next `fit`).

        Keras runs it (`VariationalLearning`): any optimizer and schedule,
        callbacks, `keras_dbn.DivergenceGuard`, ``validation_data`` and an exact
        resume with `keras.callbacks.BackupAndRestore` (chains, optimizer and
        sampler state) apply.

        Args:
            x: training data, an array ``(n_samples, n_visible)``.
            epochs: passes over the data.
            batch_size: mini-batch size.
            optimizer: None (`default_optimizer`; the papers decay the rate
                towards 0 over the run: pass a schedule), or an optimizer
                (instance, name or config).
            callbacks: Keras callbacks.
            verbose: Keras verbosity.
            validation_data: data whose ``reconstruction_error`` is reported
                after each epoch (chains do not advance).

        Returns:
            A `keras.callbacks.History` of ``reconstruction_error``: the data
            against ``E[v | q(h_1)]``.
        """
        x = self._check_and_build(x, "training data")
        optimizer = pretraining.fresh_optimizer(optimizer, default=default_optimizer)
        with self.strategy_scope():
            trainer = VariationalLearning(self, dtype=self.dtype_policy, name="variational")
        self._set_generative_trainable(True)
        try:
            trainer.compile(optimizer=optimizer)
            return trainer.fit(
                x,
                epochs=epochs,
                batch_size=batch_size,
                callbacks=callbacks,
                verbose=verbose,
                validation_data=validation_data,
            )
        finally:
            self._set_generative_trainable(False)
            self._mark_classifier_stale()

    def _set_generative_trainable(self, trainable):
        for variable in self.kernels + self.biases:
            variable.trainable = trainable

    def _mark_classifier_stale(self):
        if self.head is not None:
            self.classifier_stale.assign(1)

    def _copy_to_classifier(self):
        """Initialises the classifier from the generative weights: ``K_l = W_l``,
        ``F = W_2^T`` and ``c_l = b_l``."""
        for target, source in zip(self.classifier_kernels, self.kernels):
            target.assign(ops.copy(source))
        if self.classifier_feedback is not None:
            self.classifier_feedback.assign(ops.transpose(self.kernels[1]))
        for target, source in zip(self.classifier_biases, self.biases[1:]):
            target.assign(ops.copy(source))
        self.classifier_stale.assign(0)

    def fit(self, x=None, y=None, **kwargs):
        """Fine-tunes the classifier with labels by backpropagation; see `keras.Model.fit`.

        The network is Salakhutdinov & Hinton's (2009, figure 3): the input
        ``v`` and the top-down message ``q(h_2 | v)`` (computed by mean field in
        the generative model) feed the first hidden layer, and each layer feeds
        the next up to a softmax head. Its weights are the classifier's own,
        copied from `kernels` and `biases` when fine-tuning first starts after
        the generative model last changed; the generative model stays as it is.
        """
        if self.head is None:
            raise ValueError(
                "fit trains the classifier of a DBM with `output_units`; train the "
                "generative model with fit_generative (or pretrain)."
            )
        x = self._checked_fit_inputs(x, kwargs)
        if int(ops.convert_to_numpy(self.classifier_stale)):
            self._copy_to_classifier()
        return self._guarded_fit(x, y, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_units=list(self.hidden_units),
            output_units=self.output_units,
            visible=units_lib.serialize(self.visible),
            hidden=units_lib.serialize(self.hidden),
            mean_field_steps=self.mean_field_steps,
            gibbs_steps=self.gibbs_steps,
            num_chains=self.num_chains,
            seed=self.seed,
        )
        return config


class VariationalLearning(UnsupervisedModel):
    """Trains a `DBM`'s generative model by the DBM learning procedure.

    `DBM.fit_generative` builds one; its `fit` runs Keras' loop (callbacks,
    checks, JAX's stateless step, `keras.callbacks.BackupAndRestore`) around
    `rule_gradients`. The DBM's `kernels` and `biases` must be trainable while
    it fits.

    Args:
        dbm: a built `DBM`.
        **kwargs: `keras.Model` arguments.
    """

    def __init__(self, dbm, **kwargs):
        super().__init__(**kwargs)
        self.dbm = dbm
        self.visible = dbm.visible
        self.seed_generator = dbm.seed_generator
        self.shuffle_seed = dbm.shuffle_seed
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_error")
        self.built = True

    @property
    def n_visible(self):
        return self.dbm.n_visible

    @property
    def metrics(self):
        return [self.reconstruction_tracker]

    def rule_variables(self):
        """The DBM's `kernels`, then its `biases`."""
        return self.dbm.kernels + self.dbm.biases

    def rule_gradients(self, batch, update_chains=True):
        """The gradients of ``mean E(v, q) - mean E(chains)`` for one batch.

        Returns:
            ``(gradients, diagnostics)``: gradients for `rule_variables` (to be
            descended) and a dict with ``reconstruction_error``.
        """
        dbm = self.dbm
        kernels, biases = dbm._generative_weights()
        means = mean_field(dbm.units, batch, kernels, biases, dbm.mean_field_steps)
        chains = [ops.cast(c, dbm.compute_dtype) for c in dbm.chains]
        chains = dbm._gibbs(chains, dbm.gibbs_steps, kernels, biases)
        if update_chains:
            for variable, state in zip(dbm.chains, chains):
                variable.assign(ops.cast(state, variable.dtype))
        # Held fixed, in the variables' dtype.
        data, model = (
            [ops.stop_gradient(ops.cast(s, "float32")) for s in states]
            for states in ([batch] + means, chains)
        )
        depth = len(kernels)

        def loss(*variables):
            kernels, biases = variables[:depth], variables[depth:]
            gap = ops.mean(energy(dbm.units, data, kernels, biases)) - ops.mean(
                energy(dbm.units, model, kernels, biases)
            )
            return gap, gap

        _, _, gradients = backend.value_and_gradients(loss, self.rule_variables())
        replicas = backend.num_replicas()  # the optimizer sums replicas' gradients
        reconstruction = dbm.visible.mean(
            ops.matmul(means[0], ops.transpose(kernels[0])) + biases[0]
        )
        error = ops.mean(
            ops.square(ops.cast(batch, "float32") - ops.cast(reconstruction, "float32"))
        )
        return [g / replicas for g in gradients], {"reconstruction_error": error}
