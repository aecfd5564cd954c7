"""keras_dbn.evaluation against brute-force numpy enumeration and numerical integration."""

import itertools

import keras
import numpy as np
import pytest
import reference
from digit_data import scaled_digits

from keras_dbn import DBN, RBM, evaluation, units


def random_rbm(n_visible, n_hidden, scale=1.0, seed=0, **kwargs):
    """A built RBM with N(0, scale) weights and biases (bigger than the default init)."""
    init = keras.initializers.RandomNormal(stddev=scale, seed=seed)
    rbm = RBM(
        n_hidden,
        kernel_initializer=init,
        hidden_bias_initializer=keras.initializers.RandomNormal(stddev=scale, seed=seed + 1),
        visible_bias_initializer=keras.initializers.RandomNormal(stddev=scale, seed=seed + 2),
        seed=seed,
        **kwargs,
    )
    rbm.build((None, n_visible))
    return rbm


def trained_rbm(x, n_hidden, epochs, **kwargs):
    keras.utils.set_random_seed(0)
    rbm = RBM(n_hidden, seed=0, **kwargs)
    rbm.compile(keras.optimizers.SGD(0.1, momentum=0.5))
    rbm.fit(x, epochs=epochs, batch_size=20, verbose=0)
    return rbm


@pytest.fixture(scope="module")
def digits():
    return scaled_digits()[0]


# ------------------------------------------------------------ exact log Z
@pytest.mark.parametrize("n_visible, n_hidden", [(7, 5), (5, 8)])  # enumerate hidden, then visible
def test_exact_log_partition_bernoulli_matches_joint_enumeration(n_visible, n_hidden):
    rbm = random_rbm(n_visible, n_hidden)
    expected = reference.exact_log_z(*reference.weights(rbm))
    assert evaluation.exact_log_partition(rbm) == pytest.approx(expected, abs=1e-9)


def test_exact_log_partition_gaussian_visible_matches_numerical_integration():
    rbm = random_rbm(2, 3, scale=0.7, visible="gaussian")
    kernel, hidden_bias, visible_bias = reference.weights(rbm)
    grid = np.linspace(-15.0, 15.0, 801)
    v = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    h = reference.all_states(3)
    log_joint = (
        -0.5 * ((v - visible_bias) ** 2).sum(1)[:, None]
        + (h @ hidden_bias)[None, :]
        + v @ kernel @ h.T
    )
    cell = (grid[1] - grid[0]) ** 2
    expected = np.logaddexp.reduce(log_joint.ravel()) + np.log(cell)
    assert evaluation.exact_log_partition(rbm) == pytest.approx(expected, abs=1e-6)


def test_exact_log_partition_softmax_visible_matches_enumeration():
    rbm = random_rbm(6, 4, visible=units.Softmax(3))
    kernel, hidden_bias, visible_bias = reference.weights(rbm)
    one_hot = np.eye(3)
    v = np.array([np.concatenate(c) for c in itertools.product(one_hot, repeat=2)])  # 9 states
    h = reference.all_states(4)
    log_joint = (v @ visible_bias)[:, None] + (h @ hidden_bias)[None, :] + v @ kernel @ h.T
    assert evaluation.exact_log_partition(rbm) == pytest.approx(
        np.logaddexp.reduce(log_joint.ravel()), abs=1e-9
    )


def test_exact_log_partition_rejects_large_and_continuous_models():
    with pytest.raises(ValueError, match="21 units"):
        evaluation.exact_log_partition(random_rbm(30, 21))
    with pytest.raises(ValueError, match="enumerated"):
        evaluation.exact_log_partition(random_rbm(3, 2, visible="gaussian", hidden="relu"))
    with pytest.raises(ValueError, match="Build or fit"):
        evaluation.exact_log_partition(RBM(3))
    with pytest.raises(ValueError, match="keras_dbn.RBM"):
        evaluation.exact_log_partition(keras.layers.Dense(3))


# ---------------------------------------------------------------- AIS
def test_ais_matches_exact_on_random_rbms():
    for rbm in (
        random_rbm(20, 10, scale=0.5, seed=3),
        random_rbm(10, 12, scale=0.5, seed=4, visible="gaussian"),
    ):
        result = evaluation.ais_log_partition(rbm, num_chains=100, num_betas=2000, seed=0)
        exact = evaluation.exact_log_partition(rbm)
        assert result.log_z == pytest.approx(exact, abs=0.1)
        assert result.log_z_lower < result.log_z < result.log_z_upper
        # The 3-sigma interval holds the exact value and is informative (narrower than 0.5 nats).
        assert result.log_z_lower - 0.02 <= exact <= result.log_z_upper + 0.02
        assert result.log_z_upper - result.log_z_lower < 0.5


def test_ais_matches_exact_on_rbm_trained_on_digits(digits):
    rbm = trained_rbm(digits, 15, epochs=10)
    result = evaluation.ais_log_partition(rbm, num_chains=100, num_betas=3000, seed=0, data=digits)
    assert result.log_z == pytest.approx(evaluation.exact_log_partition(rbm), abs=0.1)


def test_ais_matches_exact_on_784_by_15_rbm_trained_on_upsampled_digits(digits):
    # 8x8 digits blown up to 24x24 by repeating each pixel 3x3, padded to 28x28.
    images = np.kron(digits.reshape(-1, 8, 8), np.ones((1, 3, 3), "float32"))
    x = np.pad(images, ((0, 0), (2, 2), (2, 2))).reshape(len(digits), 784)
    # PCD: CD-1 on these data leaves a spurious mode far from the data, 18 nats
    # above the rest, which chains started at the data's base rate never reach.
    rbm = trained_rbm(x, 15, epochs=5, persistent=True)
    result = evaluation.ais_log_partition(rbm, num_chains=100, num_betas=3000, seed=0, data=x)
    exact = evaluation.exact_log_partition(rbm)
    # With 100 chains AIS's own spread here is about 0.2 nats (seeds 0-2 were off by 0.21, 0.03
    # and 0.09 on 2026-12-03); its bounds must hold the exact value.
    assert result.log_z_lower <= exact <= result.log_z_upper
    assert result.log_z == pytest.approx(exact, abs=0.3)


def test_ais_is_reproducible_with_a_seed():
    rbm = random_rbm(8, 6, seed=5)
    first, second = (
        evaluation.ais_log_partition(rbm, num_chains=10, num_betas=50, seed=7) for _ in range(2)
    )
    assert first == second


def test_ais_rejects_bad_arguments():
    rbm = random_rbm(4, 3)
    with pytest.raises(ValueError, match="num_betas"):
        evaluation.ais_log_partition(rbm, num_betas=2)
    with pytest.raises(ValueError, match="num_chains"):
        evaluation.ais_log_partition(rbm, num_chains=1)
    with pytest.raises(ValueError, match="hidden units"):
        evaluation.ais_log_partition(random_rbm(4, 3, hidden="relu"))
    with pytest.raises(ValueError, match="features"):
        evaluation.ais_log_partition(rbm, data=np.zeros((5, 3)))


@pytest.mark.parametrize("num_betas", [3, 4, 5, 7, 10, 15, 29, 100, 14500])
def test_annealing_schedule_is_increasing_from_zero_to_one(num_betas):
    betas = evaluation.annealing_schedule(num_betas)
    assert len(betas) == num_betas and betas[0] == 0.0 and betas[-1] == 1.0
    assert np.all(np.diff(betas) > 0)


@pytest.mark.parametrize("hidden", ["bernoulli", units.Binomial(2), units.Softmax(2)], ids=str)
def test_ais_with_three_betas_is_unbiased_for_z(hidden):
    """AIS estimates Z without bias whatever the schedule, if it ends at beta = 1.

    Many chains, 3 betas.
    """
    rbm = random_rbm(6, 4, scale=1.0, seed=5, hidden=hidden)
    result = evaluation.ais_log_partition(rbm, num_chains=20000, num_betas=3, seed=0)
    # A schedule ending at beta = 0.9 was off by 0.06-0.10 nats here.
    assert result.log_z == pytest.approx(evaluation.exact_log_partition(rbm), abs=0.03)


def test_ais_estimates_log_z_of_binomial_visible_units():
    rbm = random_rbm(5, 6, scale=0.3, seed=6, visible=units.Binomial(3))
    counts = np.random.default_rng(0).integers(0, 4, (200, 5)).astype("float32")
    result = evaluation.ais_log_partition(rbm, num_chains=200, num_betas=1000, seed=0, data=counts)
    assert result.log_z == pytest.approx(evaluation.exact_log_partition(rbm), abs=0.05)


# ------------------------------------------------------- likelihoods
def test_log_likelihood_matches_enumeration():
    rbm = random_rbm(6, 4, seed=6)
    x = (np.random.default_rng(0).random((30, 6)) > 0.5).astype("float32")
    log_z = evaluation.exact_log_partition(rbm)
    assert evaluation.log_likelihood(rbm, x, log_z) == pytest.approx(
        reference.exact_log_likelihood(rbm, x), abs=1e-4
    )
    with pytest.raises(ValueError, match="log_z"):
        evaluation.log_likelihood(rbm, x, float("nan"))
    with pytest.raises(ValueError, match="log_z"):
        evaluation.log_likelihood(rbm, x, (1.0, 0.0, 2.0))


def numpy_pseudo_log_likelihood(rbm, x):
    """sum_i log p(v_i | v_-i) by brute force over the two values of each bit."""
    kernel, hidden_bias, visible_bias = reference.weights(rbm)

    def free_energy(v):
        return -v @ visible_bias - reference.softplus(v @ kernel + hidden_bias).sum()

    total = 0.0
    for v in x.astype("float64"):
        for i in range(len(v)):
            on, off = v.copy(), v.copy()
            on[i], off[i] = 1.0, 0.0
            log_p = -free_energy(v) - np.logaddexp(-free_energy(on), -free_energy(off))
            total += log_p
    return total / len(x)


def test_pseudo_log_likelihood_matches_numpy():
    rbm = random_rbm(9, 5, scale=2.0, seed=8)  # large weights: tests the stable log-sigmoid
    x = (np.random.default_rng(1).random((13, 9)) > 0.5).astype("float32")
    assert evaluation.pseudo_log_likelihood(rbm, x) == pytest.approx(
        numpy_pseudo_log_likelihood(rbm, x), rel=1e-9
    )


@pytest.mark.parametrize("hidden", [units.Softmax(3), units.Binomial(4), "bernoulli"], ids=str)
def test_pseudo_log_likelihood_of_a_batch_is_the_mean_of_its_rows(hidden):
    rbm = random_rbm(5, 6, scale=0.8, seed=2, hidden=hidden)
    x = (np.random.default_rng(3).random((7, 5)) > 0.5).astype("float32")
    rows = [evaluation.pseudo_log_likelihood(rbm, x[i : i + 1]) for i in range(len(x))]
    assert evaluation.pseudo_log_likelihood(rbm, x) == pytest.approx(np.mean(rows), rel=1e-9)
    if hidden == "bernoulli":
        assert np.mean(rows) == pytest.approx(numpy_pseudo_log_likelihood(rbm, x), rel=1e-9)


def test_pseudo_log_likelihood_rejects_bad_input():
    rbm = random_rbm(4, 3)
    with pytest.raises(ValueError, match="binary"):
        evaluation.pseudo_log_likelihood(rbm, np.full((2, 4), 0.5))
    with pytest.raises(ValueError, match="features"):
        evaluation.pseudo_log_likelihood(rbm, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="visible units must be binary"):
        evaluation.pseudo_log_likelihood(random_rbm(4, 3, visible="gaussian"), np.zeros((2, 4)))


def test_everything_stays_finite_with_weights_of_magnitude_50():
    rng = np.random.default_rng(0)
    rbm = RBM(10, seed=0)
    rbm.build((None, 12))
    rbm.kernel.assign(rng.choice([-50.0, 50.0], (12, 10)))
    rbm.hidden_bias.assign(rng.choice([-50.0, 50.0], 10))
    rbm.visible_bias.assign(rng.choice([-50.0, 50.0], 12))
    exact = evaluation.exact_log_partition(rbm)
    result = evaluation.ais_log_partition(rbm, num_chains=50, num_betas=2000, seed=0)
    x = (rng.random((20, 12)) > 0.5).astype("float32")
    # The lower bound is -inf where mean(w) - 3 std(w) / sqrt(chains) <= 0, as documented.
    values = [
        exact,
        result.log_z,
        result.log_z_upper,
        evaluation.pseudo_log_likelihood(rbm, x),
        evaluation.log_likelihood(rbm, x, exact),
    ]
    assert np.isfinite(values).all(), values
    assert result.log_z_lower <= exact + 0.1 and abs(result.log_z - exact) < 5.0


# ------------------------------------------------------ DBMs and bounds
def dbm_log_joint_table(dbm):
    """-E(v, h1, h2) of every state of a three-layer Bernoulli DBM, shape (2**n0, 2**n1, 2**n2)."""
    (w1, w2), (b0, b1, b2) = (
        [np.asarray(keras.ops.convert_to_numpy(w), "float64") for w in ws]
        for ws in (dbm.kernels, dbm.biases)
    )
    v, h1, h2 = (reference.all_states(len(b)) for b in (b0, b1, b2))
    return (
        (v @ b0)[:, None, None]
        + (h1 @ b1)[None, :, None]
        + (h2 @ b2)[None, None, :]
        + (v @ w1 @ h1.T)[:, :, None]
        + (h1 @ w2 @ h2.T)[None, :, :]
    )


def state_index(x):
    """Row indices of binary vectors in `reference.all_states` (first unit most significant)."""
    return (x * 2 ** np.arange(x.shape[1])[::-1]).sum(1).astype(int)


def test_dbm_log_partition_exact_and_ais_match_enumeration_of_every_state():
    dbm = reference.random_dbm([8, 5, 3], scale=0.7, seed=2)
    table = dbm_log_joint_table(dbm)
    log_z = float(np.logaddexp.reduce(table.ravel()))
    assert evaluation.exact_log_partition(dbm) == pytest.approx(log_z, abs=1e-6)
    x = (np.random.default_rng(0).random((50, 8)) < 0.5).astype("float32")
    result = evaluation.ais_log_partition(dbm, num_chains=100, num_betas=2000, seed=0, data=x)
    assert result.log_z == pytest.approx(log_z, abs=0.1)
    assert result.log_z_lower <= log_z + 0.02 and log_z - 0.02 <= result.log_z_upper


def test_bipartite_rbm_has_the_dbms_energy_between_odd_and_even_layers():
    dbm = reference.random_dbm([4, 3, 2, 3], seed=1)
    rbm = evaluation.bipartite_rbm(dbm)
    (w1, w2, w3), (b0, b1, b2, b3) = (
        [keras.ops.convert_to_numpy(w) for w in ws] for ws in (dbm.kernels, dbm.biases)
    )
    expected = np.block([[w1, np.zeros((4, 3))], [w2.T, w3]])  # rows v, h2; columns h1, h3
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(rbm.kernel), expected)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(rbm.visible_bias), np.r_[b0, b2])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(rbm.hidden_bias), np.r_[b1, b3])
    gaussian = evaluation.bipartite_rbm(reference.random_dbm([4, 3, 2], visible="gaussian"))
    assert gaussian.visible == units.Joint([(units.Gaussian(), 4), (units.Bernoulli(), 2)])


def test_dbm_elbo_is_below_the_exact_log_likelihood_of_every_row():
    dbm = reference.random_dbm([8, 5, 3], scale=0.7, seed=2)
    table = dbm_log_joint_table(dbm)
    log_z = float(np.logaddexp.reduce(table.ravel()))
    x = (np.random.default_rng(0).random((40, 8)) < 0.5).astype("float32")
    exact = np.logaddexp.reduce(table[state_index(x)].reshape(len(x), -1), axis=1) - log_z
    bound = evaluation.elbo(dbm, x, log_z)
    assert bound.shape == (40,) and np.all(bound <= exact + 1e-9)
    assert np.all(bound > exact - 2.0)  # a useful bound: q is close to the posterior
    # The bound of the means numpy's updates reach: -E(v, mu) + H(mu) - log Z.
    (w1, w2), (b0, b1, b2) = (
        [np.asarray(keras.ops.convert_to_numpy(w), "float64") for w in ws]
        for ws in (dbm.kernels, dbm.biases)
    )
    h1 = 1 / (1 + np.exp(-(2 * x @ w1 + b1)))
    h2 = 1 / (1 + np.exp(-(h1 @ w2 + b2)))
    for _ in range(dbm.mean_field_steps):
        h1 = 1 / (1 + np.exp(-(x @ w1 + h2 @ w2.T + b1)))
        h2 = 1 / (1 + np.exp(-(h1 @ w2 + b2)))
    entropy = sum(-(m * np.log(m) + (1 - m) * np.log(1 - m)).sum(1) for m in (h1, h2))
    energy = -(x @ b0 + h1 @ b1 + h2 @ b2 + ((x @ w1) * h1).sum(1) + ((h1 @ w2) * h2).sum(1))
    np.testing.assert_allclose(bound, entropy - energy - log_z, atol=1e-5)


def test_elbo_of_a_one_layer_dbm_is_the_rbms_exact_log_likelihood():
    dbm = reference.random_dbm([8, 5], scale=1.0, seed=3)
    x = (np.random.default_rng(1).random((30, 8)) < 0.5).astype("float32")
    log_z = evaluation.exact_log_partition(dbm)
    (w,), (b0, b1) = (
        [np.asarray(keras.ops.convert_to_numpy(w), "float64") for w in ws]
        for ws in (dbm.kernels, dbm.biases)
    )
    assert log_z == pytest.approx(reference.exact_log_z(w, b1, b0), abs=1e-6)
    exact = x @ b0 + reference.softplus(x @ w + b1).sum(1) - log_z
    np.testing.assert_allclose(evaluation.elbo(dbm, x, log_z), exact, atol=1e-5)


@pytest.mark.parametrize("output_units", [None, 2])  # top RBM without and with label units
def test_dbn_elbo_is_salakhutdinov_and_murrays_bound(output_units):
    dbn = DBN([5, 3], output_units=output_units, seed=0)
    dbn.build((None, 6))
    rng = np.random.default_rng(4)
    lower, top = dbn.generative
    for variable in lower.weights + top.weights:  # recognition and generative weights differ
        if variable.dtype.startswith("float") and len(variable.shape) <= 2:
            variable.assign(rng.normal(0, 1.0, variable.shape).astype("float32"))
    as_numpy = lambda v: np.asarray(keras.ops.convert_to_numpy(v), "float64")  # noqa: E731
    g, a, r, rb = map(
        as_numpy,
        (lower.kernel, lower.visible_bias, lower.recognition_kernel, lower.recognition_bias),
    )
    w, b, c = map(as_numpy, (top.kernel, top.hidden_bias, top.visible_bias))
    labels = np.eye(2) if output_units else np.zeros((1, 0))
    h1 = reference.all_states(5)
    joint = np.concatenate([np.repeat(h1, len(labels), 0), np.tile(labels, (len(h1), 1))], axis=1)
    free = (joint @ c + reference.softplus(joint @ w + b).sum(1)).reshape(len(h1), len(labels))
    log_p_h1 = np.logaddexp.reduce(free, axis=1)  # labels summed out
    log_z = float(np.logaddexp.reduce(log_p_h1))
    assert evaluation.exact_log_partition(top) == pytest.approx(log_z, abs=1e-6)

    x = (rng.random((6, 6)) < 0.5).astype("float64")
    sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    p_v = sig(h1 @ g.T + a)  # (32, 6)
    log_p_v_given_h = x @ np.log(p_v).T + (1 - x) @ np.log(1 - p_v).T  # (rows, 32)
    q = sig(x @ r + rb)
    log_q = h1 @ np.log(q).T + (1 - h1) @ np.log(1 - q).T  # (32, rows)
    exact = np.logaddexp.reduce(log_p_v_given_h + log_p_h1, axis=1) - log_z
    expected_bound = (np.exp(log_q.T) * (log_p_v_given_h + log_p_h1 - log_q.T)).sum(1) - log_z
    assert np.all(expected_bound <= exact)
    bound = evaluation.elbo(dbn, x.astype("float32"), log_z, num_samples=3000, seed=0)
    np.testing.assert_allclose(bound, expected_bound, atol=0.15)
    assert np.all(bound <= exact + 0.05)


def test_elbo_rejects_other_models_and_bad_log_z():
    dbm = reference.random_dbm([4, 3])
    x = np.zeros((2, 4), "float32")
    with pytest.raises(ValueError, match="DBM or keras_dbn.DBN"):
        evaluation.elbo(random_rbm(4, 3), x, 0.0)
    with pytest.raises(ValueError, match="log_z"):
        evaluation.elbo(dbm, x, float("inf"))
    with pytest.raises(ValueError, match="4"):
        evaluation.elbo(dbm, np.zeros((2, 5), "float32"), 0.0)
