"""The Restricted Boltzmann Machine: a Keras model that trains itself by contrastive divergence."""

import random

import keras
import numpy as np
from keras import ops

from keras_dbn import backend, validation
from keras_dbn import units as units_lib
from keras_dbn.base import ReplicaSeedGenerator, UnsupervisedModel


@keras.saving.register_keras_serializable(package="keras_dbn")
class RBM(UnsupervisedModel):
    """A Restricted Boltzmann Machine, trained by contrastive divergence in `fit`.

    The energy of a joint state is ``E(v, h) = E_v(v; a) + E_h(h; b) - v.W.h``
    (for Bernoulli units ``-a.v - b.h - v.W.h``), with ``W`` = `kernel`,
    ``a`` = `visible_bias` and ``b`` = `hidden_bias`. Calling the model on visible
    data returns the upward mean ``E[h | v]`` (``p(h=1 | v)`` for Bernoulli hidden
    units), so RBMs compose like layers in the functional API.

    ``compile(optimizer)`` then ``fit(x)`` trains the RBM without labels: each
    step hands the compiled optimizer the gradient of the free-energy gap
    ``mean F(v_data) - mean F(v_model)``, the model samples held fixed. For
    Bernoulli units that is minus the contrastive-divergence statistics
    ``<v h>_data - <v h>_model`` (Hinton, 2002; persistent chains as in Tieleman,
    2008); for every unit type it is the gradient of the free energy that
    `free_energy` reports. Momentum, Adam and learning-rate schedules all apply.

    Args:
        units: number of hidden units.
        visible: visible unit type, ``"bernoulli"`` (data in [0, 1]),
            ``"gaussian"`` (real-valued with unit variance: standardise the data
            first), ``"softmax"``, or a `keras_dbn.units.Units` instance such as
            ``Softmax(group_size=10)``.
        hidden: hidden unit type, ``"bernoulli"``, ``"relu"`` (noisy rectified
            linear units), ``"binomial"`` or a `Units` instance.
        cd_k: Gibbs steps in the negative phase (CD-k); >= 1.
        persistent: if True, the negative phase continues persistent chains kept
            in the non-trainable variable `persistent_chains` (PCD, Tieleman 2008)
            instead of restarting at the data.
        num_chains: number of persistent chains. ``None`` takes the batch size of
            the first `fit` (one chain per example), or 100 if the model was built
            before fitting.
        negative_phase: ``"gibbs"`` (sample every step) or ``"mean_field"``
            (deterministic: each of the ``cd_k`` steps moves the visible state
            halfway towards ``E[v | h = E[h | v]]``). With ``persistent=True``
            the chains then run that deterministic map from step to step: a
            fixed-point iteration of the mean-field equations, not samples of the
            model (reproducible, e.g. for tests; use ``"gibbs"`` to learn).
        negative_visible: the visible state of each Gibbs step of the
            ``"gibbs"`` negative phase: ``"sample"`` (a draw of ``p(v | h)``),
            ``"mean"`` (the probabilities ``E[v | h]``, as Hinton's ``rbm.m``
            uses for its negative data; for a `Joint` visible layer every
            block's means, a label group's softmax probabilities included) or
            ``"softmax_mean"`` (the means of softmax units, samples of the
            others: the paper's up-down, which samples the penultimate layer
            and takes the label probabilities). The hidden units are sampled
            in every case; `gibbs` and `sample` always sample.
        sparsity_target: target mean activation of hidden units (e.g. 0.05), or
            None for no sparsity penalty (Hinton's guide, section 11).
        sparsity_cost: weight of the sparsity penalty.
        kernel_initializer: initializer of `kernel`; N(0, 0.01) by default.
        hidden_bias_initializer: initializer of `hidden_bias`.
        visible_bias_initializer: initializer of `visible_bias`.
        kernel_regularizer: regularizer on `kernel` only, e.g.
            ``keras.regularizers.L2(1e-4)`` for L2 weight decay.
        seed: seed of the model's `keras.random.SeedGenerator`, of its shuffle
            and of the default kernel initializer: the same seed gives the same
            run (on any one backend).
        untied: give the upward pass weights of its own, `recognition_kernel`
            and `recognition_bias`, as the lower layers of a DBN's generative
            model have (Hinton, Osindero & Teh, 2006): calling the model goes up
            with them, `sample_visible` goes down with `kernel` and
            `visible_bias`. They start equal to `kernel` and `hidden_bias`
            (`tie`); contrastive divergence trains only those, and the up-down
            algorithm (`keras_dbn.generative.GenerativeModel`) moves the two
            sets apart. They live here, not in `keras_dbn.generative`, because
            saved files hold them as this class's fourth and fifth variables.
        **kwargs: `keras.Model` arguments (``name``, ``dtype``...).

    Example:

    >>> import numpy as np, keras
    >>> from keras_dbn import RBM
    >>> x = (np.random.default_rng(0).random((64, 6)) > 0.5).astype("float32")
    >>> rbm = RBM(4, seed=0)
    >>> rbm.compile(keras.optimizers.SGD(0.1))
    >>> history = rbm.fit(x, epochs=2, batch_size=16, verbose=0)
    >>> sorted(history.history)
    ['free_energy_gap', 'reconstruction_error']
    >>> tuple(rbm(x).shape)
    (64, 4)
    """

    def __init__(
        self,
        units,
        visible="bernoulli",
        hidden="bernoulli",
        cd_k=1,
        persistent=False,
        num_chains=None,
        negative_phase="gibbs",
        negative_visible="sample",
        sparsity_target=None,
        sparsity_cost=0.0,
        kernel_initializer=None,
        hidden_bias_initializer="zeros",
        visible_bias_initializer="zeros",
        kernel_regularizer=None,
        seed=None,
        untied=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units, self.cd_k = (
            validation.check_positive_int(units, "units"),
            validation.check_positive_int(cd_k, "cd_k"),
        )
        self.visible, self.hidden = units_lib.get(visible), units_lib.get(hidden)
        self.persistent = validation.check_choice(persistent, (False, True), "persistent")
        self.num_chains = (
            None if num_chains is None else validation.check_positive_int(num_chains, "num_chains")
        )
        self.negative_phase = validation.check_choice(
            negative_phase, ("gibbs", "mean_field"), "negative_phase"
        )
        self.negative_visible = validation.check_choice(
            negative_visible, ("sample", "mean", "softmax_mean"), "negative_visible"
        )
        if sparsity_target is not None and not 0.0 < sparsity_target < 1.0:
            raise ValueError(f"`sparsity_target` must be in (0, 1), got {sparsity_target!r}.")
        if sparsity_cost < 0:
            raise ValueError(f"`sparsity_cost` must be >= 0, got {sparsity_cost!r}.")
        self.sparsity_target, self.sparsity_cost = sparsity_target, float(sparsity_cost)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomNormal(stddev=0.01, seed=seed)
        )
        self.hidden_bias_initializer = keras.initializers.get(hidden_bias_initializer)
        self.visible_bias_initializer = keras.initializers.get(visible_bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.seed = seed
        self.untied = bool(untied)
        self.seed_generator = ReplicaSeedGenerator(seed, name="seed_generator")
        self.shuffle_seed = seed if seed is not None else random.randrange(2**31)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_error")
        self.free_energy_gap_tracker = keras.metrics.Mean(name="free_energy_gap")
        self.input_spec = keras.InputSpec(min_ndim=2)

    def build(self, input_shape):
        n_visible = input_shape[-1]
        if n_visible is None:
            raise ValueError("The RBM needs a known feature count to build.")
        # Variables belong to the strategy the model was created under, also when
        # `fit` or a first call builds the model outside `strategy.scope()`.
        with self.strategy_scope():
            self.kernel = self.add_weight(
                name="kernel",
                shape=(n_visible, self.units),
                initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,  # for models that train through this RBM
            )
            self.hidden_bias = self.add_weight(
                name="hidden_bias", shape=(self.units,), initializer=self.hidden_bias_initializer
            )
            self.visible_bias = self.add_weight(
                name="visible_bias", shape=(n_visible,), initializer=self.visible_bias_initializer
            )
            if self.persistent:
                self.num_chains = self.num_chains or 100
                # One set of chains per replica under tf.distribute: each replica
                # advances its own copy (saving keeps the first replica's).
                self.persistent_chains = keras.Variable(
                    initializer="zeros",
                    shape=(self.num_chains, n_visible),
                    dtype=self.variable_dtype,
                    trainable=False,
                    synchronization="on_read",
                    aggregation="only_first_replica",
                    name="persistent_chains",
                )
            if self.untied:
                # Zeros (no random draw), then `tie`:
                # an untied RBM draws the same numbers as a tied one.
                self.recognition_kernel = self.add_weight(
                    name="recognition_kernel", shape=(n_visible, self.units), initializer="zeros"
                )
                self.recognition_bias = self.add_weight(
                    name="recognition_bias", shape=(self.units,), initializer="zeros"
                )
                self.tie()
        self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: n_visible})

    @property
    def n_visible(self):
        """Number of visible units (None before the model is built)."""
        return self.kernel.shape[0] if self.built else None

    @property
    def metrics(self):
        return [self.reconstruction_tracker, self.free_energy_gap_tracker]

    def _weights(self, weights=None, dtype=None):
        """``(kernel, hidden_bias, visible_bias)`` (or ``weights``) cast to the compute dtype.

        Cast to ``dtype`` instead where it is given.
        """
        weights = weights or (self.kernel, self.hidden_bias, self.visible_bias)
        return tuple(ops.cast(w, dtype or self.compute_dtype) for w in weights)

    def _hidden_pre(self, v, weights=None):
        """``b + vW``; ``weights`` (from `_weights`) saves casting them again."""
        kernel, hidden_bias, _ = weights or self._weights()
        return ops.matmul(v, kernel) + hidden_bias

    def _visible_pre(self, h, weights=None):
        """``a + hW^T``; ``weights`` (from `_weights`) saves casting them again."""
        kernel, _, visible_bias = weights or self._weights()
        return ops.matmul(h, ops.transpose(kernel)) + visible_bias

    def call(self, inputs):
        return self.hidden.mean(self.recognition_pre(inputs))

    def recognition_pre(self, v):
        """Total input of the hidden units going up: ``v R + r`` when `untied`, else ``vW + b``."""
        if not self.untied:
            return self._hidden_pre(v)
        return self._hidden_pre(
            v, self._weights((self.recognition_kernel, self.recognition_bias, self.visible_bias))
        )

    def tie(self):
        """Sets the recognition weights of an `untied` RBM to `kernel` and `hidden_bias`."""
        # Copies (ops.copy): on JAX two variables must not share one buffer.
        self.recognition_kernel.assign(ops.copy(self.kernel))
        self.recognition_bias.assign(ops.copy(self.hidden_bias))

    def _as_tensor(self, x, name):
        return ops.convert_to_tensor(self._check_and_build(x, name), dtype=self.compute_dtype)

    def _free_energy(self, v, hidden_pre, weights=None):
        """`keras_dbn.units.free_energy` from ``hidden_pre`` = b + vW, in the variable dtype."""
        dtype = self.variable_dtype
        _, hidden_bias, visible_bias = self._weights(weights, dtype)
        return units_lib.free_energy(
            self.visible,
            self.hidden,
            ops.cast(v, dtype),
            ops.cast(hidden_pre, dtype),
            visible_bias,
            hidden_bias,
        )

    def free_energy(self, v):
        """The free energy ``F(v) = -log sum_h exp(-E(v, h))`` of each row of ``v``.

        For Bernoulli units ``F(v) = -a.v - sum_j softplus(b_j + (vW)_j)``; for
        Gaussian visible units the first term is ``|v - a|^2 / 2``.

        Args:
            v: visible data, shape ``(batch, n_visible)``.

        Returns:
            A float32 tensor of shape ``(batch,)``.
        """
        v = self._as_tensor(v, "visible data")
        return self._free_energy(v, self._hidden_pre(v))

    @backend.without_gradients
    def sample_hidden(self, v):
        """Draws ``h ~ p(h | v)`` for each row of ``v``; returns a tensor (batch, units)."""
        return self.hidden.sample(
            self._hidden_pre(self._as_tensor(v, "visible data")), self.seed_generator
        )

    @backend.without_gradients
    def sample_visible(self, h, mean=False):
        """Draws ``v ~ p(v | h)`` for each row of ``h`` (with ``mean=True``, returns ``E[v | h]``).

        Returns:
            A tensor of shape ``(batch, n_visible)``.
        """
        if not self.built:
            raise ValueError("Build or fit the RBM before sampling visible states.")
        h = validation.check_array(h, self.hidden, self.units, "hidden states")
        pre = self._visible_pre(ops.convert_to_tensor(h, dtype=self.compute_dtype))
        return self.visible.mean(pre) if mean else self.visible.sample(pre, self.seed_generator)

    @backend.without_gradients
    def reconstruct(self, v):
        """The deterministic one-step reconstruction ``E[v | h = E[h | v]]``.

        Returns:
            A tensor of shape ``(batch, n_visible)``.
        """
        v = self._as_tensor(v, "visible data")
        return self.visible.mean(self._visible_pre(self.hidden.mean(self._hidden_pre(v))))

    def _gibbs_step(
        self, v, sample, weights=None, hidden_pre=None, clamp=None, visible_state="sample"
    ):
        """One step v -> h -> v'. Returns ``(v', E[v' | h])``.

        With ``sample=False`` (mean field) ``h = E[h | v]`` and ``v'`` moves halfway
        from ``v`` towards ``E[v | h]``. ``hidden_pre`` is ``b + vW`` when the caller has it.
        ``clamp = (mask, values)`` holds the units where ``mask`` is true at ``values``.
        ``visible_state`` is a `negative_visible` choice: which visible units take their mean.
        """
        hidden_pre = self._hidden_pre(v, weights) if hidden_pre is None else hidden_pre
        h = (
            self.hidden.sample(hidden_pre, self.seed_generator)
            if sample
            else self.hidden.mean(hidden_pre)
        )
        visible_pre = self._visible_pre(h, weights)
        mean = self.visible.mean(visible_pre)
        if not sample:
            v = 0.5 * v + 0.5 * mean
        elif visible_state == "mean":
            v = mean
        else:
            v = self.visible.sample(visible_pre, self.seed_generator)
            if visible_state == "softmax_mean":
                v = ops.where(self._softmax_columns(), mean, v)
        if clamp is not None:
            v, mean = (ops.where(clamp[0], clamp[1], x) for x in (v, mean))
        return v, mean

    def _softmax_columns(self):
        """A boolean mask ``(n_visible,)`` of the visible units in softmax groups."""
        parts = getattr(self.visible, "parts", [(self.visible, self.n_visible)])
        mask = np.concatenate(
            [np.full(size, isinstance(unit, units_lib.Softmax)) for unit, size in parts]
        )
        return ops.convert_to_tensor(mask)

    def _chain(
        self, v, steps, sample=True, weights=None, hidden_pre=None, clamp=None, visible="sample"
    ):
        """The chain runner: ``steps`` steps from ``v`` (``clamp`` and ``visible``, the visible
        state, as in `_gibbs_step`).

        Returns:
            ``(last state, E[v | h] of the first step, E[v | h] of the last step)``.
        """
        step = lambda state: self._gibbs_step(  # noqa: E731
            state[0], sample, weights, clamp=clamp, visible_state=visible
        )
        state = self._gibbs_step(v, sample, weights, hidden_pre, clamp, visible)
        first = state[1]
        if steps <= 4:
            for _ in range(steps - 1):
                state = step(state)
        else:
            state = backend.fori_loop(
                1, steps, lambda i, s: step(s), state, [self.seed_generator.state]
            )
        return state[0], first, state[1]

    @backend.without_gradients
    def gibbs(self, v, steps=1):
        """Runs ``steps`` block-Gibbs steps (v -> h -> v) from ``v``.

        Args:
            v: starting visible states, shape ``(batch, n_visible)``.
            steps: number of full Gibbs steps (>= 1).

        Returns:
            The visible states after the last step, a tensor ``(batch, n_visible)``.
        """
        steps = validation.check_positive_int(steps, "steps")
        return self._chain(self._as_tensor(v, "visible data"), steps)[0]

    def sample(self, num_samples, gibbs_steps=1000, initial=None, mean=True, clamp=None):
        """Draws samples from the model by running Gibbs chains.

        Args:
            num_samples: number of independent chains (ignored if ``initial`` is given).
            gibbs_steps: Gibbs steps per chain.
            initial: optional starting visible states ``(num_samples, n_visible)``;
                by default chains start from ``p(v | h = 0)`` samples.
            mean: if True, return the conditional means ``E[v | h]`` of the last
                step (less noisy for pictures); else the sampled states.
            clamp: optional boolean mask ``(n_visible,)`` of visible units held at
                their ``initial`` values (which are then required): the chains
                sample the others from ``p(v_free | v_clamped)``.

        Returns:
            A numpy array ``(num_samples, n_visible)``.
        """
        if not self.built:
            raise ValueError("Build or fit the RBM before sampling from it.")
        steps = validation.check_positive_int(gibbs_steps, "gibbs_steps")
        if initial is not None:
            initial = self._as_tensor(initial, "initial states")
        elif clamp is not None:
            raise ValueError("`clamp` holds units at their `initial` values: pass `initial` too.")
        else:  # p(v | h = 0); h = 0 need not be a valid hidden state (softmax groups), so no check
            zeros = ops.zeros(
                (validation.check_positive_int(num_samples, "num_samples"), self.units),
                self.compute_dtype,
            )
            initial = self.visible.sample(self._visible_pre(zeros), self.seed_generator)
        mask = np.zeros(self.n_visible, bool) if clamp is None else np.asarray(clamp, bool)
        if mask.shape != (self.n_visible,):
            raise ValueError(
                f"`clamp` must be a boolean mask of shape ({self.n_visible},), "
                f"got shape {mask.shape}."
            )
        if not hasattr(self, "_sample_fn"):
            chain = lambda v, k, m: self._chain(v, k, clamp=(m, v))[::2]  # noqa: E731
            self._sample_fn = backend.compiled(chain, self.variables, static_argnums=(1,))
        states, means = self._sample_fn(initial, steps, ops.convert_to_tensor(mask))
        return ops.convert_to_numpy(means if mean else states)

    def contrastive_divergence(self, v_data, update_chains=True):
        """The RBM's learning rule: the gradient of the free-energy gap for one batch.

        ``mean F(v_data) - mean F(v_model)``, with ``v_model`` from `cd_k` steps
        started at the data (CD) or at the persistent chains (PCD) and held
        fixed, plus the weight-decay and sparsity penalties, differentiated by
        the backend's automatic differentiation: the data statistics minus the
        model statistics of whatever unit types the RBM has.

        Args:
            v_data: a batch of visible data, a tensor ``(batch, n_visible)``.
            update_chains: whether PCD chains advance (False for evaluation).

        Returns:
            ``(gradients, diagnostics)``: the gradients for ``[kernel,
            hidden_bias, visible_bias]`` (float32, ready for ``optimizer.apply``)
            and a dict with ``reconstruction_error`` and ``free_energy_gap``.
        """
        gradients, diagnostics, _ = self._contrastive_divergence(v_data, update_chains)
        return gradients, diagnostics

    def rule_gradients(self, batch, update_chains=True):
        """The trainer's hook: `contrastive_divergence` of the batch."""
        return self.contrastive_divergence(batch, update_chains)

    def _contrastive_divergence(self, v_data, update_chains=True):
        """`contrastive_divergence`, also returning the negative phase's visible states."""

        def loss(*variables):
            weights = self._weights(variables)
            data_pre = self._hidden_pre(v_data, weights)
            v_model, reconstruction = self._negative_phase(
                v_data, ops.stop_gradient(data_pre), weights
            )
            v_model = ops.stop_gradient(v_model)
            # Weights cast anew, so under bfloat16 the two terms' gradients meet in float32.
            model_pre = self._hidden_pre(v_model, self._weights(variables))
            data_energy, model_energy = (
                self._free_energy(v_data, data_pre, variables),
                self._free_energy(v_model, model_pre, variables),
            )
            gap = ops.mean(data_energy) - ops.mean(model_energy)
            return gap + self._penalty(data_pre, variables[0]), (gap, v_model, reconstruction)

        _, (gap, v_model, reconstruction), gradients = backend.value_and_gradients(
            loss, self.rule_variables()
        )
        if self.persistent and update_chains:
            self.persistent_chains.assign(ops.cast(v_model, self.persistent_chains.dtype))
        replicas = backend.num_replicas()  # the optimizer sums replicas' gradients
        gradients = [g / replicas for g in gradients]
        error = ops.mean(
            ops.square(ops.cast(v_data, "float32") - ops.cast(reconstruction, "float32"))
        )
        return gradients, {"reconstruction_error": error, "free_energy_gap": gap}, v_model

    def rule_variables(self):
        """``[kernel, hidden_bias, visible_bias]``: what contrastive divergence trains
        (not the recognition weights of an `untied` RBM)."""
        return [self.kernel, self.hidden_bias, self.visible_bias]

    def _negative_phase(self, v_data, data_pre, weights):
        """The model samples and the data's one-step reconstruction ``E[v | h ~ p(h | v_data)]``."""
        sample, visible = self.negative_phase == "gibbs", self.negative_visible
        if not self.persistent:
            v_model, reconstruction, _ = self._chain(
                v_data, self.cd_k, sample, weights, data_pre, visible=visible
            )
            return v_model, reconstruction
        v_model = self._chain(
            ops.cast(self.persistent_chains, self.compute_dtype),
            self.cd_k,
            sample,
            weights,
            visible=visible,
        )[0]
        h = self.hidden.sample(data_pre, self.seed_generator)
        return v_model, self.visible.mean(self._visible_pre(h, weights))

    def _penalty(self, data_pre, kernel):
        """Weight decay (``kernel_regularizer``) and the sparsity penalty, as a loss."""
        penalty = 0.0 if self.kernel_regularizer is None else self.kernel_regularizer(kernel)
        if self.sparsity_target is not None and self.sparsity_cost > 0:
            # Hinton's guide, section 11: each unit's total input gets the gradient
            # cost * (q - target), q its mean activation over the batch.
            activation = ops.mean(ops.cast(self.hidden.mean(data_pre), "float32"), axis=0)
            excess = ops.stop_gradient(self.sparsity_cost * (activation - self.sparsity_target))
            penalty += ops.sum(excess * ops.mean(ops.cast(data_pre, "float32"), axis=0))
        return penalty

    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        """Trains the RBM on ``x`` without labels; see `keras_dbn.base.UnsupervisedModel.fit`."""
        if self.persistent and not self.built and self.num_chains is None:
            self.num_chains = batch_size or 32  # one chain per example of a batch
        return super().fit(x, y, batch_size=batch_size, **kwargs)

    def _start_fit(self, x):
        """Starts the persistent chains of a PCD RBM that has not trained yet at rows of ``x``."""
        if self.persistent and int(ops.convert_to_numpy(self.optimizer.iterations)) == 0:
            rows = np.random.default_rng(self.shuffle_seed).integers(0, len(x), self.num_chains)
            self.persistent_chains.assign(np.asarray(x[np.sort(rows)], "float32"))

    def load_own_variables(self, store):
        """Loads the weights; an `untied` RBM saved without recognition weights (the generative
        model of a DBN saved before they existed) loads them tied."""
        saved = [k for k in store.keys() if k != self._SEED_STATE]
        if (
            self.untied
            and len(saved) == len(self._trainable_variables + self._non_trainable_variables) - 2
        ):
            values = [
                store[str(i)] for i in range(len(saved))
            ]  # kernel, hidden_bias, visible_bias[, chains]
            seed = {k: store[k] for k in store.keys() if k == self._SEED_STATE}
            store = {
                **{str(i): v for i, v in enumerate(values[:3] + values[:2] + values[3:])},
                **seed,
            }
        super().load_own_variables(store)

    #: The constructor's own arguments, in its order.
    OPTIONS = (
        "units",
        "visible",
        "hidden",
        "cd_k",
        "persistent",
        "num_chains",
        "negative_phase",
        "negative_visible",
        "sparsity_target",
        "sparsity_cost",
        "kernel_initializer",
        "hidden_bias_initializer",
        "visible_bias_initializer",
        "kernel_regularizer",
        "seed",
        "untied",
    )
    _OBJECTS = (
        "kernel_initializer",
        "hidden_bias_initializer",
        "visible_bias_initializer",
        "kernel_regularizer",
    )

    def constructor_arguments(self):
        """The arguments of a new RBM configured as this one: `get_config` before it is
        serialized (initializers and regularizer as fresh copies, the dtype policy).

        Copying through `get_config` would import TensorFlow on the other backends
        (Keras' serialization checks for its types).
        """
        arguments = {name: getattr(self, name) for name in self.OPTIONS}
        for name in self._OBJECTS:
            if arguments[name] is not None:
                arguments[name] = type(arguments[name]).from_config(arguments[name].get_config())
        return {**arguments, "dtype": self.dtype_policy}

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in self.OPTIONS})
        config.update(
            visible=units_lib.serialize(self.visible), hidden=units_lib.serialize(self.hidden)
        )
        for name in self._OBJECTS[:3]:
            config[name] = keras.initializers.serialize(getattr(self, name))
        config["kernel_regularizer"] = keras.regularizers.serialize(self.kernel_regularizer)
        return config
