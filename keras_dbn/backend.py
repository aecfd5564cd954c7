"""What differs between the Keras backends (TensorFlow, JAX, PyTorch), in one place.

The models and their math use `keras.ops` and `keras.random`; what Keras 3 leaves to
each backend is here: differentiating a function (the CD rule is the gradient of a
free-energy gap), the stateless training step JAX's trainer calls, compiling a
sampler that updates the model's state, loops whose body draws random numbers,
float64 on JAX and PyTorch, the few ops Keras lacks (``lgamma``) and `tf.distribute`'s
replicas. TensorFlow is the default and the reference; `name()` tells which runs.

Example:

>>> from keras_dbn import backend
>>> backend.name() in ("tensorflow", "jax", "torch")
True
"""

import contextlib
import functools
import warnings

import keras
from keras import ops


def name():
    """The Keras backend in use: ``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    return keras.backend.backend()


def require_tensorflow(feature):
    """Raises ``ValueError`` naming ``feature`` unless the backend is TensorFlow."""
    if name() != "tensorflow":
        raise ValueError(
            f"{feature} needs the TensorFlow backend (KERAS_BACKEND=tensorflow); "
            f"this process runs Keras on {name()}."
        )


def check_export_format(format):
    """Raises ``ValueError`` where the backend cannot export ``format`` (SavedModel on PyTorch)."""
    if format == "tf_saved_model" and name() == "torch":
        raise ValueError(
            "Exporting a TF SavedModel needs the TensorFlow or JAX backend; on PyTorch, "
            "export with format='onnx' (this process runs Keras on torch)."
        )


def is_eager_tensor(x):
    """Whether ``x`` is a concrete backend tensor holding values (not a symbolic or traced one).

    PyTorch tensors are never checked eagerly: inside a training step they carry
    gradients, and checking each step's batch would cost a copy to numpy.
    """
    if name() == "tensorflow":
        import tensorflow as tf

        return tf.is_tensor(x) and not isinstance(x, tf.SparseTensor) and hasattr(x, "numpy")
    if name() == "jax":
        import jax

        return isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer)
    return False


# ------------------------------------------------------------------ gradients
def value_and_gradients(fn, variables):
    """``fn(*values)`` and its gradient with respect to the values of ``variables``.

    Args:
        fn: a function of one tensor per variable returning ``(loss, aux)``; it
            must read the variables only through its arguments.
        variables: the `keras.Variable`s to differentiate by.

    Returns:
        ``(loss, aux, gradients)``, one gradient per variable.
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch([v.value for v in variables])  # frozen (non-trainable) ones too
            loss, aux = fn(*variables)
        return loss, aux, tape.gradient(loss, variables)
    if backend == "jax":
        import jax

        grad_fn = jax.value_and_grad(fn, argnums=tuple(range(len(variables))), has_aux=True)
        (loss, aux), gradients = grad_fn(*[v.value for v in variables])
        return loss, aux, list(gradients)
    import torch

    with torch.enable_grad():
        # Leaves of their own: the gradient does not depend on whether the layer is trainable
        # (Keras turns requires_grad off for a frozen layer's variables).
        values = [v.value.detach().requires_grad_() for v in variables]
        loss, aux = fn(*values)
        gradients = torch.autograd.grad(loss, values)
    detach = lambda x: x.detach() if isinstance(x, torch.Tensor) else x  # noqa: E731
    return loss.detach(), keras.tree.map_structure(detach, aux), list(gradients)


def no_grad():
    """A context where PyTorch records no gradients (for optimizer updates); a no-op elsewhere."""
    if name() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def without_gradients(fn):
    """Decorates a sampling or inference method: on PyTorch it records no gradients."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with no_grad():
            return fn(*args, **kwargs)

    return wrapper


# ------------------------------------------------------------------- state
def fit_state(model):
    """The variables a ``model.fit`` may change: on JAX, also the optimizer's and metrics'.

    JAX's trainer detaches all of them from their values during `fit` (it passes
    the values in and out of the compiled step), so a `fit` that stops on an
    exception must put them all back.
    """
    variables = list(model.variables)
    if name() == "jax":
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built and model.built:
            optimizer.build(
                model.trainable_variables
            )  # as fit would: its variables exist to snapshot
        variables += list(optimizer.variables if optimizer is not None else []) + list(
            model.metrics_variables
        )
    return variables


def is_detached(variable):
    """Whether JAX's trainer left ``variable`` without a value (it does so during `fit`)."""
    return name() == "jax" and getattr(variable, "_value", True) is None


def _stateless(fn, variables, values):
    """``fn()`` with ``variables`` read as ``values``.

    Returns ``(its output, their values after)``.
    """
    with keras.StatelessScope(state_mapping=list(zip(variables, values))) as scope:
        outputs = fn()
    after = [scope.get_current_value(v) for v in variables]
    return outputs, [value if new is None else new for value, new in zip(values, after)]


def _stateless_step(step, variable_groups, state, data):
    """Runs a stateful step as JAX's trainer calls it: ``(state, data) -> (logs, new state)``.

    Args:
        step: a function of ``data`` that reads and assigns Keras variables.
        variable_groups: a function returning the variables behind each group of
            ``state`` (trainable, non-trainable, optimizer, metrics for a
            training step).
        state: the values of those groups, as the trainer passes them.
        data: the batch.
    """
    variable_groups = variable_groups()
    variables = [v for group in variable_groups for v in group]
    logs, values = _stateless(
        lambda: step(data), variables, [value for values in state for value in values]
    )
    new_state, start = [], 0
    for group in variable_groups:
        new_state.append(values[start : start + len(group)])
        start += len(group)
    return logs, tuple(new_state)


def _stateful_step(step, variable_groups, data):
    """Runs a stateful step as TensorFlow's and PyTorch's trainers call it: ``data -> logs``."""
    return step(data)


def run_step(step, variable_groups, *trainer_args):
    """Runs a model's stateful training or test step as the backend's trainer calls it.

    JAX's trainer passes ``(state, data)`` and takes ``(logs, new state)``; the
    others pass ``data`` and take ``logs``. The way is chosen once, at import, as
    Keras chooses its trainer.

    Args:
        step: a function of the batch that reads and assigns Keras variables.
        variable_groups: a function returning the variables behind each group of
            JAX's state (trainable, non-trainable, optimizer, metrics for a
            training step); not called elsewhere.
        *trainer_args: what the trainer passed to ``train_step`` or ``test_step``.
    """
    return _STEP_RUNNER(step, variable_groups, *trainer_args)


_STEP_RUNNER = _stateless_step if name() == "jax" else _stateful_step


def steps_per_execution(requested, distributed, default):
    """The training steps per traced call that the backend's trainer will run.

    Keras 3 runs one step per call on PyTorch (a request for more is ignored, with
    a warning) and under a `tf.distribute` strategy; elsewhere ``requested``, or
    ``default`` when it is None.
    """
    if name() == "torch":
        if requested is not None and requested > 1:
            warnings.warn(
                "Keras runs one step per call on PyTorch: "
                f"steps_per_execution={requested} is ignored.",
                stacklevel=3,
            )
        return 1
    if requested is None:
        return 1 if distributed else default
    return requested


def cpu_xla_is_ours_to_choose(model):
    """Whether ``jit_compile="auto"`` leaves XLA to us: TensorFlow, graph mode, a CPU only,
    no `tf.distribute` strategy (elsewhere Keras' own choice stands)."""
    if name() != "tensorflow" or model.run_eagerly:
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU") and not has_strategy(
        model.distribute_strategy
    )


def epoch_start_recorders(record):
    """Callbacks that call ``record()`` whenever an epoch may start, where the backend needs them.

    JAX's trainer detaches the variables' values during an epoch, when the next
    epoch's batches are drawn, so a value that decides them (the optimizer's step
    count) must be read where they are attached: at the start of training (after
    `keras.callbacks.BackupAndRestore` restored them) and at each epoch's end.
    Other backends read it live: no callbacks.
    """
    if name() != "jax":
        return []
    return [keras.callbacks.LambdaCallback(on_train_begin=record, on_epoch_end=record)]


def compiled(fn, variables=(), static_argnums=()):
    """``fn`` compiled once per input signature, updating ``variables`` as ``fn`` assigns them.

    TensorFlow traces it with `tf.function`; JAX jit-compiles it with the values of
    ``variables`` (weights, persistent chains, seed states) passed in and out;
    PyTorch runs it as it is, recording no gradients.

    Args:
        fn: a function of tensors (and, at ``static_argnums``, Python values).
        variables: every `keras.Variable` that ``fn`` reads or assigns (JAX only).
        static_argnums: positions of Python arguments (a new value compiles anew).
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, reduce_retracing=True)
    if backend == "torch":
        return without_gradients(fn)
    import jax

    variables = list(variables)
    pure = lambda values, *args: _stateless(lambda: fn(*args), variables, values)  # noqa: E731
    jitted = jax.jit(pure, static_argnums=tuple(i + 1 for i in static_argnums))

    def run(*args):
        outputs, values = jitted([v.value for v in variables], *args)
        for variable, value in zip(variables, values):
            variable.assign(value)
        return outputs

    return run


def fori_loop(lower, upper, body, init, state=()):
    """`keras.ops.fori_loop` whose ``body`` may assign the variables in ``state``.

    A Gibbs chain draws from a `keras.random.SeedGenerator` at every step, which
    assigns its state variable. JAX traces the loop's body once, so there the
    values of ``state`` are carried through the loop (inside the current
    `keras.StatelessScope`, if any) instead of assigned from inside the trace.

    Args:
        lower: first loop index.
        upper: loop index bound (exclusive).
        body: ``body(i, loop_state) -> loop_state``.
        init: the initial loop state.
        state: the variables ``body`` assigns, such as seed generators' states.

    Returns:
        The final loop state.
    """
    if name() != "jax":
        return ops.fori_loop(lower, upper, body, init)
    import jax
    from keras.src.backend.common.stateless_scope import get_stateless_scope

    variables, scope = list(state), get_stateless_scope()

    def carried(i, carry):
        values, loop_state = carry
        if scope is None:
            loop_state, values = _stateless(lambda: body(i, loop_state), variables, values)
            return values, loop_state
        for variable, value in zip(variables, values):
            scope.add_update((variable, value))
        loop_state = body(i, loop_state)
        return [scope.get_current_value(v) for v in variables], loop_state

    values, result = jax.lax.fori_loop(lower, upper, carried, ([v.value for v in variables], init))
    for variable, value in zip(variables, values):
        scope.add_update((variable, value)) if scope is not None else variable.assign(value)
    return result


def float64(fn):
    """Decorates ``fn`` to run where float64 tensors are float64 (JAX needs ``jax_enable_x64``)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if name() != "jax":
            return fn(*args, **kwargs)
        import jax

        with jax.enable_x64(True):
            return fn(*args, **kwargs)

    return wrapper


def lgamma(x):
    """``log |Gamma(x)|`` elementwise (Keras has no such op)."""
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.math.lgamma(x)
    if backend == "jax":
        import jax

        return jax.scipy.special.gammaln(x)
    import torch

    return torch.lgamma(ops.convert_to_tensor(x))


def matmul(a, b):
    """`keras.ops.matmul` that keeps float64 (Keras' PyTorch matmul computes float64 in float32)."""
    if name() == "torch":
        import torch

        return torch.matmul(ops.convert_to_tensor(a), ops.convert_to_tensor(b))
    return ops.matmul(a, b)


def softplus(x):
    """``log(1 + exp(x))`` elementwise, exact in float64 on every backend.

    PyTorch's own softplus returns ``x`` above 20, off by up to ``exp(-20)`` per unit:
    enough to move an exact log Z at 1e-9.
    """
    if name() == "torch":
        import torch

        x = ops.convert_to_tensor(x)
        return torch.logaddexp(x, torch.zeros_like(x))
    return ops.softplus(x)


# ------------------------------------------------------------------ random
def _tf_random_algorithm():
    """TF's stateless random algorithm for the function being traced.

    Under XLA (``jit_compile=True``) on CPU, TF's default Philox draws were measured
    at about 70 ns a number, more than the products of a CD step; XLA's native
    ThreeFry at about 2.5 ns. Outside XLA, TF's CPU kernels implement only Philox.
    """
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util

    in_xla = control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())
    return "threefry" if in_xla else "auto_select"


def _random(kind, x, seed):
    """Uniform [0, 1) or standard normal draws shaped like ``x``.

    Drawn from a `keras.random.SeedGenerator`.
    """
    if name() != "tensorflow":
        draw = keras.random.uniform if kind == "uniform" else keras.random.normal
        return draw(ops.shape(x), dtype=ops.dtype(x), seed=seed)
    import tensorflow as tf

    pair = tf.cast(tf.math.floormod(seed.next(), tf.int32.max - 1), tf.int32)
    draw = tf.random.stateless_uniform if kind == "uniform" else tf.random.stateless_normal
    return draw(ops.shape(x), pair, dtype=x.dtype, alg=_tf_random_algorithm())


def uniform_like(x, seed):
    """Uniform draws in [0, 1), shaped and typed like ``x``."""
    return _random("uniform", x, seed)


def normal_like(x, seed):
    """Standard normal draws, shaped and typed like ``x``."""
    return _random("normal", x, seed)


# -------------------------------------------------------------- tf.distribute
def replica():
    """``(replica id, replicas in sync)`` inside a `tf.distribute` step; ``(None, 1)`` elsewhere."""
    if name() != "tensorflow":
        return None, 1
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None:
        return None, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def num_replicas():
    """Replicas of the current `tf.distribute` strategy (1 on other backends)."""
    if name() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def strategy_scope(strategy):
    """The scope of ``strategy`` unless it is the current one (or the backend has none)."""
    if name() != "tensorflow" or strategy is None:
        return contextlib.nullcontext()
    import tensorflow as tf

    return (
        contextlib.nullcontext() if strategy is tf.distribute.get_strategy() else strategy.scope()
    )


def has_strategy(strategy):
    """Whether a `tf.distribute` strategy is current or ``strategy`` is not the default one."""
    if name() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy() or (
        strategy is not None and strategy is not tf.distribute.get_strategy()
    )
