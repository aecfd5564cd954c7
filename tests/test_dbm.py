"""The Deep Boltzmann Machine (`keras_dbn.DBM`) against numpy on tiny models."""

import keras
import numpy as np
import pytest
from digit_data import digits_split
from keras import ops
from reference import random_dbm

from keras_dbn import DBM, RBM, backend, units
from keras_dbn.dbm import VariationalLearning


class Threshold(units.Bernoulli):
    """Bernoulli units whose "sample" is 1 where the input is positive: a step numpy can follow."""

    def _sample(self, pre, seed):
        return ops.cast(pre > 0, pre.dtype)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_weights(dbm):
    as_numpy = lambda v: np.asarray(ops.convert_to_numpy(v), "float64")  # noqa: E731
    return [as_numpy(w) for w in dbm.kernels], [as_numpy(b) for b in dbm.biases]


def numpy_mean_field(x, kernels, biases, steps):
    """Salakhutdinov's updates for three layers: h1 from 2 v W1, h2 from h1; then h1 from v
    and h2, h2 from the new h1, ``steps`` times."""
    (w1, w2), (_, b1, b2) = kernels, biases
    h1 = sigmoid(2 * x @ w1 + b1)
    h2 = sigmoid(h1 @ w2 + b2)
    for _ in range(steps):
        h1 = sigmoid(x @ w1 + h2 @ w2.T + b1)
        h2 = sigmoid(h1 @ w2 + b2)
    return h1, h2


@pytest.fixture(scope="module")
def data():
    return (np.random.default_rng(1).random((20, 8)) < 0.4).astype("float32")


def test_mean_field_is_salakhutdinovs_fixed_point_iteration(data):
    dbm = random_dbm([8, 5, 3], mean_field_steps=7)
    kernels, biases = numpy_weights(dbm)
    h1, h2 = dbm.posterior(data, batch_size=8)  # batches of 8, 8 and 4 rows
    expected = numpy_mean_field(data, kernels, biases, 7)
    np.testing.assert_allclose(h1, expected[0], atol=1e-5)
    np.testing.assert_allclose(h2, expected[1], atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(dbm(data)), expected[1], atol=1e-5)


def test_mean_field_converges_to_a_fixed_point_of_the_update(data):
    dbm = random_dbm([8, 5, 4, 3], scale=0.5, mean_field_steps=200)
    (w1, w2, w3), (_, b1, b2, b3) = numpy_weights(dbm)
    h1, h2, h3 = dbm.posterior(data)
    np.testing.assert_allclose(h1, sigmoid(data @ w1 + h2 @ w2.T + b1), atol=1e-5)
    np.testing.assert_allclose(h2, sigmoid(h1 @ w2 + h3 @ w3.T + b2), atol=1e-5)
    np.testing.assert_allclose(h3, sigmoid(h2 @ w3 + b3), atol=1e-5)


def test_learning_rule_is_data_minus_model_statistics(data):
    dbm = random_dbm([8, 5, 3], mean_field_steps=4, gibbs_steps=3, num_chains=6)
    dbm.visible = dbm.hidden = Threshold()  # deterministic "samples" numpy can follow
    kernels, biases = numpy_weights(dbm)
    chains = [np.asarray(ops.convert_to_numpy(c), "float64") for c in dbm.chains]
    trainer = VariationalLearning(dbm)
    dbm._set_generative_trainable(True)
    gradients, diagnostics = trainer.rule_gradients(ops.convert_to_tensor(data))

    (w1, w2), (b0, b1, b2) = kernels, biases
    h1, h2 = numpy_mean_field(data, kernels, biases, 4)
    v, m1, m2 = chains
    for _ in range(3):  # odd layers given even, then even given odd
        m1 = (v @ w1 + m2 @ w2.T + b1 > 0).astype(float)
        v, m2 = (m1 @ w1.T + b0 > 0).astype(float), (m1 @ w2 + b2 > 0).astype(float)
    n, m = len(data), len(v)
    expected = [
        -(data.T @ h1 / n - v.T @ m1 / m),
        -(h1.T @ h2 / n - m1.T @ m2 / m),
        -(data.mean(0) - v.mean(0)),
        -(h1.mean(0) - m1.mean(0)),
        -(h2.mean(0) - m2.mean(0)),
    ]
    for gradient, numpy_gradient in zip(gradients, expected):
        np.testing.assert_allclose(ops.convert_to_numpy(gradient), numpy_gradient, atol=1e-5)
    for chain, state in zip(dbm.chains, [v, m1, m2]):  # the chains advanced
        np.testing.assert_array_equal(ops.convert_to_numpy(chain), state)
    reconstruction = sigmoid(h1 @ w1.T + b0)
    np.testing.assert_allclose(
        float(diagnostics["reconstruction_error"]), ((data - reconstruction) ** 2).mean(), rtol=1e-5
    )


def test_fit_generative_moves_the_generative_model_by_the_optimizer(data):
    dbm = random_dbm([8, 5, 3], scale=0.1)
    before = numpy_weights(dbm)
    history = dbm.fit_generative(
        data, epochs=2, batch_size=10, optimizer=keras.optimizers.SGD(0.1), verbose=0
    )
    after = numpy_weights(dbm)
    assert len(history.history["reconstruction_error"]) == 2
    assert all(np.abs(a - b).max() > 1e-4 for a, b in zip(after[0], before[0]))
    assert dbm.trainable_variables == []  # frozen again outside the generative stages


def test_generate_runs_block_gibbs_from_the_chains():
    dbm = random_dbm([8, 5, 3], num_chains=4)
    dbm.visible = dbm.hidden = Threshold()
    (w1, w2), (b0, b1, b2) = numpy_weights(dbm)
    chains = [np.asarray(ops.convert_to_numpy(c), "float64") for c in dbm.chains]
    samples = dbm.generate(6, gibbs_steps=8)  # chains 0-3, then 0-1 again; a compiled loop
    v, m1, m2 = (c[np.arange(6) % 4] for c in chains)
    for _ in range(8):
        m1 = (v @ w1 + m2 @ w2.T + b1 > 0).astype(float)
        v, m2 = (m1 @ w1.T + b0 > 0).astype(float), (m1 @ w2 + b2 > 0).astype(float)
    np.testing.assert_allclose(samples, sigmoid(m1 @ w1.T + b0), atol=1e-5)
    for chain, state in zip(dbm.chains, chains):  # left where they were
        np.testing.assert_array_equal(ops.convert_to_numpy(chain), state)


def test_only_bernoulli_hidden_units_and_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="hidden units must be Bernoulli"):
        DBM([4], hidden="relu")
    with pytest.raises(ValueError, match="hidden_units"):
        DBM([])
    with pytest.raises(ValueError, match="gibbs_steps"):
        DBM([4], gibbs_steps=0)
    dbm = random_dbm([8, 5, 3])
    with pytest.raises(ValueError, match="num_samples"):
        dbm.generate(0)
    with pytest.raises(ValueError, match="output_units"):
        dbm.fit(np.zeros((4, 8), "float32"), np.zeros(4))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.full((10, 8), 2.0, "float32"), r"\[0, 1\]"),
        (np.full((10, 8), np.nan, "float32"), "NaN"),
        (np.zeros((10, 7), "float32"), "8"),
    ],
)
def test_bad_input_is_refused_before_any_weight_changes(data, bad, message):
    dbm = random_dbm([8, 5, 3])
    before = [ops.convert_to_numpy(v).copy() for v in dbm.variables]
    for call in (
        lambda: dbm.fit_generative(bad, epochs=1, verbose=0),
        lambda: dbm.fit_generative(data, epochs=1, verbose=0, validation_data=bad),
        lambda: dbm.posterior(bad),
        lambda: dbm(bad),
    ):
        with pytest.raises(ValueError, match=message):
            call()
    for variable, value in zip(dbm.variables, before):
        np.testing.assert_array_equal(ops.convert_to_numpy(variable), value)


# ------------------------------------------------------------ the classifier
def test_fine_tuning_starts_from_the_dbm_and_leaves_it_alone(data):
    labels = np.arange(len(data)) % 2
    dbm = random_dbm([8, 5, 3], output_units=2)
    generative = numpy_weights(dbm)
    (w1, w2), (_, b1, b2) = generative
    dbm.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    dbm.fit(data, labels, epochs=1, batch_size=10, verbose=0)  # rate 0: the copied start
    np.testing.assert_array_equal(ops.convert_to_numpy(dbm.classifier_kernels[0]), w1)
    np.testing.assert_array_equal(ops.convert_to_numpy(dbm.classifier_feedback), w2.T)
    # The network of Salakhutdinov & Hinton's figure 3: [v, q(h2 | v)] -> h1 -> h2 -> softmax.
    _, q2 = numpy_mean_field(data, *generative, dbm.mean_field_steps)
    top = sigmoid(sigmoid(data @ w1 + q2 @ w2.T + b1) @ w2 + b2)
    head = [np.asarray(ops.convert_to_numpy(w), "float64") for w in dbm.head.weights]
    logits = top @ head[0] + head[1]
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(dbm.predict(data, verbose=0), expected, atol=1e-5)

    dbm.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    dbm.fit(data, labels, epochs=3, batch_size=10, verbose=0)
    for a, b in zip(numpy_weights(dbm), generative):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert np.abs(ops.convert_to_numpy(dbm.classifier_kernels[0]) - w1).max() > 1e-3
    dbm.fit_generative(data, epochs=1, batch_size=10, verbose=0)
    dbm.fit(data, labels, epochs=0, verbose=0)  # the changed generative model is copied again
    np.testing.assert_array_equal(
        ops.convert_to_numpy(dbm.classifier_kernels[0]), ops.convert_to_numpy(dbm.kernels[0])
    )


def test_a_dbm_composes_in_the_functional_api(data):
    dbm = random_dbm([8, 5, 3])
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(dbm(inputs)))
    model.compile("adam", "sparse_categorical_crossentropy")
    before = numpy_weights(dbm)
    model.fit(data, np.arange(len(data)) % 2, epochs=1, verbose=0)
    assert len(model.trainable_variables) == 2  # the head's: the DBM is a fixed feature map
    for a, b in zip(numpy_weights(dbm)[0], before[0]):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ saving
def test_config_round_trip():
    dbm = DBM([6, 4, 2], output_units=3, visible="gaussian", mean_field_steps=3, seed=5)
    clone = DBM.from_config(dbm.get_config())
    assert clone.get_config() == dbm.get_config()
    assert clone.visible == units.Gaussian() and clone.hidden_units == [6, 4, 2]


def test_save_load_keeps_weights_chains_and_sampler_and_trains_on_identically(data, tmp_path):
    dbm = DBM([5, 3], output_units=2, num_chains=7, seed=3)
    dbm.fit_generative(data, epochs=1, batch_size=10, verbose=0)
    dbm.compile("adam", "sparse_categorical_crossentropy")
    dbm.fit(data, np.arange(len(data)) % 2, epochs=1, verbose=0)
    path = tmp_path / "dbm.keras"
    dbm.save(path)
    loaded = keras.saving.load_model(path)
    for a, b in zip(loaded.variables, dbm.variables):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
    np.testing.assert_array_equal(
        ops.convert_to_numpy(loaded.seed_generator.state),
        ops.convert_to_numpy(dbm.seed_generator.state),
    )
    np.testing.assert_allclose(loaded.predict(data, verbose=0), dbm.predict(data, verbose=0))
    for model in (dbm, loaded):
        model.fit_generative(
            data, epochs=2, batch_size=10, optimizer=keras.optimizers.SGD(0.05), verbose=0
        )
    for a, b in zip(loaded.variables, dbm.variables):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), atol=1e-6)


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_backup_and_restore_resumes_fit_generative_exactly(data, tmp_path):
    def run(callbacks):
        keras.utils.set_random_seed(0)
        dbm = DBM([5, 3], num_chains=7, seed=3)
        history = dbm.fit_generative(
            data,
            epochs=4,
            batch_size=5,
            optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
            callbacks=callbacks,
            verbose=0,
        )
        return dbm, history

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(KeyboardInterrupt):
        run([backup, Interrupt()])
    resumed, history = run([keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))])
    assert len(history.history["reconstruction_error"]) == 2  # epochs 3 and 4 only
    uninterrupted, _ = run([])
    for a, b in zip(resumed.variables, uninterrupted.variables):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), atol=1e-6)


@pytest.mark.skipif(backend.name() != "tensorflow", reason="SavedModel export from TensorFlow")
def test_exported_classifier_matches_the_model(data, tmp_path):
    import tensorflow as tf

    dbm = random_dbm([8, 5, 3], scale=0.3, output_units=2)
    dbm.compile("adam", "sparse_categorical_crossentropy")
    dbm.fit(data, np.arange(len(data)) % 2, epochs=1, verbose=0)
    dbm.export(str(tmp_path / "exported"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "exported"))
    np.testing.assert_allclose(served.serve(data).numpy(), dbm.predict(data, verbose=0), atol=1e-6)


# ------------------------------------------------------------- pretraining
def test_pretraining_doubles_the_bottom_input_and_the_top_hidden_layer_and_halves_the_middle(
    data,
):
    dbm = DBM([5, 4, 3], num_chains=6, seed=7)
    dbm.pretrain(data, epochs=2, batch_size=10, optimizer=keras.optimizers.SGD(0.1), verbose=0)

    def rbm(i, features, **kwargs):  # each RBM as pretrain makes and fits it, by hand
        model = RBM(dbm.hidden_units[i - 1], seed=7 + i, **kwargs)
        model.compile(keras.optimizers.SGD(0.1))
        model.fit(features.astype("float32"), epochs=2, batch_size=10, verbose=0)
        return [np.asarray(ops.convert_to_numpy(w), "float64") for w in model.rule_variables()]

    k1, c1, a1 = rbm(1, 2.0 * data, visible=units.Binomial(2))  # v seen twice
    f1 = sigmoid(2.0 * data @ k1 + c1)  # h1's doubled input from below
    k2, c2, _ = rbm(2, f1)
    k3, c3, _ = rbm(3, sigmoid(f1 @ k2 + c2), hidden=units.Binomial(2))  # h3 seen twice
    kernels, biases = numpy_weights(dbm)
    for got, expected in zip(kernels + biases, [k1, k2 / 2, k3, a1, c1, c2, c3]):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    chains = [ops.convert_to_numpy(c) for c in dbm.chains]  # at training rows and their q
    assert all(any(np.array_equal(row, x) for x in data) for row in chains[0])
    np.testing.assert_allclose(chains[1], dbm.posterior(chains[0])[0], atol=1e-6)


def test_one_layer_dbm_pretrains_as_a_plain_rbm(data):
    dbm = DBM([4], seed=2)
    dbm.pretrain(data, epochs=1, batch_size=10, verbose=0)
    rbm = RBM(4, seed=3)
    rbm.compile(keras.optimizers.SGD(0.1, momentum=0.9))
    rbm.fit(data, epochs=1, batch_size=10, verbose=0)
    np.testing.assert_allclose(
        ops.convert_to_numpy(dbm.kernels[0]), ops.convert_to_numpy(rbm.kernel), atol=1e-6
    )


# ------------------------------------------------------------------ digits
@pytest.mark.skipif(
    backend.name() == "torch",
    reason="PyTorch runs each of its 3,600 steps eagerly: 11 minutes on 2 busy cores",
)
def test_samples_of_a_dbm_trained_on_digits_show_every_digit():
    from sklearn.svm import SVC

    x_train, _, y_train, _ = digits_split(test_size=0.2)
    keras.utils.set_random_seed(0)
    dbm = DBM([100, 50], num_chains=200, seed=0)
    dbm.pretrain(
        x_train, epochs=20, batch_size=20, optimizer=keras.optimizers.SGD(0.05, 0.9), verbose=0
    )
    steps = 30 * -(-len(x_train) // 20)
    rate = keras.optimizers.schedules.PolynomialDecay(0.02, steps, end_learning_rate=0.001)
    dbm.fit_generative(
        x_train, epochs=30, batch_size=20, optimizer=keras.optimizers.SGD(rate, 0.9), verbose=0
    )
    judged = SVC().fit(x_train, y_train).predict(dbm.generate(400, gibbs_steps=500))
    counts = np.bincount(judged, minlength=10)
    # Seed 0 on 2026-12-06: every digit 25 to 57 times of 400.
    assert counts.min() >= 10 and counts.max() <= 120, counts
