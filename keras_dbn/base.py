"""The Keras plumbing that `RBM` and `DBN` share: input checks, fit data, strategy, export.

`UnsupervisedModel` adds what a model that trains itself without labels needs
(the `RBM`): its rule run in ``train_step``, arrays streamed to ``fit``, the
sampler's state saved with the weights.

`CheckedModel` is a `keras.Model` whose array inputs are validated
(`keras_dbn.validation.check_array`) before any weight changes, that builds itself
from the first data it sees, that adds `DivergenceGuard` and a progress bar that
never counts past its total to every `fit`, and that exports ``v -> outputs`` with
a known input signature. Subclasses set ``visible`` (the unit type of the input)
and the property ``n_visible``.
"""

import keras
import numpy as np
from keras import ops

from keras_dbn import backend, data, validation
from keras_dbn.trainer_callbacks import DivergenceGuard, StepProgbarLogger


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `keras.random.SeedGenerator` whose draws differ between tf.distribute replicas.

    Every replica holds a copy of the same seed state, so a plain generator gives all
    replicas the same noise, and their persistent chains stay copies of one another.
    Outside a multi-replica step the draws are those of a plain generator.
    """

    def next(self, ordered=True):
        seed = super().next(ordered)
        replica, replicas = backend.replica()
        if replicas == 1:
            return seed
        replica = ops.cast(replica, seed.dtype)
        return seed + ops.stack([replica * 0x61C88647, ops.zeros_like(replica)])


def upward_means(layers, x, batch_size=1024):
    """``x`` carried up through ``layers`` (models whose call gives the upward means).

    Returns:
        A list of numpy arrays, each layer's output, bottom first.
    """
    every = []
    for layer in layers:
        x = layer.predict(x, batch_size=batch_size, verbose=0)
        every.append(x)
    return every


class CheckedModel(keras.Model):
    """A `keras.Model` that checks its array inputs; the base of `RBM` and `DBN`."""

    visible = None

    @property
    def n_visible(self):
        raise NotImplementedError

    def strategy_scope(self):
        """The scope of the tf.distribute strategy the model was made in, unless it is current."""
        return backend.strategy_scope(getattr(self, "distribute_strategy", None))

    def _check_and_build(self, x, name):
        """Validates array data against the input units and builds the model on first sight."""
        x = validation.check_array(x, self.visible, self.n_visible, name)
        if not self.built:
            self.build((None, x.shape[1]))
        return x

    def __call__(self, inputs, *args, **kwargs):
        if validation.is_array_like(inputs):
            inputs = self._check_and_build(inputs, "input")
        return super().__call__(inputs, *args, **kwargs)

    def _call_unchecked(self, inputs, **kwargs):
        """Calls the model inside another model that checked its own input, without checking again.

        Dropout scales the units it keeps by ``1 / (1 - rate)``, so a layer fed by
        it can see values outside its units' range in training.
        """
        return keras.Model.__call__(self, inputs, **kwargs)

    def _checked_fit_inputs(self, x, kwargs):
        """Checks ``x`` and ``validation_data`` and adds the callbacks.

        Arrays are checked now, datasets per batch.
        """
        if validation.is_array_like(x):
            x = self._check_and_build(x, "training data")
        elif validation.is_tf_dataset(x):
            x = validation.check_dataset(x, self.visible, self.n_visible)
            width = validation.feature_width(x)
            if not self.built and width is not None:
                self.build((None, width))
        validation_data = kwargs.get("validation_data")
        if (
            isinstance(validation_data, tuple)
            and validation_data
            and validation.is_array_like(validation_data[0])
        ):
            checked = self._check_and_build(
                validation_data[0], "validation data"
            )  # (x, y) or (x, y, sample_weight)
            kwargs["validation_data"] = (checked,) + tuple(validation_data[1:])
        elif validation.is_array_like(validation_data):
            kwargs["validation_data"] = self._check_and_build(validation_data, "validation data")
        kwargs["callbacks"] = StepProgbarLogger.added_to(
            DivergenceGuard.added_to(kwargs.get("callbacks"))
        )
        return x

    def _guarded_fit(self, *args, **kwargs):
        """`keras.Model.fit`, with a batch rejected while streaming turned into a ``ValueError``."""
        with validation.restore_on_bad_batch(self):
            return super().fit(*args, **kwargs)

    def predict(self, x, *args, **kwargs):
        if validation.is_array_like(x):
            x = self._check_and_build(x, "input")
        return super().predict(x, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        if validation.is_array_like(x):
            x = self._check_and_build(x, "evaluation data")
        kwargs["callbacks"] = StepProgbarLogger.added_to(kwargs.get("callbacks"))
        return super().evaluate(x, y, *args, **kwargs)

    def export(
        self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs
    ):
        """Exports the model for inference (see `keras.Model.export`).

        The artifact needs neither Keras nor keras_dbn to run: a TF SavedModel's
        ``serve`` endpoint returns the same outputs as calling the model.
        ``format`` may be ``"tf_saved_model"``, ``"onnx"`` (needs the ``onnx``
        extra) or ``"litert"`` (TFLite). No prior call is needed. Keras exports
        SavedModels from TensorFlow and JAX, ONNX from TensorFlow and PyTorch
        (JAX needs ``jax2onnx``), LiteRT from TensorFlow (docs/backends.md).
        """
        backend.check_export_format(format)
        if not self.built:
            raise ValueError(f"Build or fit the {type(self).__name__} before exporting it.")
        input_signature = input_signature or [
            keras.InputSpec(shape=(None, self.n_visible), dtype="float32")
        ]
        return super().export(
            filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs
        )


#: Default ``steps_per_execution`` of `UnsupervisedModel.compile`: training steps per traced call.
STEPS_PER_EXECUTION = 100

#: Multiply-adds (rows seen in all epochs times trainable weights) from which a `fit` with
#: ``jit_compile="auto"`` on a TensorFlow CPU compiles its float32 step with XLA: a few
#: seconds of training (an epoch of a 784-500 RBM on MNIST is 2.4e10).
XLA_MIN_WORK = 1e10


class SavesSeedState:
    """Saves the model's sampler (``seed_generator``) state with its weights.

    A `keras.random.SeedGenerator`'s state is not among the weights Keras saves:
    without this, sampling after loading would restart from the initial seed.
    """

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


class UnsupervisedModel(SavesSeedState, CheckedModel):
    """A `CheckedModel` that trains itself without labels: the base of `RBM`.

    Subclasses implement ``rule_gradients(batch, update_chains)``, which
    returns ``(gradients of rule_variables(), diagnostics)``, list one metric
    per diagnostic in ``metrics``, and hold their sampler in ``seed_generator``
    and their shuffle seed in ``shuffle_seed``. This class runs the rule in
    ``train_step`` and ``test_step``, streams arrays to ``fit`` and saves the
    sampler's state with the weights. Its optimizer is built for
    ``rule_variables()``, so a checkpoint restores its state before a `fit`.
    """

    def _start_fit(self, x):
        """Called by `fit` with checked training arrays, before training starts."""

    def _batch(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return ops.cast(x, self.compute_dtype)

    def _record(self, diagnostics):
        for metric in self.metrics:
            metric.update_state(diagnostics[metric.name])
        return {m.name: m.result() for m in self.metrics}

    def rule_gradients(self, batch, update_chains=True):
        """The learning rule on one batch: ``(gradients of rule_variables(), diagnostics)``.

        ``update_chains=False`` (evaluation) leaves every sampler's chains where they are.
        """
        raise NotImplementedError

    def train_step(self, *args):
        """One step of the learning rule (as the backend's trainer calls it, `backend.run_step`)."""
        return backend.run_step(self._train_step, self._training_state, *args)

    def _training_state(self):
        return [
            self.trainable_variables,
            self.non_trainable_variables,
            self.optimizer.variables,
            self.metrics_variables,
        ]

    def rule_variables(self):
        """The variables the learning rule's gradients are for, in their order."""
        return self.trainable_variables

    def _train_step(self, data):
        gradients, diagnostics = self.rule_gradients(self._batch(data))
        with backend.no_grad():
            self.optimizer.apply(gradients, self.rule_variables())
        return self._record(diagnostics)

    def test_step(self, *args):
        """The diagnostics of one batch; chains do not advance."""
        return backend.run_step(self._test_step, self._test_state, *args)

    def _test_state(self):
        return [self.trainable_variables, self.non_trainable_variables, self.metrics_variables]

    def _test_step(self, data):
        _, diagnostics = self.rule_gradients(self._batch(data), update_chains=False)
        return self._record(diagnostics)

    def compile(self, optimizer="rmsprop", steps_per_execution=None, jit_compile="auto", **kwargs):
        """Configures training; see `keras.Model.compile` (no loss or metrics needed).

        Same arguments as Keras, but ``steps_per_execution=None`` runs
        `STEPS_PER_EXECUTION` steps per traced call: a CD step is a few small
        matrix products, and one call per batch would cost about as much again.
        Callbacks then see batch ends only every ``steps_per_execution``
        batches (pass 1 for each). Under a `tf.distribute` strategy and on
        PyTorch it is 1: Keras 3 runs one step per call there.
        ``jit_compile="auto"`` is Keras' choice (XLA on accelerators and on JAX),
        except that on a TensorFlow CPU a float32 model's `fit` compiles its
        step with XLA once the fit is large enough to repay the compilation
        (`XLA_MIN_WORK`; docs/performance.md).
        """
        steps_per_execution = backend.steps_per_execution(
            steps_per_execution,
            distributed=backend.has_strategy(getattr(self, "distribute_strategy", None)),
            default=STEPS_PER_EXECUTION,
        )
        super().compile(
            optimizer=optimizer,
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
            **kwargs,
        )
        self._auto_jit_compile = jit_compile == "auto"
        if self._auto_jit_compile:  # settled per fit; a reloaded model settles it again
            self._compile_config.config["jit_compile"] = "auto"

    def _choose_jit_compile(self, rows):
        """Turns XLA on for a `fit` over ``rows`` rows (all epochs) if ``jit_compile="auto"`` and it
        pays.

        Keras' ``"auto"`` leaves XLA off on CPUs. For the float32 CD step on a
        TensorFlow CPU, XLA took 10-26% less time per epoch (docs/performance.md)
        but about a second to compile, so fits from `XLA_MIN_WORK` multiply-adds
        (rows times trainable weights) on use it and smaller ones keep the graph.
        bfloat16 products stay on oneDNN's kernels, which XLA on CPU does not use.
        """
        if not getattr(self, "_auto_jit_compile", False) or not backend.cpu_xla_is_ours_to_choose(
            self
        ):
            return
        weights = sum(int(np.prod(v.shape)) for v in self.trainable_variables)
        use_xla = self.compute_dtype == "float32" and rows * weights >= XLA_MIN_WORK
        if use_xla != self.jit_compile:
            self.jit_compile = use_xla
            self.train_function = self.test_function = self.predict_function = None

    def compile_from_config(self, config):
        # Keras skips models that override `compile`; this one only changes a default.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self._build_optimizer()

    def _build_optimizer(self):
        """Builds the optimizer for `rule_variables` (as its updates find them) if it is not built.

        Keras would build it for ``trainable_variables`` at the start of `fit`, after
        a checkpoint's optimizer state was to be restored into it.
        """
        if self.built and self.optimizer is not None and not self.optimizer.built:
            with self.strategy_scope():
                self.optimizer.build(self.rule_variables())

    def fit_batches(self, x, batch_size, shuffle=True, labels=None):
        """The batches `fit` streams from an array, shuffled per epoch
        by ``(seed, optimizer step)``, class-balanced by ``labels`` if given.

        See `keras_dbn.data.array_batches`; needs a compiled model.
        """
        return data.array_batches(
            x,
            batch_size,
            shuffle=shuffle,
            seed=self.shuffle_seed,
            epoch_key=self._step_count,
            labels=labels,
        )

    def _step_count(self):
        """The optimizer's step count.

        On JAX during `fit`, the one recorded when an epoch may start.
        """
        recorded = getattr(self, "_epoch_start_step", None)
        return (
            int(ops.convert_to_numpy(self.optimizer.iterations)) if recorded is None else recorded
        )

    def _record_epoch_start_step(self, *_):
        self._epoch_start_step = int(ops.convert_to_numpy(self.optimizer.iterations))

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        shuffle=True,
        validation_split=0.0,
        balance_labels=None,
        **kwargs,
    ):
        """Trains on ``x`` (labels are not used). See `keras.Model.fit`.

        Arrays are checked first (shape, dtype, NaN/inf, range of the visible
        units), then streamed batch by batch (`fit_batches`), so a memory-mapped
        array larger than memory trains, and each epoch's shuffle depends only
        on the seed and the optimizer's step count: a run resumed by
        `keras.callbacks.BackupAndRestore` continues exactly as an
        uninterrupted one. A run whose metrics or weights become non-finite
        stops with `keras_dbn.TrainingDivergedError` and the weights
        of the last finite epoch.

        ``balance_labels``, one class per row of an array ``x``, makes every
        batch hold the classes in their shares of the data
        (`keras_dbn.data.balanced_order`); the order stays a function of the
        seed and the step count.
        """
        if balance_labels is not None and not (
            isinstance(x, np.ndarray) and not isinstance(x, np.memmap)
        ):
            raise ValueError("`balance_labels` needs `x` as an in-memory numpy array.")
        x = self._checked_fit_inputs(x, kwargs)
        if isinstance(x, np.ndarray):
            balance_labels = data.checked_labels(x, balance_labels, bool(shuffle))
            self._start_fit(x)
            if validation_split:
                cut = int(len(x) * (1.0 - validation_split))
                x, kwargs["validation_data"] = x[:cut], x[cut:]
                balance_labels = None if balance_labels is None else balance_labels[:cut]
            self._choose_jit_compile(
                len(x) * (kwargs.get("epochs", 1) - kwargs.get("initial_epoch", 0))
            )
            batches = self.fit_batches(
                x, batch_size or 32, shuffle=bool(shuffle), labels=balance_labels
            )
            x, batch_size = batches, None
            kwargs["callbacks"] = kwargs["callbacks"] + backend.epoch_start_recorders(
                self._record_epoch_start_step
            )
        self._build_optimizer()
        try:  # datasets shuffle themselves (ours does, per epoch)
            return self._guarded_fit(x, None, batch_size=batch_size, shuffle=False, **kwargs)
        finally:
            self._epoch_start_step = None

    def evaluate(self, x=None, y=None, **kwargs):
        """Reports the diagnostics on ``x`` (labels are not used); chains do not advance."""
        return super().evaluate(x, None, **kwargs)
