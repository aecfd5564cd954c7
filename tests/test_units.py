import keras
import numpy as np
import pytest
import tensorflow as tf
from reference import all_states, softplus

from keras_dbn import RBM, units


def _random_rbm(visible, n_visible=7, n_hidden=5, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    rbm = RBM(n_hidden, visible=visible, seed=seed, **kwargs)
    rbm.build((None, n_visible))
    rbm.kernel.assign(rng.normal(0, 0.8, (n_visible, n_hidden)))
    rbm.hidden_bias.assign(rng.normal(0, 0.5, n_hidden))
    rbm.visible_bias.assign(rng.normal(0, 0.5, n_visible))
    return rbm, rng


def test_bernoulli_free_energy_matches_numpy_formula():
    rbm, rng = _random_rbm("bernoulli")
    v = rng.random((11, 7)).astype("float32")
    w, b, a = (np.asarray(t, "float64") for t in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias))
    expected = -v @ a - softplus(b + v @ w).sum(1)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(rbm.free_energy(v)), expected, rtol=1e-5, atol=1e-5
    )


def test_gaussian_free_energy_matches_numpy_formula():
    rbm, rng = _random_rbm("gaussian")
    v = rng.normal(size=(11, 7)).astype("float32")
    w, b, a = (np.asarray(t, "float64") for t in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias))
    expected = 0.5 * ((v - a) ** 2).sum(1) - softplus(b + v @ w).sum(1)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(rbm.free_energy(v)), expected, rtol=1e-5, atol=1e-5
    )


def test_free_energy_is_minus_log_sum_over_hidden_states():
    rbm, rng = _random_rbm("bernoulli", n_visible=4, n_hidden=3)
    v = all_states(4)
    w, b, a = (np.asarray(t, "float64") for t in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias))
    h = all_states(3)
    minus_energy = (v @ a)[:, None] + (h @ b)[None, :] + v @ w @ h.T
    np.testing.assert_allclose(
        -keras.ops.convert_to_numpy(rbm.free_energy(v.astype("float32"))),
        np.logaddexp.reduce(minus_energy, 1),
        rtol=1e-5,
    )


def test_gaussian_log_partition_is_the_integral_over_the_unit():
    # log integral exp(-(x - bias)^2 / 2 + x * input) dx, by the trapezoid rule.
    bias, inp = 0.3, -1.2
    grid = np.linspace(-20, 20, 200001)
    numeric = np.log(np.trapezoid(np.exp(-0.5 * (grid - bias) ** 2 + grid * inp), grid))
    pre = np.array([[bias + inp]], "float32")
    value = units.Gaussian().log_partition(pre, np.array([bias], "float32"))
    np.testing.assert_allclose(value, [numeric], rtol=1e-5)


def test_relu_log_partition_is_the_stepped_sigmoid_sum():
    pre = np.array([[-3.0, 0.0, 2.5, 40.0]], "float32")
    expected = sum(softplus(pre.astype("float64") - i + 0.5) for i in range(1, 101)).sum()
    np.testing.assert_allclose(units.ReLU().log_partition(pre, None), [expected], rtol=1e-5)


def test_softmax_groups_are_one_hot_and_means_sum_to_one():
    unit = units.Softmax(group_size=3)
    pre = np.random.default_rng(0).normal(size=(50, 6)).astype("float32")
    sample = np.asarray(unit.sample(pre, keras.random.SeedGenerator(0)))
    np.testing.assert_array_equal(sample.reshape(50, 2, 3).sum(-1), 1.0)
    assert set(np.unique(sample)) <= {0.0, 1.0}
    np.testing.assert_allclose(np.asarray(unit.mean(pre)).reshape(50, 2, 3).sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("jit_compile", [False, True], ids=["tf", "xla"])
def test_samples_follow_the_conditional_distribution(jit_compile):
    # Draws use TF's Philox kernels, and XLA's ThreeFry under jit_compile=True.
    seed = keras.random.SeedGenerator(1)
    pre = np.full((40000, 3), [-1.0, 0.5, 2.0], "float32")
    softmax_pre = np.tile(np.log([0.2, 0.3, 0.5]).astype("float32"), (40000, 1))

    @tf.function(jit_compile=jit_compile)
    def draw():
        return (
            units.Bernoulli().sample(pre, seed),
            units.Bernoulli().sample(pre, seed),
            units.Gaussian().sample(pre, seed),
            units.Softmax(group_size=3).sample(softmax_pre, seed),
        )

    bernoulli, again, gaussian, softmax = (np.asarray(t) for t in draw())
    # 40000 draws: 4 standard errors of a proportion are below 0.01.
    np.testing.assert_allclose(bernoulli.mean(0), 1 / (1 + np.exp(-pre[0])), atol=0.01)
    assert 0.3 < np.mean(bernoulli != again) < 0.6  # the generator advanced between draws
    np.testing.assert_allclose(gaussian.mean(0), pre[0], atol=0.02)
    np.testing.assert_allclose(gaussian.std(0), 1.0, atol=0.02)
    np.testing.assert_allclose(softmax.mean(0), [0.2, 0.3, 0.5], atol=0.01)


@pytest.mark.parametrize(
    "unit",
    [
        "bernoulli",
        "binomial",
        "gaussian",
        "relu",
        "softmax",
        units.Softmax(group_size=4),
        units.ReLU(terms=7),
        units.Binomial(n=255),
    ],
    ids=str,
)
def test_get_and_serialize_round_trip(unit):
    unit = units.get(unit)
    restored = units.get(units.serialize(unit))
    assert restored == unit and restored.get_config() == unit.get_config()
    assert restored != units.get(units.Softmax(group_size=3)) or unit == units.Softmax(group_size=3)


def test_unknown_unit_type_is_named():
    with pytest.raises(ValueError, match="Unknown unit type 'tanh'"):
        units.get("tanh")


def test_checks_name_the_problem():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        units.Bernoulli().check(np.array([[0.5, 1.5]]))
    with pytest.raises(ValueError, match="sum to 1"):
        units.Softmax(2).check(np.array([[0.5, 0.2]]))
    with pytest.raises(ValueError, match="divisible"):
        units.Softmax(2).check(np.array([[1.0, 0.0, 1.0]]))
    units.Gaussian().check(np.array([[-1e6, 1e6]]))  # any finite value is in the support


def test_relu_samples_have_the_noise_variance_of_nair_and_hinton():
    """max(0, x + N(0, sigmoid(x))): far above zero the variance is sigmoid(x), not 1."""
    pre = np.tile(np.array([[3.0, 6.0]], "float32"), (40000, 1))
    samples = np.asarray(units.ReLU().sample(pre, keras.random.SeedGenerator(0)), "float64")
    np.testing.assert_allclose(samples.mean(0), [3.0, 6.0], atol=0.02)
    np.testing.assert_allclose(samples.var(0), 1 / (1 + np.exp(-pre[0])), atol=0.02)


@pytest.mark.parametrize(
    "unit", [units.Bernoulli(), units.Binomial(4), units.ReLU(terms=30), units.Softmax(3)], ids=str
)
def test_draws_are_made_in_float32_under_bfloat16(unit):
    """A bfloat16 uniform takes 128 values.

    Units with p = 1e-3 would fire at 1/128 without the guard.
    """
    pre = np.full((20000, 6), np.log(1e-3 / (1 - 1e-3)), "float32")
    draws = unit.sample(keras.ops.cast(pre, "bfloat16"), keras.random.SeedGenerator(0))
    assert keras.backend.standardize_dtype(draws.dtype) == "bfloat16"
    draws = keras.ops.convert_to_numpy(keras.ops.cast(draws, "float32"))
    mean_rate = draws.mean() / (unit.n if isinstance(unit, units.Binomial) else 1)
    if isinstance(unit, units.Softmax):
        return np.testing.assert_allclose(draws.reshape(-1, 2, 3).sum(-1), 1.0)
    assert mean_rate < 3e-3, mean_rate


def test_binomial_units_are_counts_of_shared_weight_copies():
    unit = units.Binomial(5)
    pre = np.array([[-1.0, 0.0, 2.0]], "float32")
    p = 1 / (1 + np.exp(-pre.astype("float64")))
    np.testing.assert_allclose(unit.mean(pre), 5 * p, rtol=1e-6)
    draws = np.asarray(
        unit.sample(np.tile(pre, (40000, 1)), keras.random.SeedGenerator(0)), "float64"
    )
    assert set(np.unique(draws)) <= set(range(6))
    np.testing.assert_allclose(draws.mean(0), 5 * p[0], atol=0.03)
    np.testing.assert_allclose(draws.var(0), 5 * p[0] * (1 - p[0]), atol=0.05)
    # log sum_x C(5, x) exp(x pre): the log-partition is the sum over every count.
    from math import comb

    counts = np.arange(6.0)
    bias = np.array([0.3, -0.2, 0.1])
    minus_energy = np.array(
        [[c * bias[j] + np.log(comb(5, int(c))) for c in counts] for j in range(3)]
    )
    expected = np.logaddexp.reduce(minus_energy + counts * (pre[0] - bias)[:, None], axis=1).sum()
    np.testing.assert_allclose(
        unit.log_partition(pre, bias.astype("float32")), [expected], rtol=1e-5
    )
    energy = unit.energy(np.array([[2.0, 0.0, 5.0]], "float32"), bias.astype("float32"))
    np.testing.assert_allclose(energy, [-(2 * 0.3 + 5 * 0.1 + np.log(comb(5, 2)))], rtol=1e-5)
    with pytest.raises(ValueError, match=r"counts in \[0, 5\]"):
        unit.check(np.array([[6.0]]))


def test_binomial_rbm_log_z_by_enumeration_matches_the_joint_sum():
    """Exact log Z over 4**3 visible count states and 2**2 hidden states, from the definition."""
    import itertools
    from math import comb

    from keras_dbn import evaluation

    rbm, _ = _random_rbm(units.Binomial(3), n_visible=3, n_hidden=2)
    w, b, a = (np.asarray(t, "float64") for t in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias))
    total = []
    for v in itertools.product(range(4), repeat=3):
        v = np.array(v, "float64")
        log_multiplicity = sum(np.log(comb(3, int(c))) for c in v)
        for h in itertools.product((0.0, 1.0), repeat=2):
            total.append(a @ v + b @ np.array(h) + v @ w @ np.array(h) + log_multiplicity)
    np.testing.assert_allclose(
        evaluation.exact_log_partition(rbm), np.logaddexp.reduce(total), rtol=1e-6
    )


def test_joint_units_are_their_blocks_side_by_side():
    joint = units.Joint([("bernoulli", 3), (units.Softmax(2), 4)])
    assert joint.width == 7 and not joint.binary and joint.annealable and not joint.enumerable
    pre = np.random.default_rng(0).normal(size=(5, 7)).astype("float32")
    bias = np.random.default_rng(1).normal(size=7).astype("float32")
    sigmoid = 1 / (1 + np.exp(-pre[:, :3]))
    softmax = np.exp(pre[:, 3:].reshape(5, 2, 2))
    softmax = (softmax / softmax.sum(-1, keepdims=True)).reshape(5, 4)
    np.testing.assert_allclose(joint.mean(pre), np.concatenate([sigmoid, softmax], 1), rtol=1e-5)
    x = np.array([[1, 0, 1, 0, 1, 1, 0]] * 5, "float32")
    np.testing.assert_allclose(joint.energy(x, bias), -(x * bias).sum(1), rtol=1e-5)
    log_z = np.logaddexp(0, pre[:, :3]).sum(1) + np.log(
        np.exp(pre[:, 3:].reshape(5, 2, 2)).sum(-1)
    ).sum(1)
    np.testing.assert_allclose(joint.log_partition(pre, bias), log_z, rtol=1e-5)
    draws = np.asarray(joint.sample(np.zeros((2000, 7), "float32"), keras.random.SeedGenerator(0)))
    assert set(np.unique(draws)) <= {0.0, 1.0} and np.all(
        draws[:, 3:].reshape(2000, 2, 2).sum(-1) == 1
    )
    assert units.get(units.serialize(joint)) == joint
    np.testing.assert_allclose(
        joint.base_rate_bias(7, np.full(7, 0.5)),
        [0, 0, 0, np.log(0.5), np.log(0.5), np.log(0.5), np.log(0.5)],
    )
    with pytest.raises(ValueError, match="one 1 per group|sum to 1|group"):
        joint.check(np.array([[1, 0, 1, 1, 1, 1, 0]], "float32"))
    with pytest.raises(ValueError, match="take 7 features, got 6"):
        joint.check(np.zeros((1, 6), "float32"))


@pytest.mark.parametrize("name", ["bernoulli", "gaussian", "softmax", "binomial"])
def test_log_likelihood_of_a_directed_layer_matches_numpy(name):
    """log p(x | input) against each distribution's own formula.

    The wake-sleep delta rule is its gradient.
    """
    from scipy.special import gammaln, log_softmax

    rng = np.random.default_rng(0)
    pre = rng.normal(0, 2, (5, 4))
    p = 1 / (1 + np.exp(-pre))
    if name == "bernoulli":
        x = (rng.random((5, 4)) < 0.5).astype("float64")
        expected = np.sum(x * np.log(p) + (1 - x) * np.log1p(-p), axis=1)
    elif name == "gaussian":
        x = rng.normal(0, 1, (5, 4))
        expected = np.sum(-0.5 * (x - pre) ** 2 - 0.5 * np.log(2 * np.pi), axis=1)
    elif name == "softmax":
        x = np.eye(2)[rng.integers(0, 2, (5, 2))].reshape(5, 4)
        expected = np.sum(x * log_softmax(pre.reshape(5, 2, 2), axis=-1).reshape(5, 4), axis=1)
    else:
        x = rng.integers(0, 4, (5, 4)).astype("float64")  # Binomial(3, sigmoid(pre))
        log_choose = gammaln(4) - gammaln(x + 1) - gammaln(4 - x)
        expected = np.sum(log_choose + x * np.log(p) + (3 - x) * np.log1p(-p), axis=1)
    unit = {"softmax": units.Softmax(2), "binomial": units.Binomial(3)}.get(name) or units.get(name)
    got = keras.ops.convert_to_numpy(
        units.log_likelihood(unit, keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(pre))
    )
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
