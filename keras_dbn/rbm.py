"""The Restricted Boltzmann Machine: a Keras model that trains itself by contrastive divergence."""

import contextlib
import random

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_dbn import data, units as units_lib, validation
from keras_dbn.callbacks import DivergenceGuard

_NEGATIVE_PHASES = ("gibbs", "mean_field")
#: Default ``steps_per_execution`` of `RBM.compile`: CD steps run per traced call.
STEPS_PER_EXECUTION = 100


def _strategy_scope(model):
    """The scope of the tf.distribute strategy ``model`` was created under, unless it is current."""
    strategy = model.distribute_strategy
    return contextlib.nullcontext() if strategy is tf.distribute.get_strategy() else strategy.scope()


class _ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `keras.random.SeedGenerator` whose draws differ between tf.distribute replicas.

    Every replica holds a copy of the same seed state, so a plain generator gives all
    replicas the same noise, and their persistent chains stay copies of one another.
    Outside a multi-replica step the draws are those of a plain generator.
    """

    def next(self, ordered=True):
        seed = super().next(ordered)
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return seed
        replica = ops.cast(context.replica_id_in_sync_group, seed.dtype)
        return seed + ops.stack([replica * 0x61C88647, ops.zeros_like(replica)])


@keras.saving.register_keras_serializable(package="keras_dbn")
class RBM(keras.Model):
    """A Restricted Boltzmann Machine, trained by contrastive divergence in `fit`.

    The energy of a joint state is ``E(v, h) = E_v(v; a) + E_h(h; b) - v.W.h``
    (for Bernoulli units ``-a.v - b.h - v.W.h``), with ``W`` = `kernel`,
    ``a`` = `visible_bias` and ``b`` = `hidden_bias`. Calling the model on visible
    data returns the upward mean ``E[h | v]`` (``p(h=1 | v)`` for Bernoulli hidden
    units), so RBMs compose like layers in the functional API.

    ``compile(optimizer)`` then ``fit(x)`` trains the RBM without labels: each
    step computes the contrastive-divergence statistics
    ``<v h>_data - <v h>_model`` (Hinton, 2002; persistent chains as in Tieleman,
    2008) and hands their negation to the compiled optimizer as the gradient, so
    momentum, Adam, learning-rate schedules and weight decay all apply.

    Args:
        units: number of hidden units.
        visible: visible unit type, ``"bernoulli"`` (data in [0, 1]),
            ``"gaussian"`` (real-valued with unit variance: standardise the data
            first), ``"softmax"``, or a `keras_dbn.units.Units` instance such as
            ``Softmax(group_size=10)``.
        hidden: hidden unit type, ``"bernoulli"`` or ``"relu"`` (noisy rectified
            linear units), or a `Units` instance.
        cd_k: Gibbs steps in the negative phase (CD-k); >= 1.
        persistent: if True, the negative phase continues persistent chains kept
            in the non-trainable variable `persistent_chains` (PCD, Tieleman 2008)
            instead of restarting at the data.
        num_chains: number of persistent chains. ``None`` takes the batch size of
            the first `fit` (one chain per example), or 100 if the model was built
            before fitting.
        negative_phase: ``"gibbs"`` (sample every step) or ``"mean_field"``
            (deterministic damped mean-field updates in place of sampling).
        sparsity_target: target mean activation of hidden units (e.g. 0.05), or
            None for no sparsity penalty (Hinton's guide, section 11).
        sparsity_cost: weight of the sparsity penalty.
        kernel_initializer: initializer of `kernel`; N(0, 0.01) by default.
        hidden_bias_initializer: initializer of `hidden_bias`.
        visible_bias_initializer: initializer of `visible_bias`.
        kernel_regularizer: regularizer on `kernel` only, e.g.
            ``keras.regularizers.L2(1e-4)`` for L2 weight decay.
        seed: seed of the model's `keras.random.SeedGenerator`.
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
        sparsity_target=None,
        sparsity_cost=0.0,
        kernel_initializer=None,
        hidden_bias_initializer="zeros",
        visible_bias_initializer="zeros",
        kernel_regularizer=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = validation.check_positive_int(units, "units")
        self.cd_k = validation.check_positive_int(cd_k, "cd_k")
        self.visible = units_lib.get(visible)
        self.hidden = units_lib.get(hidden)
        if not isinstance(persistent, bool):
            raise ValueError(f"`persistent` must be True or False, got {persistent!r}.")
        self.persistent = persistent
        self.num_chains = None if num_chains is None else validation.check_positive_int(
            num_chains, "num_chains"
        )
        if negative_phase not in _NEGATIVE_PHASES:
            raise ValueError(
                f"`negative_phase` must be one of {_NEGATIVE_PHASES}, got {negative_phase!r}."
            )
        self.negative_phase = negative_phase
        if sparsity_target is not None and not 0.0 < sparsity_target < 1.0:
            raise ValueError(f"`sparsity_target` must be in (0, 1), got {sparsity_target!r}.")
        if sparsity_cost < 0:
            raise ValueError(f"`sparsity_cost` must be >= 0, got {sparsity_cost!r}.")
        self.sparsity_target = sparsity_target
        self.sparsity_cost = float(sparsity_cost)
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomNormal(stddev=0.01)
        )
        self.hidden_bias_initializer = keras.initializers.get(hidden_bias_initializer)
        self.visible_bias_initializer = keras.initializers.get(visible_bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.seed = seed
        self.seed_generator = _ReplicaSeedGenerator(seed, name="seed_generator")
        self._shuffle_seed = seed if seed is not None else random.randrange(2**31)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_error")
        self.free_energy_gap_tracker = keras.metrics.Mean(name="free_energy_gap")
        self.input_spec = keras.InputSpec(min_ndim=2)

    # ------------------------------------------------------------------ state
    def build(self, input_shape):
        n_visible = input_shape[-1]
        if n_visible is None:
            raise ValueError("The RBM needs a known feature count to build.")
        # Variables belong to the strategy the model was created under, also when
        # `fit` or a first call builds the model outside `strategy.scope()`.
        with _strategy_scope(self):
            self.kernel = self.add_weight(
                name="kernel",
                shape=(n_visible, self.units),
                initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,
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
        self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: n_visible})

    @property
    def n_visible(self):
        """Number of visible units (None before the model is built)."""
        return self.kernel.shape[0] if self.built else None

    @property
    def metrics(self):
        return [self.reconstruction_tracker, self.free_energy_gap_tracker]

    # ------------------------------------------------------------ conditionals
    def _weights(self):
        """``(kernel, hidden_bias, visible_bias)`` cast to the compute dtype."""
        dtype = self.compute_dtype
        return (
            ops.cast(self.kernel, dtype),
            ops.cast(self.hidden_bias, dtype),
            ops.cast(self.visible_bias, dtype),
        )

    def _hidden_pre(self, v, weights=None):
        """``b + vW``; ``weights`` (from `_weights`) saves casting them again."""
        kernel, hidden_bias, _ = weights or self._weights()
        return ops.matmul(v, kernel) + hidden_bias

    def _visible_pre(self, h, weights=None):
        """``a + hW^T``; ``weights`` (from `_weights`) saves casting them again."""
        kernel, _, visible_bias = weights or self._weights()
        return ops.matmul(h, ops.transpose(kernel)) + visible_bias

    def call(self, inputs):
        return self.hidden.mean(self._hidden_pre(inputs))

    def __call__(self, inputs, *args, **kwargs):
        if validation.is_array_like(inputs):
            inputs = self._check(inputs, "input")
        return super().__call__(inputs, *args, **kwargs)

    def _check(self, x, name):
        """Validates user data (see `keras_dbn.validation.check_array`) and builds the model."""
        x = validation.check_array(x, self.visible, self.n_visible, name)
        if not self.built:
            self.build((None, x.shape[1]))
        return x

    def _as_tensor(self, x, name):
        return ops.convert_to_tensor(self._check(x, name), dtype=self.compute_dtype)

    # ---------------------------------------------------------- energy & sampling
    def _free_energy(self, v, hidden_pre):
        """F(v) = E_v(v; a) - log sum_h exp(-E_h(h; b) + v.W.h), from ``hidden_pre`` = b + vW.

        Computed in float32 (or the variable dtype) even under mixed precision.
        """
        dtype = self.variable_dtype
        visible_bias = ops.cast(self.visible_bias, dtype)
        hidden_bias = ops.cast(self.hidden_bias, dtype)
        return self.visible.energy(ops.cast(v, dtype), visible_bias) - self.hidden.log_partition(
            ops.cast(hidden_pre, dtype), hidden_bias
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

    def sample_hidden(self, v):
        """Draws ``h ~ p(h | v)`` for each row of ``v``; returns a tensor (batch, units)."""
        return self.hidden.sample(self._hidden_pre(self._as_tensor(v, "visible data")), self.seed_generator)

    def sample_visible(self, h):
        """Draws ``v ~ p(v | h)`` for each row of ``h``; returns a tensor (batch, n_visible)."""
        if not self.built:
            raise ValueError("Build or fit the RBM before sampling visible states.")
        h = validation.check_array(h, self.hidden, self.units, "hidden states")
        h = ops.convert_to_tensor(h, dtype=self.compute_dtype)
        return self.visible.sample(self._visible_pre(h), self.seed_generator)

    def reconstruct(self, v):
        """The deterministic one-step reconstruction ``E[v | h = E[h | v]]``.

        Returns:
            A tensor of shape ``(batch, n_visible)``.
        """
        v = self._as_tensor(v, "visible data")
        return self.visible.mean(self._visible_pre(self.hidden.mean(self._hidden_pre(v))))

    def _gibbs_step(self, v, sample=True, weights=None, hidden_pre=None):
        """One full step v -> h -> v'. Returns ``(v', E[v' | h])``.

        ``hidden_pre`` (``b + vW`` when the caller has it) saves recomputing it.
        """
        if hidden_pre is None:
            hidden_pre = self._hidden_pre(v, weights)
        h = self._draw(self.hidden, hidden_pre) if sample else self.hidden.mean(hidden_pre)
        visible_pre = self._visible_pre(h, weights)
        visible_mean = self.visible.mean(visible_pre)
        v_next = self._draw(self.visible, visible_pre) if sample else visible_mean
        return v_next, visible_mean

    def _draw(self, units, pre):
        """``units.sample(pre)`` drawn in the variable dtype, returned in the compute dtype.

        Under mixed_bfloat16 a bfloat16 uniform takes only 128 values, so
        ``u < p`` would switch on every unit with ``0 < p < 1/128`` at rate 1/128.
        """
        pre = ops.cast(pre, self.variable_dtype)
        return ops.cast(units.sample(pre, self.seed_generator), self.compute_dtype)

    def _chain(self, v, steps):
        """Runs ``steps`` Gibbs steps from ``v``; returns the last state and its mean."""
        if steps <= 4:
            mean = v
            for _ in range(steps):
                v, mean = self._gibbs_step(v)
            return v, mean
        return ops.fori_loop(0, steps, lambda i, state: self._gibbs_step(state[0]), (v, v))

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

    def sample(self, num_samples, gibbs_steps=1000, initial=None, mean=True):
        """Draws samples from the model by running Gibbs chains.

        Args:
            num_samples: number of independent chains (ignored if ``initial`` is given).
            gibbs_steps: Gibbs steps per chain.
            initial: optional starting visible states ``(num_samples, n_visible)``;
                by default chains start from ``p(v | h = 0)`` samples.
            mean: if True, return the conditional means ``E[v | h]`` of the last
                step (less noisy for pictures); else the sampled states.

        Returns:
            A numpy array ``(num_samples, n_visible)``.
        """
        if not self.built:
            raise ValueError("Build or fit the RBM before sampling from it.")
        steps = validation.check_positive_int(gibbs_steps, "gibbs_steps")
        if initial is None:
            n = validation.check_positive_int(num_samples, "num_samples")
            zeros = ops.zeros((n, self.units), dtype=self.compute_dtype)
            initial = self.visible.sample(self._visible_pre(zeros), self.seed_generator)
        else:
            initial = self._as_tensor(initial, "initial states")
        if not hasattr(self, "_sample_fn"):
            self._sample_fn = tf.function(self._chain, reduce_retracing=True)
        states, means = self._sample_fn(initial, steps)
        return ops.convert_to_numpy(means if mean else states)

    # -------------------------------------------------------------- training
    def contrastive_divergence(self, v0, update_chains=True):
        """The CD-k (or PCD) update for one batch: the RBM's learning rule.

        Positive statistics come from the data with exact hidden means; negative
        statistics from ``cd_k`` Gibbs steps started at the data (CD) or at the
        persistent chains (PCD), with the hidden means of the final visible state.

        Args:
            v0: a batch of visible data, a tensor ``(batch, n_visible)``.
            update_chains: whether PCD chains advance (False for evaluation).

        Returns:
            ``(gradients, diagnostics)``: the gradients of the negative
            log-likelihood estimate for ``[kernel, hidden_bias, visible_bias]``
            (float32, ready for ``optimizer.apply``) and a dict with
            ``reconstruction_error`` and ``free_energy_gap`` (scalars).
        """
        sample = self.negative_phase == "gibbs"
        weights = self._weights()
        hidden_pre0 = self._hidden_pre(v0, weights)
        h0 = self.hidden.mean(hidden_pre0)
        if self.persistent:
            chains = ops.cast(self.persistent_chains, self.compute_dtype)
            vk, _ = self._negative_chain(chains, sample, weights)
            h_start = self._draw(self.hidden, hidden_pre0)
            reconstruction = self.visible.mean(self._visible_pre(h_start, weights))
            if update_chains:
                self.persistent_chains.assign(ops.cast(vk, self.persistent_chains.dtype))
        else:
            vk, reconstruction = self._negative_chain(v0, sample, weights, hidden_pre0)
        hidden_prek = self._hidden_pre(vk, weights)
        hk = self.hidden.mean(hidden_prek)

        # The optimizer sums gradients over replicas: each one hands in 1/replicas.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        n_data = ops.cast(ops.shape(v0)[0] * replicas, self.compute_dtype)
        n_model = ops.cast(ops.shape(vk)[0] * replicas, self.compute_dtype)
        # -(<v h>_data - <v h>_model) as a single product of stacked batches, the
        # sign and scale applied to the small (batch, units) factor.
        kernel_grad = ops.matmul(
            ops.transpose(ops.concatenate([v0, vk], axis=0)),
            ops.concatenate([-h0 / n_data, hk / n_model], axis=0),
        )
        # Bias statistics: means over the batch, summed in the variable dtype.
        h0_mean, hk_mean, v0_mean, vk_mean = (
            ops.mean(ops.cast(t, self.variable_dtype), axis=0) for t in (h0, hk, v0, vk)
        )
        hidden_stat = h0_mean - hk_mean
        visible_stat = v0_mean - vk_mean
        kernel_grad = ops.cast(kernel_grad, self.variable_dtype)
        if self.sparsity_target is not None and self.sparsity_cost > 0:
            # d(cross-entropy(target, q_j)) / d(input_j) = q_j - target (guide, s. 11).
            excess = self.sparsity_cost * (h0_mean - self.sparsity_target)
            hidden_stat -= excess
            kernel_grad += ops.outer(v0_mean, excess / replicas)

        gradients = [kernel_grad, -hidden_stat / replicas, -visible_stat / replicas]
        if self.kernel_regularizer is not None:
            with tf.GradientTape() as tape:
                penalty = self.kernel_regularizer(self.kernel)
            gradients[0] += tape.gradient(penalty, self.kernel) / replicas

        diagnostics = {
            "reconstruction_error": ops.mean(
                ops.square(ops.cast(v0, "float32") - ops.cast(reconstruction, "float32"))
            ),
            "free_energy_gap": ops.mean(self._free_energy(v0, hidden_pre0))
            - ops.mean(self._free_energy(vk, hidden_prek)),
        }
        return gradients, diagnostics

    def _negative_chain(self, v, sample, weights=None, hidden_pre=None):
        """``cd_k`` steps from ``v``: returns the final state and the first reconstruction.

        ``hidden_pre`` is ``b + vW`` for the starting ``v`` when the caller has it.
        """
        v, reconstruction = self._gibbs_step(v, sample, weights, hidden_pre)
        if not sample:  # damped mean-field updates
            v = 0.5 * v + 0.5 * reconstruction
        for _ in range(self.cd_k - 1):
            v_next, mean = self._gibbs_step(v, sample, weights)
            v = v_next if sample else 0.5 * v + 0.5 * mean
        return v, reconstruction

    def _batch(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return ops.cast(x, self.compute_dtype)

    def _record(self, diagnostics):
        self.reconstruction_tracker.update_state(diagnostics["reconstruction_error"])
        self.free_energy_gap_tracker.update_state(diagnostics["free_energy_gap"])
        return {m.name: m.result() for m in self.metrics}

    def compile(self, optimizer="rmsprop", steps_per_execution=None, **kwargs):
        """Configures training; see `keras.Model.compile` (no loss or metrics needed).

        Same arguments as Keras, but ``steps_per_execution=None`` runs
        `STEPS_PER_EXECUTION` CD steps per traced call: a step is a few small
        matrix products, and one call per batch would cost about as much again.
        Callbacks then see batch ends only every ``steps_per_execution``
        batches (pass 1 for each). Under a `tf.distribute` strategy it is 1,
        where Keras 3 fails to run several steps per call. ``jit_compile`` keeps
        Keras' ``"auto"``: XLA on accelerators, off on CPUs, where at batch 100
        XLA was faster with tcmalloc as the process's allocator and slower with
        glibc's ``malloc`` (docs/performance.md). The draws use XLA's fast
        generator when compiled (see `keras_dbn.units`).
        """
        if steps_per_execution is None:
            distributed = tf.distribute.has_strategy() or self.distribute_strategy is not tf.distribute.get_strategy()
            steps_per_execution = 1 if distributed else STEPS_PER_EXECUTION
        super().compile(optimizer=optimizer, steps_per_execution=steps_per_execution, **kwargs)

    def compile_from_config(self, config):
        # Keras skips models that override `compile`; this one only changes a default.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def train_step(self, data):
        gradients, diagnostics = self.contrastive_divergence(self._batch(data))
        self.optimizer.apply(gradients, [self.kernel, self.hidden_bias, self.visible_bias])
        return self._record(diagnostics)

    def test_step(self, data):
        _, diagnostics = self.contrastive_divergence(self._batch(data), update_chains=False)
        return self._record(diagnostics)

    def _check_fit_data(self, x, batch_size, kwargs):
        if self.persistent and not self.built and self.num_chains is None:
            self.num_chains = batch_size or 32
        if validation.is_array_like(x):
            x = self._check(x, "training data")
            if self.persistent and self.optimizer is not None and self._step_count() == 0:
                # Start the persistent chains at training examples rather than at zeros.
                rows = np.random.default_rng(self._shuffle_seed).integers(0, len(x), self.num_chains)
                self.persistent_chains.assign(np.asarray(x[np.sort(rows)], "float32"))
        elif isinstance(x, tf.data.Dataset):
            x = validation.check_dataset(x, self.visible, self.n_visible)
            width = validation.feature_width(x)
            if not self.built and width is not None:
                self.build((None, width))
        validation_data = kwargs.get("validation_data")
        if validation.is_array_like(validation_data):
            kwargs["validation_data"] = self._check(validation_data, "validation data")
        kwargs["callbacks"] = DivergenceGuard.added_to(kwargs.get("callbacks"))
        return x

    def fit(self, x=None, y=None, batch_size=None, shuffle=True, validation_split=0.0, **kwargs):
        """Trains the RBM on ``x`` (labels are not used). See `keras.Model.fit`.

        Arrays are checked first (shape, dtype, NaN/inf, range of the visible
        units), then streamed batch by batch (`keras_dbn.data.array_batches`), so
        a memory-mapped array larger than memory trains, and each epoch's shuffle
        depends only on the seed and the optimizer's step count: a run resumed
        by `keras.callbacks.BackupAndRestore` continues exactly as an
        uninterrupted one. A run whose metrics or weights become non-finite stops
        with `keras_dbn.callbacks.TrainingDivergedError` and the weights of the
        last finite epoch.
        """
        x = self._check_fit_data(x, batch_size, kwargs)
        if isinstance(x, np.ndarray):
            if validation_split:
                cut = int(len(x) * (1.0 - validation_split))
                x, kwargs["validation_data"] = x[:cut], x[cut:]
            x = data.array_batches(
                x, batch_size or 32, shuffle=bool(shuffle), seed=self._shuffle_seed, epoch_key=self._step_count
            )
            batch_size = None
        shuffle = False  # datasets shuffle themselves (ours does, per epoch)
        with validation.restore_on_bad_batch(self):
            return super().fit(x, None, batch_size=batch_size, shuffle=shuffle, validation_split=0.0, **kwargs)

    def _step_count(self):
        return int(ops.convert_to_numpy(self.optimizer.iterations))

    def evaluate(self, x=None, y=None, **kwargs):
        """Reports ``reconstruction_error`` and ``free_energy_gap`` on ``x`` (labels are not used).

        Persistent chains do not advance. See `keras.Model.evaluate`.
        """
        if validation.is_array_like(x):
            x = self._check(x, "evaluation data")
        return super().evaluate(x, None, **kwargs)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Exports ``v -> E[h | v]`` for inference (see `keras.Model.export`)."""
        if not self.built:
            raise ValueError("Build or fit the RBM before exporting it.")
        input_signature = input_signature or [keras.InputSpec(shape=(None, self.n_visible), dtype="float32")]
        return super().export(filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)

    # --------------------------------------------------------------- saving
    _SEED_STATE = "seed_generator_state"

    def save_own_variables(self, store):
        """Saves the weights and the sampler's state, so sampling resumes where it stopped."""
        super().save_own_variables(store)
        store[self._SEED_STATE] = self.seed_generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        if self._SEED_STATE in keys:
            self.seed_generator.state.assign(store[self._SEED_STATE])
        super().load_own_variables({k: store[k] for k in keys if k != self._SEED_STATE})

    # --------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            visible=units_lib.serialize(self.visible),
            hidden=units_lib.serialize(self.hidden),
            cd_k=self.cd_k,
            persistent=self.persistent,
            num_chains=self.num_chains,
            negative_phase=self.negative_phase,
            sparsity_target=self.sparsity_target,
            sparsity_cost=self.sparsity_cost,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            hidden_bias_initializer=keras.initializers.serialize(self.hidden_bias_initializer),
            visible_bias_initializer=keras.initializers.serialize(self.visible_bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("visible", "hidden"):
            config[key] = units_lib.get(config[key])
        return cls(**config)

