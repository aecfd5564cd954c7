import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dbn import RBM, units
from reference import all_states, softplus


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
    np.testing.assert_allclose(rbm.free_energy(v), expected, rtol=1e-5, atol=1e-5)


def test_gaussian_free_energy_matches_numpy_formula():
    rbm, rng = _random_rbm("gaussian")
    v = rng.normal(size=(11, 7)).astype("float32")
    w, b, a = (np.asarray(t, "float64") for t in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias))
    expected = 0.5 * ((v - a) ** 2).sum(1) - softplus(b + v @ w).sum(1)
    np.testing.assert_allclose(rbm.free_energy(v), expected, rtol=1e-5, atol=1e-5)


def test_free_energy_is_minus_log_sum_over_hidden_states():
    rbm, rng = _random_rbm("bernoulli", n_visible=4, n_hidden=3)
    v = all_states(4)
    w, b, a = (np.asarray(t, "float64") for t in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias))
    h = all_states(3)
    minus_energy = (v @ a)[:, None] + (h @ b)[None, :] + v @ w @ h.T
    np.testing.assert_allclose(-rbm.free_energy(v.astype("float32")), np.logaddexp.reduce(minus_energy, 1), rtol=1e-5)


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


@pytest.mark.parametrize("name", ["bernoulli", "gaussian", "relu", "softmax"])
def test_get_and_serialize_round_trip(name):
    unit = units.get(name)
    assert units.get(units.serialize(unit)) == unit
    custom = units.Softmax(group_size=4)
    assert units.get(units.serialize(custom)) == custom


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
