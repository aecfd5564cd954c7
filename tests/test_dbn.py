import warnings

import keras
import numpy as np
import pytest
from digit_data import digits_split

from keras_dbn import DBN, RBM


@pytest.fixture(scope="module")
def digits():
    return digits_split(test_size=0.2)


@pytest.fixture(scope="module")
def trained(digits):
    """A DBN pretrained and fine-tuned on digits, with its pretraining histories."""
    x_train, _, y_train, _ = digits
    keras.utils.set_random_seed(0)
    dbn = DBN([256, 256], output_units=10, seed=0)
    histories = dbn.pretrain(x_train, epochs=20, batch_size=32, verbose=0)
    dbn.compile(
        keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    dbn.fit(x_train, y_train, epochs=40, batch_size=32, verbose=0)
    return dbn, histories


def test_pretrain_and_fine_tune_reach_95_percent_on_digits(digits, trained):
    _, x_test, _, y_test = digits
    dbn, _ = trained
    accuracy = np.mean(dbn.predict(x_test, verbose=0).argmax(1) == y_test)
    assert accuracy >= 0.95


def test_pretraining_fits_each_rbm_on_the_upward_means_below(digits, trained):
    x_train = digits[0]
    dbn, histories = trained
    assert len(histories) == 2 and all(
        len(h.history["reconstruction_error"]) == 20 for h in histories
    )
    assert [r.n_visible for r in dbn.rbms] == [64, 256]
    # An untrained RBM built like the second one reconstructs the first layer's features far worse.
    # (The fixture's fine-tuning moved rbms[0], so compare on a freshly pretrained pair.)
    keras.utils.set_random_seed(1)
    fresh = DBN([32, 16], output_units=None, seed=1)
    histories = fresh.pretrain(x_train, epochs=10, batch_size=32, verbose=0)
    features = fresh.rbms[0].predict(x_train, verbose=0)
    untrained = RBM(16, seed=1)
    untrained.compile("sgd")
    untrained.build((None, 32))
    trained_error = fresh.rbms[1].evaluate(features, verbose=0, return_dict=True)[
        "reconstruction_error"
    ]
    untrained_error = untrained.evaluate(features, verbose=0, return_dict=True)[
        "reconstruction_error"
    ]
    assert trained_error < 0.5 * untrained_error
    assert trained_error == pytest.approx(histories[1].history["reconstruction_error"][-1], rel=0.3)
    np.testing.assert_allclose(
        fresh.predict(x_train[:5], verbose=0),
        keras.ops.convert_to_numpy(fresh.rbms[1](features[:5])),
        rtol=1e-5,
    )


def test_call_is_the_upward_pass_then_the_head(digits, trained):
    dbn, _ = trained
    x = digits[1][:8]
    h = x
    for rbm in dbn.rbms:
        w, b = np.asarray(rbm.kernel, "float64"), np.asarray(rbm.hidden_bias, "float64")
        h = 1 / (1 + np.exp(-(h @ w + b)))
    logits = h @ np.asarray(dbn.head.kernel, "float64") + np.asarray(dbn.head.bias, "float64")
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dbn(x)), expected, rtol=1e-4, atol=1e-6)


def test_extract_features_every_layer(digits, trained):
    dbn, _ = trained
    x = digits[1][:10]
    every = dbn.extract_features(x, layer=None)
    assert [f.shape for f in every] == [(10, 256), (10, 256)]
    h = x.astype("float64")
    for rbm, features in zip(dbn.rbms, every):  # numpy: sigmoid(b + h W), layer by layer
        h = 1 / (
            1
            + np.exp(
                -(h @ np.asarray(rbm.kernel, "float64") + np.asarray(rbm.hidden_bias, "float64"))
            )
        )
        np.testing.assert_allclose(features, h, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dbn.extract_features(x, layer=0), every[0], rtol=1e-6)
    np.testing.assert_allclose(dbn.extract_features(x), every[-1], rtol=1e-6)
    np.testing.assert_allclose(
        every[1], keras.ops.convert_to_numpy(dbn.rbms[1](every[0])), rtol=1e-5
    )
    assert isinstance(every[0], np.ndarray)


def test_hidden_unit_types_per_layer_feed_the_layer_above(digits):
    from keras_dbn import units

    dbn = DBN([8, 6, 4], hidden=["relu", units.Binomial(3), "bernoulli"], output_units=10, seed=0)
    dbn.pretrain(digits[0][:200], epochs=1, batch_size=50, verbose=0)
    assert [r.visible for r in dbn.rbms] == [units.Bernoulli(), units.ReLU(), units.Binomial(3)]
    assert [r.hidden for r in dbn.rbms] == [units.ReLU(), units.Binomial(3), units.Bernoulli()]
    clone = DBN.from_config(dbn.get_config())
    assert [r.hidden for r in clone.rbms] == [r.hidden for r in dbn.rbms]
    features = dbn.extract_features(digits[0][:20], layer=None)
    assert features[1].max() <= 3 and features[1].min() >= 0  # binomial means count 0..3
    assert np.isfinite(dbn.generate(3, gibbs_steps=5)).all()


def test_generate_returns_visible_means(trained):
    dbn, _ = trained
    samples = dbn.generate(7, gibbs_steps=20)
    assert samples.shape == (7, 64) and samples.min() >= 0 and samples.max() <= 1
    binary = dbn.generate(3, gibbs_steps=5, mean=False)
    assert set(np.unique(binary)) <= {0.0, 1.0}


def test_pretrain_epochs_makes_the_first_fit_pretrain_once(digits, tmp_path):
    x_train, _, y_train, _ = digits
    dbn = DBN([16], output_units=10, pretrain_epochs=2, seed=0)
    dbn.compile("adam", "sparse_categorical_crossentropy")
    dbn.fit(x_train, y_train, epochs=1, verbose=0)
    assert int(dbn.pretrained.numpy()) == 1
    # The top RBM (here the only one) learns with the labels of `fit`.
    assert int(dbn.generative[-1].optimizer.iterations.numpy()) == 2 * int(
        np.ceil(len(x_train) / 100)
    )
    assert int(dbn.labelled.numpy()) == 1
    dbn.save(tmp_path / "dbn.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Skipping variable loading for optimizer"
        loaded = keras.saving.load_model(tmp_path / "dbn.keras")
    assert int(loaded.optimizer.iterations.numpy()) == int(dbn.optimizer.iterations.numpy()) > 0
    for restored, original in zip(loaded.optimizer.variables, dbn.optimizer.variables):
        np.testing.assert_array_equal(restored, original)
    assert int(loaded.pretrained.numpy()) == 1

    def no_second_pretraining(*args, **kwargs):
        raise AssertionError("a reloaded, pretrained DBN must not pretrain again")

    loaded.pretrain = no_second_pretraining
    loaded.fit(x_train, y_train, epochs=1, verbose=0)


def test_get_config_round_trips_every_argument():
    import inspect

    dbn = DBN(
        [5, 4],
        output_units=3,
        output_activation="sigmoid",
        visible="gaussian",
        cd_k=2,
        persistent=True,
        dropout=0.2,
        input_dropout=0.1,
        pretrain_epochs=3,
        seed=7,
        name="net",
    )
    config = dbn.get_config()
    assert DBN.from_config(config).get_config() == config
    assert set(inspect.signature(DBN.__init__).parameters) - {"self", "kwargs"} <= set(config)


def test_unsupervised_stack_and_optimizer_list(digits):
    x_train = digits[0][:200]
    dbn = DBN([8, 4], output_units=None, seed=0)
    dbn.pretrain(x_train, epochs=1, optimizer=[keras.optimizers.SGD(0.1), "adam"], verbose=0)
    assert isinstance(dbn.rbms[1].optimizer, keras.optimizers.Adam)
    assert dbn(x_train[:3]).shape == (3, 4)
    with pytest.raises(ValueError, match="2 entries for 3 RBMs|3 RBMs"):
        DBN([8, 4, 2]).pretrain(x_train, optimizer=["sgd", "sgd"], verbose=0)


@pytest.mark.skipif(
    keras.backend.backend() == "tensorflow", reason="checks the errors of the other backends"
)
def test_tensorflow_only_features_name_the_backend_they_need(tmp_path):
    x = (np.random.default_rng(0).random((64, 12)) < 0.5).astype("float32")
    path = tmp_path / "x.npy"
    np.save(path, x)
    dbn = DBN([8, 6], seed=0)
    with pytest.raises(ValueError, match="needs the TensorFlow backend"):
        dbn.pretrain(np.load(path, mmap_mode="r"), epochs=1, batch_size=16, verbose=0)
    if keras.backend.backend() == "torch":
        with pytest.raises(ValueError, match="TF SavedModel needs the TensorFlow or JAX backend"):
            dbn.export(tmp_path / "saved")


def test_input_dropout_drops_pixels_in_training_only(digits):
    x = digits[0][:64]
    dbn = DBN([16], output_units=None, input_dropout=0.5, seed=0)
    dbn.build((None, 64))
    dbn.rbms[0].kernel.assign(np.random.default_rng(0).normal(0, 1, (64, 16)))
    kept = keras.ops.convert_to_numpy(dbn(x))
    np.testing.assert_allclose(kept, keras.ops.convert_to_numpy(dbn.rbms[0](x)), rtol=1e-6)
    dropped = keras.ops.convert_to_numpy(dbn(x, training=True))
    assert np.abs(dropped - kept).mean() > 0.1  # half the pixels gone (the rest doubled)
    scaled = DBN(
        [16, 8], output_units=None, dropout=0.5, seed=0
    )  # hidden units kept are doubled, up to 2
    assert keras.ops.convert_to_numpy(scaled(x, training=True)).shape == (64, 8)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="XLA on CPU is TensorFlow's choice here"
)
def test_pretraining_with_labels_runs_under_xla(digits, monkeypatch):
    """Every RBM of a labelled pretraining compiles its step with XLA (softmax label
    units included)."""
    from keras_dbn import base

    monkeypatch.setattr(base, "XLA_MIN_WORK", 0)
    x_train, x_test, y_train, y_test = digits
    dbn = DBN([64, 64], output_units=10, seed=0)
    dbn.pretrain(x_train, y=y_train, epochs=10, batch_size=32, verbose=0)
    assert [rbm.jit_compile for rbm in dbn.rbms[:-1] + dbn.generative[-1:]] == [True, True]
    assert np.mean(dbn.predict_generative(x_test) == y_test) > 0.8


@pytest.mark.parametrize("stage", ["pretrain", "fit_generative"])
def test_balanced_batches_order_every_epoch_by_the_labels(stage, monkeypatch):
    """``balanced=True`` orders each epoch of every RBM (pretraining) or of up-down by the
    classes of ``y``; without ``y`` it is refused before any weight changes."""
    from keras_dbn import data

    rng = np.random.default_rng(0)
    x = (rng.random((40, 12)) < 0.5).astype("float32")
    y = np.arange(40) % 2
    dbn = DBN([8, 6], output_units=2, seed=0)
    if stage == "fit_generative":
        dbn.pretrain(x, y=y, epochs=1, batch_size=20, verbose=0)
    weights = [np.array(w) for w in dbn.weights]
    with pytest.raises(ValueError, match="balanced"):
        getattr(dbn, stage)(x, epochs=1, batch_size=20, verbose=0, balanced=True)
    for before, after in zip(weights, dbn.weights):
        np.testing.assert_array_equal(before, np.array(after))
    seen = []
    order = data.balanced_order
    monkeypatch.setattr(
        data, "balanced_order", lambda labels, seed: seen.append(labels) or order(labels, seed)
    )
    getattr(dbn, stage)(x, y, epochs=2, batch_size=20, verbose=0, balanced=True)
    assert len(seen) == (2 * len(dbn.rbms) if stage == "pretrain" else 2)  # once an epoch
    for labels in seen:
        np.testing.assert_array_equal(labels, y)
