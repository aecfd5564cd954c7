"""Unit types of an RBM layer: the one place that knows how each kind of unit behaves.

An RBM's energy is ``E(v, h) = E_v(v; a) + E_h(h; b) - v.W.h``, where ``E_v`` and
``E_h`` are the units' own energy terms (``-a.v`` for Bernoulli units,
``|v - a|^2 / 2`` for unit-variance Gaussian units). Everything an RBM needs from a
unit type follows from that term and its total input ``pre = bias + input``:

* ``mean(pre)``: the conditional mean ``E[x | input]``;
* ``sample(pre, seed)``: a draw from ``p(x | input)``, always drawn in float32 (the
  one sampler of the package: under ``mixed_bfloat16`` a bfloat16 uniform takes only
  128 values, so ``u < p`` would switch on units with ``0 < p < 1/128`` at rate 1/128);
* ``energy(x, bias)``: the unit's own energy term, summed over units (per example);
* ``log_partition(pre, bias)``: ``log sum_x exp(-energy(x, bias) + x.(pre - bias))``,
  summed over units, which is what integrating these units out of the joint gives;
* ``check(x)``: raises ``ValueError`` when data lie outside the units' support;
* what each type supports: ``enumerable`` units (finitely many states) list their
  states for the exact log Z (``num_states``, ``states``); ``annealable`` units can be
  the hidden layer of AIS; ``base_rate_bias`` gives AIS's base-rate model.

With these the free energy of the visible layer is
``F(v) = visible.energy(v, a) - hidden.log_partition(b + vW, b)``, written once in
`free_energy` and used by training, ``RBM.free_energy``, AIS and the
pseudo-likelihood. Adding a unit type means adding one class here.

Example:

>>> import numpy as np
>>> from keras_dbn import units
>>> u = units.get("bernoulli")
>>> float(u.mean(np.zeros((1, 1), "float32"))[0, 0])
0.5
"""

import math

import keras
import numpy as np
from keras import ops

from keras_dbn import backend, validation

_PACKAGE = "keras_dbn"
# Data means are clipped to [eps, 1 - eps] before taking logits for AIS's base-rate model.
_BASE_RATE_EPS = 1e-3


class Units:
    """Base class of a unit type: subclasses implement ``mean``, ``_sample``,
    ``energy``, ``log_partition`` and ``check``, and say what they support.

    Every energy term has the form ``g(x) - bias.x + c(bias)``, so the conditional
    of units with total input ``pre`` is ``p(x | input) ∝ exp(-g(x) + x.pre)``.
    """

    name = None
    #: Whether each unit is a single bit in {0, 1} (the pseudo-likelihood flips them one by one).
    binary = False
    #: Values one unit takes when it takes finitely many (e.g. 2 for Bernoulli units), else None.
    levels = None
    #: Whether ``c(bias) = 0`` and ``g`` is the same for all biases, so that a hidden layer
    #: at inverse temperature ``beta`` is the same units with input ``beta * pre``:
    #: AIS can anneal them.
    annealable = False

    @property
    def enumerable(self):
        """Whether the units take finitely many joint states (exact log Z enumerates them)."""
        return self.levels is not None

    def mean(self, pre):
        """The conditional mean ``E[x | input]`` of each unit, from its total input ``pre``."""
        raise NotImplementedError

    def sample(self, pre, seed):
        """A draw from ``p(x | input)`` in ``pre``'s dtype, drawn in float32 (or wider).

        ``seed`` is a `keras.random.SeedGenerator`.
        """
        dtype = ops.dtype(pre)
        wide = dtype if dtype in ("float32", "float64") else "float32"
        return ops.cast(self._sample(ops.cast(pre, wide), seed), dtype)

    def _sample(self, pre, seed):
        """``sample`` in ``pre``'s own (float32 or float64) dtype."""
        raise NotImplementedError

    def energy(self, x, bias):
        """The units' own energy term of states ``x``, summed over units: shape ``(batch,)``."""
        raise NotImplementedError

    def log_partition(self, pre, bias):
        """``log sum_x exp(-energy(x, bias) + x.(pre - bias))`` summed over units: ``(batch,)``."""
        raise NotImplementedError

    def check(self, x):
        """Raises ``ValueError`` if ``x`` (finite numpy data) is outside the support."""

    def num_states(self, n):
        """Number of joint states of ``n`` enumerable units."""
        return self.levels**n

    def states(self, n, start, stop):
        """Joint states ``start..stop-1`` of ``n`` enumerable units, float64 ``(stop-start, n)``."""
        index = np.arange(start, stop, dtype=np.int64)[:, None]
        return (index // self.levels ** np.arange(n, dtype=np.int64) % self.levels).astype(
            "float64"
        )

    def base_rate_bias(self, n, data_mean=None):
        """Biases of ``n`` independent units with means ``data_mean`` (AIS's base-rate model).

        Without ``data_mean`` the biases are zeros. Raises ``ValueError`` for unit
        types with no such model (AIS cannot start from them).
        """
        if data_mean is None:
            self._base_rate_bias(np.full(n, 0.5))  # raises for the types AIS cannot start from
            return np.zeros(n, "float64")
        return self._base_rate_bias(np.asarray(data_mean, "float64"))

    def _base_rate_bias(self, data_mean):
        raise ValueError(f"AIS has no base-rate model for {self} visible units.")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def require(units, capability, purpose):
    """Raises ``ValueError`` unless ``units`` have ``capability``.

    ``capability`` is e.g. ``"binary"`` or ``"annealable"``; ``purpose`` names the layer and
    its use, e.g. ``"AIS's hidden units"``.
    """
    if not getattr(units, capability):
        supported = sorted(name for name, cls in _BY_NAME.items() if getattr(cls(), capability))
        raise ValueError(
            f"{purpose} must be {capability} ({', '.join(supported)}); {units} are not."
        )


def free_energy(visible, hidden, v, hidden_pre, visible_bias, hidden_bias, beta=1.0):
    """``F_beta(v) = beta E_v(v; a) - log sum_h exp(-beta E_h(h; b) + beta v.W.h)`` per row.

    The one definition of the free energy: ``hidden_pre`` is ``b + vW``. At
    ``beta = 1`` this is ``F(v) = -log sum_h exp(-E(v, h))`` for any unit types; other
    inverse temperatures (AIS) need ``annealable`` hidden units.

    Example:

    >>> import numpy as np
    >>> from keras_dbn import units
    >>> b = units.get("bernoulli")
    >>> v, pre = np.ones((1, 2)), np.zeros((1, 3))
    >>> round(float(units.free_energy(b, b, v, pre, np.zeros(2), np.zeros(3))[0]), 6)  # -3 log 2
    -2.079442
    """
    return beta * visible.energy(v, visible_bias) - hidden.log_partition(
        beta * hidden_pre, beta * hidden_bias
    )


def log_likelihood(units, x, pre):
    """``log p(x | input)`` per row, for units ``x`` with total input ``pre`` and no other links.

    The units of a directed layer (the lower layers of a DBN's generative model,
    going down or up) have ``p(x | input) ∝ exp(-energy(x, 0) + x.pre)``, so
    ``log p = x.pre - energy(x, 0) - log_partition(pre, 0)``. Its gradient in
    ``pre`` is ``x - mean(pre)``: the delta rule of the wake-sleep algorithm.

    Example:

    >>> import numpy as np
    >>> from keras_dbn import units
    >>> x, pre = np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]])
    >>> round(float(units.log_likelihood(units.get("bernoulli"), x, pre)[0]), 6)  # 2 log(1/2)
    -1.386294
    """
    zeros = ops.zeros_like(pre[0])
    return ops.sum(x * pre, axis=-1) - units.energy(x, zeros) - units.log_partition(pre, zeros)


def _x_log_x(x):
    """``x log x`` elementwise, 0 where ``x`` is 0."""
    positive = x > 0
    return ops.where(
        positive, x * ops.log(ops.where(positive, x, ops.ones_like(x))), ops.zeros_like(x)
    )


def _logit_of_mean(data_mean, scale=1.0):
    p = np.clip(np.asarray(data_mean, "float64") / scale, _BASE_RATE_EPS, 1.0 - _BASE_RATE_EPS)
    return np.log(p) - np.log1p(-p)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Bernoulli(Units):
    """Binary units in {0, 1}: ``p(x=1 | input) = sigmoid(pre)``.

    As visible units they take data in [0, 1] (probabilities such as grey levels
    are used as they are, as in Hinton's guide, section 3.2).
    """

    name = "bernoulli"
    binary = True
    levels = 2
    annealable = True

    def mean(self, pre):
        return ops.sigmoid(pre)

    def _sample(self, pre, seed):
        return ops.cast(backend.uniform_like(pre, seed) < ops.sigmoid(pre), pre.dtype)

    def energy(self, x, bias):
        return -ops.sum(x * bias, axis=-1)

    def log_partition(self, pre, bias):
        return ops.sum(backend.softplus(pre), axis=-1)

    def entropy(self, mean):
        """The entropy (nats) of independent units with means ``mean``, summed over units.

        ``-sum_j [m_j log m_j + (1 - m_j) log(1 - m_j)]``, with ``0 log 0 = 0``: the
        entropy term of a factorial (mean-field) posterior in a variational bound.
        """
        return -ops.sum(_x_log_x(mean) + _x_log_x(1.0 - mean), axis=-1)

    def _base_rate_bias(self, data_mean):
        return _logit_of_mean(data_mean)

    def check(self, x):
        lo, hi = float(np.min(x)), float(np.max(x))
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                "Bernoulli units take data in [0, 1], but the input ranges over "
                f"[{lo:g}, {hi:g}]. Scale the data to [0, 1] (e.g. divide pixel values "
                "by 255), or use visible='gaussian' for standardised real-valued data."
            )


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Gaussian(Units):
    """Real-valued units with unit variance: ``x | input ~ N(pre, 1)``.

    The energy term is ``|x - bias|^2 / 2`` (Hinton's guide, section 13.2, with
    sigma = 1). Standardise the data (zero mean, unit variance per feature) before
    training: the model does not learn the variances.
    """

    name = "gaussian"

    def mean(self, pre):
        return pre

    def _sample(self, pre, seed):
        return pre + backend.normal_like(pre, seed)

    def _base_rate_bias(self, data_mean):
        return data_mean

    def energy(self, x, bias):
        return 0.5 * ops.sum(ops.square(x - bias), axis=-1)

    def log_partition(self, pre, bias):
        n = ops.cast(ops.shape(pre)[-1], pre.dtype)
        return ops.sum(0.5 * ops.square(pre) - 0.5 * ops.square(bias), axis=-1) + (
            0.5 * math.log(2.0 * math.pi) * n
        )


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ReLU(Units):
    """Noisy rectified linear units (Nair & Hinton, 2010).

    A ReLU unit stands for ``terms`` binary copies sharing weights with biases offset
    by ``-0.5, -1.5, ...`` (a "stepped sigmoid" unit). The log-partition is the exact
    sum over the copies, ``sum_i softplus(pre - i + 1/2)``, so training follows its
    gradient ``sum_i sigmoid(pre - i + 1/2)`` (about ``softplus(pre)``). Sampling uses
    the paper's approximation ``max(0, pre + N(0, sigmoid(pre)))``, and ``mean`` (the
    upward features, and the mean-field negative phase) the paper's ``max(0, pre)``.
    """

    name = "relu"

    def __init__(self, terms=100):
        if int(terms) < 1:
            raise ValueError(f"ReLU units need terms >= 1, got {terms}.")
        self.terms = int(terms)

    def mean(self, pre):
        return ops.relu(pre)

    def _sample(self, pre, seed):
        noise = backend.normal_like(pre, seed) * ops.sqrt(ops.sigmoid(pre))
        return ops.relu(pre + noise)

    def energy(self, x, bias):
        return -ops.sum(x * bias, axis=-1)

    def log_partition(self, pre, bias):
        offsets = ops.arange(self.terms, dtype=pre.dtype) + ops.cast(0.5, pre.dtype)
        steps = backend.softplus(ops.expand_dims(pre, -1) - offsets)
        return ops.sum(steps, axis=(-2, -1))

    def check(self, x):
        lo = float(np.min(x))
        if lo < 0.0:
            raise ValueError(f"ReLU units take non-negative data, but the minimum is {lo:g}.")

    def get_config(self):
        return {"terms": self.terms}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Softmax(Units):
    """Groups of ``group_size`` one-hot units (a K-way categorical per group).

    Each consecutive block of ``group_size`` units holds exactly one 1 (or, as data,
    a probability vector over the block). Used for categorical visible variables,
    e.g. one-hot coded features or the label units of a joint RBM.
    """

    name = "softmax"
    annealable = True

    def __init__(self, group_size=2):
        if int(group_size) < 2:
            raise ValueError(f"Softmax units need group_size >= 2, got {group_size}.")
        self.group_size = int(group_size)
        self.levels = self.group_size  # per group; see num_states

    def _groups(self, x):
        """``x`` of shape ``(..., n)`` as ``(..., n / group_size, group_size)``."""
        return ops.reshape(x, tuple(ops.shape(x)[:-1]) + (-1, self.group_size))

    def mean(self, pre):
        return ops.reshape(ops.softmax(self._groups(pre), axis=-1), ops.shape(pre))

    def num_states(self, n):
        return self.group_size ** (n // self.group_size)

    def states(self, n, start, stop):
        k = self.group_size
        index = np.arange(start, stop, dtype=np.int64)[:, None]
        digits = index // k ** np.arange(n // k, dtype=np.int64) % k
        return np.eye(k)[digits].reshape(len(index), n)

    def _base_rate_bias(self, data_mean):
        # The softmax of these logits is each group's marginal (up to the clipping).
        return np.log(
            np.clip(np.asarray(data_mean, "float64"), _BASE_RATE_EPS, 1.0 - _BASE_RATE_EPS)
        )

    def _sample(self, pre, seed):
        # Gumbel-max: argmax(pre - log(-log(u))) is a categorical draw.
        u = backend.uniform_like(pre, seed)
        tiny = ops.cast(1e-20, pre.dtype)
        gumbel = -ops.log(-ops.log(u + tiny) + tiny)
        winner = ops.argmax(self._groups(pre + gumbel), axis=-1)
        return ops.reshape(ops.one_hot(winner, self.group_size, dtype=pre.dtype), ops.shape(pre))

    def energy(self, x, bias):
        return -ops.sum(x * bias, axis=-1)

    def log_partition(self, pre, bias):
        return ops.sum(ops.logsumexp(self._groups(pre), axis=-1), axis=-1)

    def check(self, x):
        if x.shape[-1] % self.group_size:
            raise ValueError(
                f"Softmax units with group_size={self.group_size} need a feature count "
                f"divisible by it, got {x.shape[-1]} features."
            )
        lo, hi = float(np.min(x)), float(np.max(x))
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"Softmax units take data in [0, 1], got values in [{lo:g}, {hi:g}].")
        sums = x.reshape(len(x), -1, self.group_size).sum(-1)
        if not np.allclose(sums, 1.0, atol=1e-3):
            raise ValueError(
                f"Softmax units need each group of {self.group_size} values to sum to 1; "
                f"group sums range over [{sums.min():g}, {sums.max():g}]."
            )

    def get_config(self):
        return {"group_size": self.group_size}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Binomial(Units):
    """Counts in {0, ..., n}: ``n`` binary copies of a unit sharing its weights and bias.

    Teh & Hinton (2001) model grey levels this way: a pixel of level ``x`` out of
    ``n`` is ``x`` copies on. Summing over which copies are on gives
    ``p(x | input) = C(n, x) sigmoid(pre)^x sigmoid(-pre)^(n - x)``: the energy term
    is ``-bias.x - sum log C(n, x)``, the mean ``n sigmoid(pre)`` and the
    log-partition ``n softplus(pre)``. As visible units they take counts in
    ``[0, n]`` (for 8-bit images, ``n=255`` and the raw pixel values).

    Args:
        n: number of trials (copies), >= 1.
    """

    name = "binomial"
    annealable = True

    def __init__(self, n=8):
        if int(n) < 1:
            raise ValueError(f"Binomial units need n >= 1 trials, got {n}.")
        self.n = int(n)
        self.levels = self.n + 1
        self.binary = self.n == 1

    def mean(self, pre):
        return self.n * ops.sigmoid(pre)

    def _sample(self, pre, seed):
        # n Bernoulli copies, counted (keras.random.binomial fails under XLA on CPU).
        copies = backend.uniform_like(ops.repeat(ops.expand_dims(pre, -1), self.n, axis=-1), seed)
        return ops.sum(ops.cast(copies < ops.sigmoid(ops.expand_dims(pre, -1)), pre.dtype), axis=-1)

    def energy(self, x, bias):
        x = ops.convert_to_tensor(x)
        n = ops.cast(self.n, ops.dtype(x))
        log_choose = backend.lgamma(n + 1.0) - backend.lgamma(x + 1.0) - backend.lgamma(n - x + 1.0)
        return -ops.sum(x * bias + log_choose, axis=-1)

    def log_partition(self, pre, bias):
        return self.n * ops.sum(backend.softplus(pre), axis=-1)

    def check(self, x):
        lo, hi = float(np.min(x)), float(np.max(x))
        if lo < 0.0 or hi > self.n:
            raise ValueError(
                f"Binomial units with n={self.n} take counts in [0, {self.n}], but the input "
                f"ranges over [{lo:g}, {hi:g}]."
            )

    def _base_rate_bias(self, data_mean):
        return _logit_of_mean(data_mean, scale=self.n)

    def get_config(self):
        return {"n": self.n}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Joint(Units):
    """Blocks of different unit types side by side, e.g. features and a label.

    The top RBM of a DBN trained with labels has visible units
    ``Joint([(features' units, n), (Softmax(10), 10)])`` (Hinton, Osindero & Teh,
    2006): each block keeps its own conditional, energy and checks.

    Args:
        parts: list of ``(unit type, number of units)``, in column order.

    Example:

    >>> from keras_dbn import units
    >>> joint = units.Joint([("bernoulli", 3), (units.Softmax(2), 2)])
    >>> joint.width, joint.binary
    (5, False)
    """

    name = "joint"

    def __init__(self, parts=(("bernoulli", 1),)):
        self.parts = [
            (get(unit), validation.check_positive_int(size, "size of a joint block"))
            for unit, size in parts
        ]
        self.width = sum(size for _, size in self.parts)
        self.binary = all(unit.binary for unit, _ in self.parts)
        self.annealable = all(unit.annealable for unit, _ in self.parts)

    def _blocks(self, x):
        start = 0
        for unit, size in self.parts:
            yield unit, x[..., start : start + size]
            start += size

    def _check_width(self, n):
        if n != self.width:
            raise ValueError(f"{self} take {self.width} features, got {n}.")

    def mean(self, pre):
        return ops.concatenate([unit.mean(block) for unit, block in self._blocks(pre)], axis=-1)

    def sample(self, pre, seed):
        return ops.concatenate(
            [unit.sample(block, seed) for unit, block in self._blocks(pre)], axis=-1
        )

    def energy(self, x, bias):
        blocks = zip(self._blocks(x), self._blocks(bias))
        return sum(unit.energy(block, b) for (unit, block), (_, b) in blocks)

    def log_partition(self, pre, bias):
        blocks = zip(self._blocks(pre), self._blocks(bias))
        return sum(unit.log_partition(block, b) for (unit, block), (_, b) in blocks)

    def check(self, x):
        self._check_width(x.shape[-1])
        for unit, block in self._blocks(x):
            unit.check(np.ascontiguousarray(block))

    def base_rate_bias(self, n, data_mean=None):
        self._check_width(n)
        means = (
            [None] * len(self.parts)
            if data_mean is None
            else [m for _, m in self._blocks(np.asarray(data_mean))]
        )
        return np.concatenate(
            [unit.base_rate_bias(size, m) for (unit, size), m in zip(self.parts, means)]
        )

    def get_config(self):
        return {"parts": [[serialize(unit), size] for unit, size in self.parts]}

    def __hash__(self):
        return hash(repr(self))

    def __repr__(self):
        return f"Joint({self.parts!r})"


_BY_NAME = {cls.name: cls for cls in (Bernoulli, Binomial, Gaussian, ReLU, Softmax)}


def get(identifier):
    """Returns a `Units` instance from a name, a config dict or an instance.

    Args:
        identifier: ``"bernoulli"``, ``"binomial"`` (8 trials), ``"gaussian"``,
            ``"relu"``, ``"softmax"`` (group size 2), a `Units` instance, or its
            serialized dict.

    Returns:
        A `Units` instance.

    Example:

    >>> from keras_dbn import units
    >>> units.get("gaussian")
    Gaussian()
    >>> units.get(units.Softmax(group_size=10)).group_size
    10
    """
    if isinstance(identifier, Units):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(
                f"Unknown unit type {identifier!r}; expected one of {sorted(_BY_NAME)} "
                "or a keras_dbn.units.Units instance."
            )
        return _BY_NAME[key]()
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    raise ValueError(f"Cannot interpret {identifier!r} as a unit type.")


def serialize(unit):
    """The config form of a unit type: its name when it has no options, else a dict."""
    if not unit.get_config() and _BY_NAME.get(unit.name) is type(unit):
        return unit.name
    return keras.saving.serialize_keras_object(unit)
