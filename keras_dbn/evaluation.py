"""How well an RBM, a DBM or a DBN models its data, in nats: partition functions, likelihoods
and variational bounds.

The log-likelihood of an RBM, ``log p(v) = -F(v) - log Z``, needs the partition
function ``Z = sum_{v,h} exp(-E(v, h))``. For small models it is computed exactly by
enumerating the smaller layer (`exact_log_partition`); for real models it is
estimated by Annealed Importance Sampling (`ais_log_partition`, Salakhutdinov &
Murray, 2008). `pseudo_log_likelihood` needs no partition function at all.

A `keras_dbn.DBM` is bipartite between its odd layers ``(h_1, h_3, ...)`` and its
even layers ``(v, h_2, ...)``, so it is an RBM between the two with a
block-structured weight matrix (`bipartite_rbm`): `exact_log_partition` and
`ais_log_partition` take a DBM as they take an RBM. Where ``log p(v)`` itself has no
closed form (a DBM, a DBN), `elbo` bounds it below.

All unit-specific math comes from the unit types (`keras_dbn.units`): integrating
a layer out of the joint is its ``log_partition``, its own energy term is its
``energy``.

Example:

>>> import numpy as np, keras
>>> from keras_dbn import RBM, evaluation
>>> x = (np.random.default_rng(0).random((64, 6)) > 0.5).astype("float32")
>>> rbm = RBM(4, seed=0)
>>> rbm.compile(keras.optimizers.SGD(0.1))
>>> _ = rbm.fit(x, epochs=2, batch_size=16, verbose=0)
>>> log_z = evaluation.exact_log_partition(rbm)
>>> ais = evaluation.ais_log_partition(rbm, num_betas=1000, seed=0)
>>> bool(abs(ais.log_z - log_z) < 0.1)
True
>>> bool(evaluation.log_likelihood(rbm, x, log_z) < 0)
True
"""

import collections
import math

import keras
import numpy as np
from keras import ops

from keras_dbn import backend, validation
from keras_dbn import dbm as dbm_lib
from keras_dbn import units as units_lib
from keras_dbn.dbn import DBN
from keras_dbn.rbm import RBM

#: Largest number of binary units `exact_log_partition` enumerates (2**20 states).
MAX_ENUMERATED_UNITS = 20
# Rows (data rows times samples) per batch of the DBN bound.
_ELBO_ROWS = 1 << 14
# States scored per batch during enumeration.
_STATES_PER_BATCH = 4096
# Elements of the (rows, n_visible, max(n_visible, units)) tensors per pseudo-likelihood batch.
_PSEUDO_LIKELIHOOD_ELEMENTS = 1 << 22


class AISResult(collections.namedtuple("AISResult", ["log_z", "log_z_lower", "log_z_upper"])):
    """Result of `ais_log_partition`.

    Attributes:
        log_z: the AIS estimate of log Z, ``log(mean(w)) + log Z_base``.
        log_z_lower: ``log(mean(w) - 3 std(w) / sqrt(num_chains)) + log Z_base``
            (``-inf`` when that interval reaches zero).
        log_z_upper: ``log(mean(w) + 3 std(w) / sqrt(num_chains)) + log Z_base``.
    """

    __slots__ = ()


def _check_rbm(rbm):
    if not isinstance(rbm, RBM):
        raise ValueError(f"Expected a keras_dbn.RBM, got {type(rbm).__name__}.")
    if not rbm.built:
        raise ValueError("Build or fit the RBM before evaluating it.")


def _check_built(model):
    if not model.built:
        raise ValueError(f"Build or fit the {type(model).__name__} before evaluating it.")


def _as_rbm(model):
    """``model`` itself if it is an `RBM`, its `bipartite_rbm` if it is a `keras_dbn.DBM`."""
    if isinstance(model, dbm_lib.DBM):
        return bipartite_rbm(model)
    _check_rbm(model)
    return model


def bipartite_rbm(dbm):
    """The `RBM` between a DBM's odd layers (hidden) and even layers (visible).

    No two layers of the same parity are connected, so the DBM's energy is an
    RBM's: visible units ``[v, h_2, h_4, ...]`` (`keras_dbn.units.Joint` of their
    types, or one Bernoulli layer when they all are), hidden units ``[h_1, h_3,
    ...]``, and a kernel whose block ``(even layer, odd layer)`` is ``W_l`` when
    the two are layers ``l-1`` and ``l``, ``W_l^T`` when they are ``l`` and ``l-1``,
    and zero otherwise. Both have the same partition function and the same
    marginal over the even layers.

    Args:
        dbm: a built `keras_dbn.DBM`.

    Returns:
        A built `RBM` holding copies of the DBM's weights.
    """
    _check_built(dbm)
    widths = [int(b.shape[0]) for b in dbm.biases]
    even, odd = list(range(0, len(widths), 2)), list(range(1, len(widths), 2))
    offsets = {
        i: sum(widths[k] for k in group[: group.index(i)]) for group in (even, odd) for i in group
    }
    kernel = np.zeros((sum(widths[i] for i in even), sum(widths[i] for i in odd)), "float32")
    for i, weights in enumerate(dbm.kernels, start=1):
        weights = ops.convert_to_numpy(weights)
        row, column = (i - 1, i) if i % 2 else (i, i - 1)
        block = weights if i % 2 else weights.T
        kernel[
            offsets[row] : offsets[row] + widths[row],
            offsets[column] : offsets[column] + widths[column],
        ] = block
    units = dbm.units
    visible = (
        "bernoulli"
        if all(units[i] == units_lib.Bernoulli() for i in even)
        else units_lib.Joint([(units[i], widths[i]) for i in even])
    )
    rbm = RBM(kernel.shape[1], visible=visible, hidden="bernoulli", name=f"{dbm.name}_bipartite")
    rbm.build((None, kernel.shape[0]))
    biases = [ops.convert_to_numpy(b) for b in dbm.biases]
    rbm.kernel.assign(kernel)
    rbm.visible_bias.assign(np.concatenate([biases[i] for i in even]))
    rbm.hidden_bias.assign(np.concatenate([biases[i] for i in odd]))
    return rbm


def _parameters(rbm, dtype):
    """``(kernel, hidden_bias, visible_bias)`` as tensors of ``dtype``."""
    return tuple(
        ops.cast(ops.stop_gradient(w), dtype)
        for w in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias)
    )


# ---------------------------------------------------------------- exact
@backend.float64
def exact_log_partition(rbm):
    """The exact log partition function ``log Z`` of a small RBM, by enumeration.

    Sums ``exp(-F)`` over every state of the smaller enumerable layer (Bernoulli,
    Binomial or Softmax units), the other layer being integrated out analytically
    by its unit type's ``log_partition``. For Gaussian visible units the hidden
    layer is enumerated. Computed in float64 with a running log-sum-exp over batches of
    states, so 2**20 states need little memory.

    A `keras_dbn.DBM` is enumerated as its `bipartite_rbm`: its odd layers or its
    even layers, whichever have fewer states.

    Args:
        rbm: a built `keras_dbn.RBM` (or `keras_dbn.DBM`) whose smaller enumerable
            layer has at most 2**`MAX_ENUMERATED_UNITS` states.

    Returns:
        ``log Z`` as a Python float.

    Raises:
        ValueError: if neither layer can be enumerated, or the smaller one has
            more than 20 units (or more than 2**20 states).
    """
    rbm = _as_rbm(rbm)
    kernel, hidden_bias, visible_bias = _parameters(rbm, "float64")
    layers = [
        # (enumerated units, their size, their bias, other units, other bias,
        #  kernel to the other layer)
        (rbm.visible, rbm.n_visible, visible_bias, rbm.hidden, hidden_bias, kernel),
        (rbm.hidden, rbm.units, hidden_bias, rbm.visible, visible_bias, ops.transpose(kernel)),
    ]
    layers = [layer for layer in layers if layer[0].enumerable]
    if not layers:
        raise ValueError(
            f"Neither layer of {rbm.visible} visible and {rbm.hidden} hidden units "
            "can be enumerated."
        )
    unit, n, bias, other, other_bias, weights = min(
        layers, key=lambda layer: layer[0].num_states(layer[1])
    )
    num_states = unit.num_states(n)
    if num_states > 2**MAX_ENUMERATED_UNITS:
        raise ValueError(
            f"exact_log_partition enumerates the smaller binary layer, which has {n} units "
            f"({num_states} states); at most {MAX_ENUMERATED_UNITS} binary units (2**"
            f"{MAX_ENUMERATED_UNITS} states) can be enumerated. Use ais_log_partition instead."
        )
    chunks = []
    for start in range(0, num_states, _STATES_PER_BATCH):
        states = ops.convert_to_tensor(
            unit.states(n, start, min(start + _STATES_PER_BATCH, num_states))
        )
        # -F(states), the other layer summed out.
        free_energy = units_lib.free_energy(
            unit, other, states, backend.matmul(states, weights) + other_bias, bias, other_bias
        )
        chunks.append(ops.logsumexp(-free_energy))
    return float(ops.logsumexp(ops.stack(chunks)))


# ------------------------------------------------------------------- AIS
def annealing_schedule(num_betas):
    """Inverse temperatures ``0 = beta_0 < ... < beta_{K-1} = 1`` for AIS.

    Salakhutdinov & Murray (2008) used 1,000 steps spaced evenly over [0, 0.5),
    4,000 over [0.5, 0.9) and 10,000 over [0.9, 1] (14,500 in all). This keeps
    those proportions for any ``num_betas``: finer steps where the distributions
    change fastest, near the target model.

    Args:
        num_betas: number of intermediate distributions including both ends (>= 3).

    Returns:
        A float64 numpy array of shape ``(num_betas,)``.

    Example:

    >>> from keras_dbn.evaluation import annealing_schedule
    >>> betas = annealing_schedule(14500)
    >>> float(betas[0]), float(betas[1000]), float(betas[5000]), float(betas[-1])
    (0.0, 0.5, 0.9, 1.0)
    >>> annealing_schedule(3).tolist()
    [0.0, 0.9236814401515949, 1.0]
    """
    num_betas = validation.check_positive_int(num_betas, "num_betas", minimum=3)
    # Piecewise linear in the step index, with knots at steps 1000 and 5000 of 14,500.
    knots = np.array([0.0, 1000.0, 5000.0, 14499.0]) * (num_betas - 1) / 14499.0
    return np.interp(np.arange(num_betas), knots, [0.0, 0.5, 0.9, 1.0])


def _base_rate_biases(rbm, data):
    """Visible biases of AIS's base-rate model: fit to the data marginals (zeros without data)."""
    if data is not None:
        data = np.mean(
            validation.check_array(data, rbm.visible, rbm.n_visible, "data"),
            axis=0,
            dtype="float64",
        )
    return rbm.visible.base_rate_bias(rbm.n_visible, data)


@backend.float64
def ais_log_partition(rbm, num_chains=100, num_betas=10000, seed=None, data=None):
    """Estimates ``log Z`` of an RBM by Annealed Importance Sampling.

    Follows Salakhutdinov & Murray (2008). The base model A has the RBM's unit
    types, zero weights, zero hidden biases and visible biases ``a_A`` fitted to
    the marginals of ``data`` (each unit type's ``base_rate_bias``), so its
    ``Z_A`` is exact. The intermediate distributions are
    ``p_k(v, h) ∝ exp(-(1 - beta_k) E_A(v, h) - beta_k E(v, h))`` with the betas of
    `annealing_schedule`. Each chain starts with an exact draw from A; at every
    beta its log-weight gains ``log p*_k(v) - log p*_{k-1}(v)`` (the unnormalised
    marginals with the hidden layer summed out, every beta-dependent term
    included, in float64), then one Gibbs sweep of the intermediate RBM moves it.
    The whole annealing loop is compiled once (`keras_dbn.backend.compiled`) over all chains.

    AIS estimates ``Z`` without bias, so ``log Z`` is underestimated on average
    (and log-likelihoods overestimated) when the chains mix poorly: compare the
    bounds, or more chains and betas.

    A `keras_dbn.DBM` is annealed as its `bipartite_rbm` (Salakhutdinov &
    Hinton, 2009: the odd layers summed out, the even ones sampled), its
    base-rate model fitted to ``data`` and the mean-field posteriors of its even
    hidden layers.

    Args:
        rbm: a built `keras_dbn.RBM` with ``annealable`` hidden units (Bernoulli,
            Binomial, Softmax) and visible units with a base-rate model (all but
            ReLU), or a `keras_dbn.DBM`.
        num_chains: number of independent AIS runs (importance weights).
        num_betas: number of intermediate distributions, both ends included.
        seed: integer seed of the sampler (`keras.random.SeedGenerator`).
        data: optional training data for the base-rate visible biases.

    Returns:
        An `AISResult` ``(log_z, log_z_lower, log_z_upper)`` of floats, the bounds
        being ``log(mean(w) ± 3 std(w) / sqrt(num_chains))``.
    """
    if isinstance(rbm, dbm_lib.DBM) and data is not None:
        means = rbm.posterior(data)
        data = np.concatenate([rbm._check_and_build(data, "data")] + means[1::2], axis=1)
    rbm = _as_rbm(rbm)
    num_chains = validation.check_positive_int(num_chains, "num_chains", minimum=2)
    betas = annealing_schedule(num_betas)
    units_lib.require(rbm.hidden, "annealable", "AIS's hidden units")
    base_bias = ops.convert_to_tensor(_base_rate_biases(rbm, data)[None, :])
    zero_hidden = ops.zeros((1, rbm.units), "float64")
    log_z_base = float(
        rbm.visible.log_partition(base_bias, base_bias)[0]
        + rbm.hidden.log_partition(zero_hidden, zero_hidden)[0]
    )
    log_w = _annealed_log_weights(rbm, base_bias, betas, num_chains, seed)
    shift = log_w.max()
    w = np.exp(log_w - shift)
    mean, spread = w.mean(), 3.0 * w.std(ddof=1) / math.sqrt(num_chains)
    lower = np.log(mean - spread) if mean > spread else -np.inf
    return AISResult(
        log_z=float(log_z_base + shift + np.log(mean)),
        log_z_lower=float(log_z_base + shift + lower),
        log_z_upper=float(log_z_base + shift + np.log(mean + spread)),
    )


def _annealed_log_weights(rbm, base_bias, betas, num_chains, seed):
    """The AIS log-weights of ``num_chains`` chains annealed through ``betas``, a numpy array."""
    visible, hidden = rbm.visible, rbm.hidden
    kernel, hidden_bias, visible_bias = _parameters(rbm, "float32")
    _, hidden_bias64, visible_bias64 = _parameters(rbm, "float64")
    base_bias32 = ops.cast(base_bias, "float32")
    betas32, betas64 = (
        ops.convert_to_tensor(betas, "float32"),
        ops.convert_to_tensor(betas, "float64"),
    )
    seed_generator = keras.random.SeedGenerator(seed)

    def log_marginal(beta, v, hidden_pre):
        """log p*_beta(v): both visible energies and the tempered hidden layer summed out."""
        base = -(1.0 - beta) * visible.energy(v, base_bias)
        return base - units_lib.free_energy(
            visible, hidden, v, hidden_pre, visible_bias64, hidden_bias64, beta
        )

    def anneal_step(k, state):
        v, log_w = state
        hidden_pre = ops.matmul(v, kernel) + hidden_bias
        v64, hidden_pre64 = ops.cast(v, "float64"), ops.cast(hidden_pre, "float64")
        log_w += log_marginal(betas64[k], v64, hidden_pre64) - log_marginal(
            betas64[k - 1], v64, hidden_pre64
        )
        beta = betas32[k]
        h = hidden.sample(beta * hidden_pre, seed_generator)
        visible_pre = (1.0 - beta) * base_bias32 + beta * (
            ops.matmul(h, ops.transpose(kernel)) + visible_bias
        )
        return visible.sample(visible_pre, seed_generator), log_w

    def anneal():
        v = visible.sample(ops.repeat(base_bias32, num_chains, axis=0), seed_generator)
        log_w = ops.zeros((num_chains,), "float64")
        return backend.fori_loop(1, len(betas), anneal_step, (v, log_w), [seed_generator.state])[1]

    # On TensorFlow jit_compile=True measured no faster on CPU: the products dominate.
    return ops.convert_to_numpy(backend.compiled(anneal, [seed_generator.state])())


# ----------------------------------------------------------- likelihoods
@backend.float64
def log_likelihood(rbm, x, log_z):
    """Mean log-likelihood ``mean(-F(x)) - log Z`` of the rows of ``x``, in nats.

    Args:
        rbm: a built `keras_dbn.RBM`.
        x: data, shape ``(n_samples, n_visible)``.
        log_z: the log partition function, e.g. from `exact_log_partition` or
            ``ais_log_partition(...).log_z`` (use its bounds for an interval).

    Returns:
        The mean log-likelihood per example, a Python float.
    """
    _check_rbm(rbm)
    log_z = _check_log_z(log_z)
    free_energy = ops.convert_to_numpy(rbm.free_energy(x)).astype("float64")
    return float(-free_energy.mean() - log_z)


@backend.float64
def elbo(model, x, log_z, num_samples=100, seed=None):
    """The variational lower bound on ``log p(v)`` of each row of ``x``, in nats.

    ``log p(v) >= E_q[log p*(v, h) - log q(h | v)] - log Z`` for any distribution
    ``q`` over the hidden layers, ``p*`` the model's unnormalised joint; the gap is
    ``KL(q || p(h | v))``.

    * For a `keras_dbn.DBM`, ``q`` is its mean-field posterior (`DBM.posterior`)
      and the bound is exact, no sampling: ``-E(v, mu) + H(q) - log Z`` with
      ``E`` at the means ``mu`` and ``H`` the entropy of the factorial ``q``
      (Salakhutdinov & Hinton, 2009). ``log_z`` is the DBM's. For one hidden
      layer (an RBM) ``q`` is the exact posterior and the bound is ``log p(v)``.
    * For a `keras_dbn.DBN`, ``q`` is its generative model's recognition
      weights (factorial per layer, sampled up the stack), and the bound is
      estimated from ``num_samples`` draws per row (Salakhutdinov & Murray,
      2008): ``p*`` multiplies each directed layer's ``p(h_below | h_above)``
      (`keras_dbn.units.log_likelihood`) and the top RBM's ``exp(-F)`` over the
      layer under it, its label units summed out. ``log_z`` is the top RBM's
      (label units included), e.g. ``exact_log_partition(dbn.generative[-1])``.

    Args:
        model: a built `keras_dbn.DBM` or `keras_dbn.DBN`.
        x: data ``(n_samples, n_visible)``.
        log_z: the log partition function (of the DBM, or of the DBN's top RBM).
        num_samples: draws from ``q`` per row (DBN only).
        seed: integer seed of those draws (DBN only).

    Returns:
        A float64 numpy array ``(n_samples,)``.

    Example:

    >>> import numpy as np
    >>> from keras_dbn import DBM, evaluation
    >>> x = (np.random.default_rng(0).random((8, 6)) < 0.5).astype("float32")
    >>> dbm = DBM([4, 3], seed=0)
    >>> _ = dbm.fit_generative(x, epochs=1, batch_size=4, verbose=0)
    >>> bound = evaluation.elbo(dbm, x, evaluation.exact_log_partition(dbm))
    >>> bound.shape, bool(np.all(bound < 0))
    ((8,), True)
    """
    if not isinstance(model, (dbm_lib.DBM, DBN)):
        raise ValueError(f"Expected a keras_dbn.DBM or keras_dbn.DBN, got {type(model).__name__}.")
    _check_built(model)
    log_z = _check_log_z(log_z)
    x = model._check_and_build(x, "data")
    if isinstance(model, dbm_lib.DBM):
        return _dbm_elbo(model, x) - log_z
    num_samples = validation.check_positive_int(num_samples, "num_samples")
    return _dbn_elbo(model, x, num_samples, seed) - log_z


def _check_log_z(log_z):
    if (
        isinstance(log_z, (tuple, list))
        or not np.isfinite(np.asarray(log_z, "float64")).all()
        or np.ndim(log_z)
    ):
        raise ValueError(f"`log_z` must be a finite number, got {log_z!r}.")
    return float(log_z)


def _float64(*variables):
    return [ops.cast(ops.stop_gradient(v), "float64") for v in variables]


def _dbm_elbo(dbm, x):
    """``-E(v, mu) + H(q)`` per row, the mean field run in float64."""
    units, kernels, biases = dbm.units, _float64(*dbm.kernels), _float64(*dbm.biases)
    v = ops.convert_to_tensor(np.asarray(x, "float64"))
    means = dbm_lib.mean_field(units, v, kernels, biases, dbm.mean_field_steps)
    entropy = sum(unit.entropy(m) for unit, m in zip(units[1:], means))
    return ops.convert_to_numpy(entropy - dbm_lib.energy(units, [v] + means, kernels, biases))


def _dbn_elbo(dbn, x, num_samples, seed):
    """``mean_s [log p*(v, h_s) - log q(h_s | v)]`` per row, ``h_s ~ q``."""
    *below, top = dbn.generative or dbn.rbms
    seed_generator = keras.random.SeedGenerator(seed)
    layers = [
        (
            layer,
            _float64(layer.kernel, layer.visible_bias),
            _float64(
                layer.recognition_kernel if layer.untied else layer.kernel,
                layer.recognition_bias if layer.untied else layer.hidden_bias,
            ),
        )
        for layer in below
    ]
    top_kernel, top_hidden_bias, top_visible_bias = _float64(
        top.kernel, top.hidden_bias, top.visible_bias
    )
    width = below[-1].units if below else x.shape[1]
    labels = np.eye(top.n_visible - width) if top.n_visible > width else np.zeros((1, 0))
    rows = max(1, _ELBO_ROWS // num_samples)
    bounds = []
    for start in range(0, len(x), rows):
        chunk = np.repeat(np.asarray(x[start : start + rows], "float64"), num_samples, axis=0)
        state = ops.convert_to_tensor(chunk)
        log_ratio = ops.zeros((len(chunk),), "float64")
        for layer, (kernel, visible_bias), (recognition_kernel, recognition_bias) in layers:
            up = backend.matmul(state, recognition_kernel) + recognition_bias
            above = layer.hidden.sample(up, seed_generator)
            down = backend.matmul(above, ops.transpose(kernel)) + visible_bias
            log_ratio += units_lib.log_likelihood(layer.visible, state, down)
            log_ratio -= units_lib.log_likelihood(layer.hidden, above, up)
            state = above
        negative_free_energies = []
        for label in labels:  # -F of [features, label], each label in turn, summed out below
            joint = ops.concatenate(
                [state, ops.convert_to_tensor(np.broadcast_to(label, (len(chunk), len(label))))],
                axis=1,
            )
            pre = backend.matmul(joint, top_kernel) + top_hidden_bias
            negative_free_energies.append(
                -units_lib.free_energy(
                    top.visible, top.hidden, joint, pre, top_visible_bias, top_hidden_bias
                )
            )
        log_ratio += ops.logsumexp(ops.stack(negative_free_energies, axis=1), axis=1)
        bounds.append(ops.convert_to_numpy(log_ratio).reshape(-1, num_samples).mean(axis=1))
    return np.concatenate(bounds)


@backend.float64
def pseudo_log_likelihood(rbm, x):
    """Mean pseudo-log-likelihood ``sum_i log p(v_i | v_-i)`` of binary data, over all bits.

    Deterministic: every bit of every row is flipped, not one random bit as in
    scikit-learn's ``score_samples``. With ``v'`` the row with bit ``i`` flipped,
    ``log p(v_i | v_-i) = log sigmoid(F(v') - F(v))``; all flipped rows of a batch
    are scored at once as a ``(rows, n_visible, ...)`` tensor.

    Args:
        rbm: a built `keras_dbn.RBM` with ``binary`` visible units (Bernoulli).
        x: binary data (0/1), shape ``(n_samples, n_visible)``.

    Returns:
        The mean over rows of the summed log-conditionals, a Python float (nats).
    """
    _check_rbm(rbm)
    units_lib.require(rbm.visible, "binary", "The pseudo-likelihood's visible units")
    x = validation.check_array(x, rbm.visible, rbm.n_visible, "data")
    if not np.all((x == 0) | (x == 1)):
        raise ValueError(
            "The pseudo-likelihood needs binary data (0 or 1); binarise the data first."
        )
    kernel, hidden_bias, visible_bias = _parameters(rbm, "float64")
    n = rbm.n_visible
    rows = max(1, _PSEUDO_LIKELIHOOD_ELEMENTS // (n * max(n, rbm.units)))
    total = 0.0
    for start in range(0, len(x), rows):
        v = ops.convert_to_tensor(np.asarray(x[start : start + rows], "float64"))
        flip = 1.0 - 2.0 * v  # +1 turns a 0 on, -1 turns a 1 off
        hidden_pre = backend.matmul(v, kernel) + hidden_bias
        free_energy = units_lib.free_energy(
            rbm.visible, rbm.hidden, v, hidden_pre, visible_bias, hidden_bias
        )
        # Row r, bit i flipped: v + flip_i e_i and hidden input + flip_i W_i.
        flipped = v[:, None, :] + flip[:, :, None] * ops.eye(n, dtype="float64")
        flipped_pre = hidden_pre[:, None, :] + flip[:, :, None] * kernel
        flipped_energy = units_lib.free_energy(
            rbm.visible, rbm.hidden, flipped, flipped_pre, visible_bias, hidden_bias
        )
        log_sigmoid = -backend.softplus(free_energy[:, None] - flipped_energy)
        total += float(ops.sum(log_sigmoid))
    return total / len(x)
