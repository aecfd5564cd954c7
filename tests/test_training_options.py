"""Each RBM training option does what it claims, measured independently of the training code.

Likelihoods are exact (enumeration, cross-checked against the numpy reference),
marginals of Softmax units are exact, and the ReLU free energy is checked against
a numpy stepped-sigmoid sum.
"""

import itertools

import keras
import numpy as np
import pytest
import reference
import tensorflow as tf
from digit_data import scaled_digits

from keras_dbn import RBM, evaluation, units

PROTOTYPES = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 0], [1, 0, 0, 0, 1, 1]], "float32")


@pytest.fixture(scope="module")
def patterns():
    """500 noisy copies of three 6-bit prototypes (10% of bits flipped)."""
    rng = np.random.default_rng(0)
    x = PROTOTYPES[rng.integers(0, 3, 500)]
    return np.abs(x - (rng.random(x.shape) < 0.1)).astype("float32")


def fit(rbm, x, epochs, learning_rate=0.1, momentum=0.5, batch_size=20):
    keras.utils.set_random_seed(0)
    rbm.compile(keras.optimizers.SGD(learning_rate, momentum=momentum), steps_per_execution=25)
    rbm.fit(x, epochs=epochs, batch_size=batch_size, verbose=0)
    return rbm


def exact_log_likelihood(rbm, x):
    value = evaluation.log_likelihood(rbm, x, evaluation.exact_log_partition(rbm))
    assert value == pytest.approx(
        reference.exact_log_likelihood(rbm, x), abs=1e-4
    )  # numpy cross-check
    return value


@pytest.mark.parametrize(
    "options",
    [dict(persistent=True, num_chains=37), dict(negative_phase="mean_field")],
    ids=["pcd", "mean_field"],
)
def test_exact_log_likelihood_rises(patterns, options):
    rbm = RBM(4, seed=0, **options)
    rbm.build((None, 6))
    before = exact_log_likelihood(rbm, patterns)
    fit(rbm, patterns, epochs=15)
    after = exact_log_likelihood(rbm, patterns)
    # Untrained: -6 log 2 = -4.16 nats; the best possible (the data's entropy) is about -3.0.
    assert after > before + 0.3, (before, after)


def test_persistent_chains_have_their_own_count_and_move(patterns):
    """Chains started at zeros (a dataset gives no rows to start them at) move to sampled states."""
    rbm = RBM(4, persistent=True, num_chains=37, seed=0)
    rbm.build((None, 6))
    rbm.kernel.assign(np.random.default_rng(0).normal(0, 1.0, (6, 4)))
    assert not np.asarray(rbm.persistent_chains).any()
    rbm.compile(keras.optimizers.SGD(0.1))
    rbm.fit(tf.data.Dataset.from_tensor_slices(patterns).batch(10), epochs=1, verbose=0)
    chains = np.asarray(rbm.persistent_chains)
    assert chains.shape == (37, 6)
    assert set(np.unique(chains)) == {0.0, 1.0}  # sampled binary states, not zeros
    assert len(np.unique(chains, axis=0)) > 5  # 37 chains of their own, not copies of one state


def test_sparsity_target_lowers_hidden_activation_toward_target(patterns):
    plain = fit(RBM(4, seed=0), patterns, epochs=8)
    sparse = fit(RBM(4, sparsity_target=0.05, sparsity_cost=1.0, seed=0), patterns, epochs=8)
    plain_mean = float(np.mean(keras.ops.convert_to_numpy(plain(patterns))))
    sparse_mean = float(np.mean(keras.ops.convert_to_numpy(sparse(patterns))))
    assert sparse_mean < plain_mean - 0.1, (plain_mean, sparse_mean)
    assert abs(sparse_mean - 0.05) < abs(plain_mean - 0.05)


def twin_rbms(**options):
    """Two RBMs with identical weights and sampler seeds, one with ``options``."""
    rbms = [RBM(5, seed=3), RBM(5, seed=3, **options)]
    init = np.random.default_rng(1).normal(size=(6, 5)).astype("float32")
    for rbm in rbms:
        rbm.build((None, 6))
        rbm.kernel.assign(init)
    return rbms


def test_l2_penalty_acts_on_the_kernel_only(patterns):
    plain, decayed = twin_rbms(kernel_regularizer=keras.regularizers.L2(0.05))
    v0 = keras.ops.convert_to_tensor(patterns[:50])
    (plain_grads, _), (decayed_grads, _) = (
        plain.contrastive_divergence(v0),
        decayed.contrastive_divergence(v0),
    )
    kernel = np.asarray(decayed.kernel)
    np.testing.assert_allclose(
        decayed_grads[0] - plain_grads[0], 2 * 0.05 * kernel, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(decayed_grads[1], plain_grads[1])  # hidden bias
    np.testing.assert_array_equal(decayed_grads[2], plain_grads[2])  # visible bias

    plain, decayed = twin_rbms(kernel_regularizer=keras.regularizers.L2(0.05))
    fit(plain, patterns, epochs=5)
    fit(decayed, patterns, epochs=5)
    assert np.linalg.norm(decayed.kernel) < 0.7 * np.linalg.norm(plain.kernel)


def test_optimizer_weight_averaging_ends_fit_with_the_moving_average(patterns):
    """``use_ema`` optimizers (Polyak-style averaging): fit ends at the EMA of the iterates."""

    class RecordWeights(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.iterates = []

        def on_train_batch_end(self, batch, logs=None):
            self.iterates.append([np.array(w, "float64") for w in self.model.trainable_weights])

    momentum = 0.8
    rbm = RBM(4, persistent=True, num_chains=20, seed=0)
    rbm.compile(
        keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=momentum), steps_per_execution=1
    )
    record = RecordWeights()
    rbm.fit(patterns, epochs=2, batch_size=50, verbose=0, callbacks=[record])
    assert len(record.iterates) == 20
    average = record.iterates[0]  # Keras starts the average at the first iterate
    for iterate in record.iterates[1:]:
        average = [momentum * a + (1 - momentum) * w for a, w in zip(average, iterate)]
    for name, final, expected, last in zip(
        ("kernel", "hidden_bias", "visible_bias"),
        rbm.trainable_weights,
        average,
        record.iterates[-1],
    ):
        np.testing.assert_allclose(final, expected, rtol=1e-5, atol=1e-6, err_msg=name)
        assert not np.allclose(expected, last, atol=1e-4), (
            name
        )  # the average is not the last iterate


def test_softmax_visible_samples_are_one_hot_and_learn_a_skewed_categorical():
    target = [np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.1, 0.8])]
    rng = np.random.default_rng(0)
    x = np.concatenate([np.eye(3)[rng.choice(3, 600, p=p)] for p in target], axis=1).astype(
        "float32"
    )
    rbm = fit(RBM(3, visible=units.Softmax(3), seed=0), x, epochs=15, learning_rate=0.05)
    rbm = fit(rbm, x, epochs=10, learning_rate=0.01)  # smaller steps: less SGD noise at the end

    samples = rbm.sample(200, gibbs_steps=20, mean=False).reshape(200, 2, 3)
    assert set(np.unique(samples)) == {0.0, 1.0}
    np.testing.assert_array_equal(samples.sum(-1), 1.0)

    # Exact model marginals: p(v) over the 9 states, from the free energy and exact log Z.
    states = np.array(
        [np.concatenate(c) for c in itertools.product(np.eye(3), repeat=2)], "float32"
    )
    log_p = -keras.ops.convert_to_numpy(rbm.free_energy(states)).astype(
        "float64"
    ) - evaluation.exact_log_partition(rbm)
    p = np.exp(log_p)
    assert p.sum() == pytest.approx(1.0, abs=1e-5)
    marginals = (p[:, None] * states).sum(0).reshape(2, 3)
    # Maximum likelihood matches the data's own marginals (sampled from the targets).
    np.testing.assert_allclose(marginals, x.reshape(-1, 2, 3).mean(0), atol=0.04)


def test_relu_hidden_free_energy_is_the_stepped_sigmoid_sum():
    rbm = RBM(
        5,
        hidden="relu",
        seed=0,
        kernel_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=2),
    )
    rbm.build((None, 8))
    rbm.visible_bias.assign(np.linspace(-1, 1, 8).astype("float32"))
    rbm.hidden_bias.assign(np.linspace(-2, 2, 5).astype("float32"))
    kernel, hidden_bias, visible_bias = reference.weights(rbm)
    v = np.random.default_rng(3).random((10, 8)).astype("float32")
    pre = v.astype("float64") @ kernel + hidden_bias
    offsets = np.arange(100) + 0.5  # 100 binary copies with biases shifted by -0.5, -1.5, ...
    expected = -v @ visible_bias - reference.softplus(pre[:, :, None] - offsets).sum((1, 2))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rbm.free_energy(v)), expected, rtol=1e-5)


def test_relu_hidden_training_reduces_reconstruction_error():
    x = scaled_digits(500)[0]
    rbm = RBM(32, hidden="relu", seed=0)
    rbm.build((None, 64))
    before = np.mean((keras.ops.convert_to_numpy(rbm.reconstruct(x)) - x) ** 2)
    fit(rbm, x, epochs=10, learning_rate=0.01)
    after = np.mean((keras.ops.convert_to_numpy(rbm.reconstruct(x)) - x) ** 2)
    assert after < 0.5 * before, (before, after)


tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="XLA on CPU is TensorFlow's choice here"
)


@tensorflow_only
@pytest.mark.parametrize(
    "options",
    [
        dict(persistent=True, num_chains=20),
        dict(cd_k=5),
        dict(sparsity_target=0.2, sparsity_cost=0.1),
        dict(negative_phase="mean_field"),
    ],
    ids=["pcd", "cd5_loop", "sparsity", "mean_field"],
)
def test_xla_compiled_step_learns(patterns, options):
    """The step compiled by XLA raises the exact likelihood.

    ThreeFry draws, the CD-k loop inside XLA.
    """
    rbm = RBM(4, seed=0, **options)
    rbm.build((None, 6))
    before = exact_log_likelihood(rbm, patterns)
    rbm.compile(keras.optimizers.SGD(0.1, momentum=0.5), steps_per_execution=25, jit_compile=True)
    rbm.fit(patterns, epochs=15, batch_size=20, verbose=0)
    assert rbm.jit_compile is True
    assert exact_log_likelihood(rbm, patterns) > before + 0.3


@tensorflow_only
def test_auto_jit_compile_uses_xla_for_large_float32_fits_only(patterns, monkeypatch):
    from keras_dbn import base

    def fitted(dtype="float32", **compile_kwargs):
        rbm = RBM(4, seed=0, dtype=dtype)
        rbm.compile(keras.optimizers.SGD(0.1), **compile_kwargs)
        rbm.fit(patterns, epochs=2, batch_size=50, verbose=0)
        return rbm

    assert fitted().jit_compile is False  # 1,000 rows x 34 weights: compiling would not pay
    monkeypatch.setattr(base, "XLA_MIN_WORK", 1000 * 34)
    rbm = fitted()
    assert rbm.jit_compile is True
    assert rbm.get_compile_config()["jit_compile"] == "auto"  # a reloaded model decides again
    rbm.fit(
        patterns[:100], epochs=1, batch_size=50, verbose=0
    )  # a smaller fit goes back to the graph
    assert rbm.jit_compile is False
    assert fitted(jit_compile=False).jit_compile is False  # the user's choice stands
    assert fitted(dtype="mixed_bfloat16").jit_compile is False  # bf16 products stay on oneDNN
