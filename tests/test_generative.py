"""The generative model (`keras_dbn.generative`): up-down fine-tuning, resuming, files, classes."""

import pathlib
import signal

import keras
import numpy as np
import pytest
from digit_data import digits_split
from keras import ops
from script_runs import run_script

from keras_dbn import DBN, RBM, load_model, units
from keras_dbn.generative import GenerativeModel

DATA = pathlib.Path(__file__).parent / "data"


class Threshold(units.Bernoulli):
    """Bernoulli units whose "sample" is 1 where the input is positive: a step numpy can follow."""

    def _sample(self, pre, seed):
        return ops.cast(pre > 0, pre.dtype)


class Argmax(units.Softmax):
    """Softmax units whose "sample" is the one-hot of the largest input."""

    def _sample(self, pre, seed):
        return ops.one_hot(ops.argmax(pre, axis=-1), self.group_size, dtype=pre.dtype)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_up_down_gradients(dbn, x, labels):
    """Hinton, Osindero & Teh (2006), appendix B, with "samples" thresholded at input 0 and the
    top RBM's CD-1 gradient of the free-energy gap: the gradients to descend, in `rule_variables`
    order."""
    (l0, l1, top), n = dbn.generative, len(x)
    w = lambda *vs: [np.asarray(ops.convert_to_numpy(v), "float64") for v in vs]  # noqa: E731
    G0, g0, R0, r0 = w(l0.kernel, l0.visible_bias, l0.recognition_kernel, l0.recognition_bias)
    G1, g1, R1, r1 = w(l1.kernel, l1.visible_bias, l1.recognition_kernel, l1.recognition_bias)
    W, b, a = w(top.kernel, top.hidden_bias, top.visible_bias)
    h1 = (x @ R0 + r0 > 0).astype(float)  # wake: up the recognition weights
    h2 = (h1 @ R1 + r1 > 0).astype(float)
    v = np.concatenate([h2, labels], 1)
    h = (v @ W + b > 0).astype(float)  # the top RBM's negative phase, labels free
    pre = h @ W.T + a
    v_model = np.concatenate([(pre[:, :3] > 0), np.eye(2)[pre[:, 3:].argmax(1)]], 1).astype(float)
    d2 = v_model[:, :3]  # sleep: down the generative weights
    d1 = (d2 @ G1.T + g1 > 0).astype(float)
    d0 = sigmoid(d1 @ G0.T + g0)
    p0, p1 = sigmoid(h1 @ G0.T + g0), sigmoid(h2 @ G1.T + g1)
    q1, q2 = sigmoid(d0 @ R0 + r0), sigmoid(d1 @ R1 + r1)
    pos, neg = sigmoid(v @ W + b), sigmoid(v_model @ W + b)
    return [
        -(x - p0).T @ h1 / n,
        -(x - p0).mean(0),
        -d0.T @ (d1 - q1) / n,
        -(d1 - q1).mean(0),
        -(h1 - p1).T @ h2 / n,
        -(h1 - p1).mean(0),
        -d1.T @ (d2 - q2) / n,
        -(d2 - q2).mean(0),
        -(v.T @ pos - v_model.T @ neg) / n,
        -(pos - neg).mean(0),
        -(v - v_model).mean(0),
    ]


def test_one_step_is_the_papers_wake_sleep_and_top_cd():
    rng = np.random.default_rng(0)
    x = (rng.random((16, 6)) < 0.5).astype("float32")
    y = np.arange(16) % 2
    dbn = DBN([4, 3, 5], output_units=2, seed=0)
    dbn.pretrain(x, y=y, epochs=1, batch_size=8, verbose=0)
    for layer in dbn.generative:  # untie: every weight its own random value
        for variable in layer.trainable_weights:
            variable.assign(rng.normal(0, 1, variable.shape).astype("float32"))
        layer.hidden = Threshold()
        if layer is not dbn.generative[-1]:
            layer.visible = Threshold() if layer is not dbn.generative[0] else layer.visible
    dbn.generative[-1].visible = units.Joint([(Threshold(), 3), (Argmax(2), 2)])
    trainer = dbn.generative_model
    labels = np.eye(2, dtype="float32")[y]
    gradients, diagnostics = trainer.rule_gradients(
        ops.convert_to_tensor(np.concatenate([x, labels], 1))
    )
    expected = numpy_up_down_gradients(dbn, x.astype("float64"), labels.astype("float64"))
    assert len(gradients) == len(expected) == len(trainer.rule_variables())
    for got, want, variable in zip(gradients, expected, trainer.rule_variables()):
        np.testing.assert_allclose(
            ops.convert_to_numpy(got), want, rtol=1e-4, atol=1e-5, err_msg=variable.path
        )
    p0 = sigmoid(
        (
            x @ dbn.generative[0].recognition_kernel.numpy()
            + dbn.generative[0].recognition_bias.numpy()
            > 0
        )
        @ dbn.generative[0].kernel.numpy().T
        + dbn.generative[0].visible_bias.numpy()
    )
    np.testing.assert_allclose(
        float(diagnostics["reconstruction_error"]), np.mean((x - p0) ** 2), rtol=1e-5
    )


@pytest.fixture(scope="module")
def digits():
    x_train, x_test, y_train, y_test = digits_split(test_size=0.2)
    return x_train, y_train, x_test, y_test


def pretrained(x, y, seed=0):
    keras.utils.set_random_seed(seed)
    dbn = DBN([100, 300], output_units=10, seed=seed)
    dbn.pretrain(x, y=y, epochs=40, batch_size=50, verbose=0)
    return dbn


def test_generative_model_draws_better_digits_after_up_down(digits):
    """Measured: up-down raises the share of conditioned samples an SVC calls their label."""
    from sklearn.svm import SVC

    x_train, y_train, x_test, y_test = digits
    judge = SVC().fit(x_train, y_train)
    dbn = pretrained(x_train, y_train)
    labels = np.repeat(np.arange(10), 30)

    def judged_right():
        return float(
            np.mean(
                judge.predict(dbn.generate(len(labels), labels=labels, gibbs_steps=500)) == labels
            )
        )

    before = judged_right()
    dbn.fit_generative(x_train, y_train, epochs=20, batch_size=32, verbose=0)
    after = judged_right()
    assert after > before + 0.03, (before, after)
    assert np.mean(dbn.predict_generative(x_test) == y_test) > 0.85


def test_fit_generative_changes_the_generative_model_only(digits, tmp_path):
    x_train, y_train, x_test, _ = digits
    dbn = pretrained(x_train[:400], y_train[:400])
    recognition = [w.numpy().copy() for w in dbn.rbms[0].weights + dbn.head.weights]
    bottom = dbn.generative[0]
    np.testing.assert_array_equal(
        bottom.recognition_kernel.numpy(), bottom.kernel.numpy()
    )  # tied after pretraining
    hidden_bias = bottom.hidden_bias.numpy().copy()
    history = dbn.fit_generative(x_train[:400], y_train[:400], epochs=2, batch_size=50, verbose=0)
    assert set(history.history) == {"reconstruction_error", "free_energy_gap"}
    for before, after in zip(recognition, dbn.rbms[0].weights + dbn.head.weights):
        np.testing.assert_array_equal(before, after.numpy())
    assert not np.allclose(bottom.recognition_kernel.numpy(), bottom.kernel.numpy())  # untied now
    np.testing.assert_array_equal(bottom.hidden_bias.numpy(), hidden_bias)  # no part in up-down
    assert not any(layer.trainable for layer in dbn.generative)
    # Both sets of weights are saved, and the reloaded DBN classifies and generates as before.
    dbn.save(tmp_path / "dbn.keras")
    loaded = load_model(tmp_path / "dbn.keras")
    for name in ("kernel", "recognition_kernel", "recognition_bias", "visible_bias"):
        np.testing.assert_array_equal(
            getattr(loaded.generative[0], name).numpy(), getattr(bottom, name).numpy()
        )
    np.testing.assert_array_equal(loaded.predict_generative(x_test), dbn.predict_generative(x_test))


def test_bad_calls_raise_before_any_weight_changes(digits):
    x_train, y_train, _, _ = digits
    x, y = x_train[:100], y_train[:100]
    with pytest.raises(ValueError, match="pretrained first"):
        DBN([8, 6], output_units=10).fit_generative(x, y)
    with pytest.raises(ValueError, match="pretrained first"):
        tied = DBN([8, 6], output_units=10, untied=False)
        tied.pretrain(x, epochs=1, verbose=0)
        tied.fit_generative(x, y)
    dbn = DBN([8, 6], output_units=10, seed=0)
    dbn.pretrain(x, y=y, epochs=1, verbose=0)
    weights = [w.numpy().copy() for layer in dbn.generative for w in layer.weights]
    with pytest.raises(ValueError, match="needs them too"):
        dbn.fit_generative(x)
    bad = x.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dbn.fit_generative(bad, y)
    with pytest.raises(ValueError, match="y"):
        dbn.fit_generative(x, y[:50])
    with pytest.raises(ValueError, match=r"\[0, 10\)|range"):
        dbn.fit_generative(x, y + 10)
    unlabelled = DBN([8, 6], output_units=10, seed=0)
    unlabelled.pretrain(x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="pretrained with labels"):
        unlabelled.fit_generative(x, y)
    for before, after in zip(weights, [w for layer in dbn.generative for w in layer.weights]):
        np.testing.assert_array_equal(before, after.numpy())


def test_files_written_before_the_recognition_weights_load_them_tied():
    """tests/data/dbn_v0_2_untied.keras: a labelled DBN([8, 6], output_units=2) written at commit
    bc6db41, whose generative model had no recognition weights of its own."""
    expected = np.load(DATA / "v0_2_untied_outputs.npz")
    dbn = load_model(DATA / "dbn_v0_2_untied.keras")
    bottom = dbn.generative[0]
    np.testing.assert_array_equal(bottom.kernel.numpy(), expected["generative_kernel"])
    np.testing.assert_array_equal(bottom.recognition_kernel.numpy(), expected["generative_kernel"])
    np.testing.assert_array_equal(
        bottom.recognition_bias.numpy(), expected["generative_hidden_bias"]
    )
    x = expected["x"]
    np.testing.assert_allclose(dbn.predict(x, verbose=0), expected["dbn"], rtol=1e-6)
    np.testing.assert_allclose(bottom.predict(x, verbose=0), expected["generative_up"], rtol=1e-6)
    np.testing.assert_array_equal(dbn.predict_generative(x), expected["generative_classes"])
    joint = np.concatenate(
        [expected["generative_up"], np.eye(2, dtype="float32")[(x[:, 0] > 0.5).astype(int)]], 1
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(dbn.generative[-1].free_energy(joint)),
        expected["top_free_energy"],
        rtol=1e-5,
    )
    dbn.fit_generative(
        x, (x[:, 0] > 0.5).astype(int), epochs=1, batch_size=8, verbose=0
    )  # and trains on


@pytest.mark.parametrize("output_units", [None, 10])
def test_dbns_pretrained_without_labels_train_their_generative_model_without_them(
    digits, output_units
):
    x = digits[0][:200]
    dbn = DBN([16, 12], output_units=output_units, seed=0)
    dbn.pretrain(x, epochs=2, batch_size=50, verbose=0)
    before = dbn.generative[0].kernel.numpy().copy()
    dbn.fit_generative(x, epochs=1, batch_size=50, verbose=0)
    assert not np.allclose(dbn.generative[0].kernel.numpy(), before)
    assert dbn.generate(3, gibbs_steps=5).shape == (3, 64)


def test_a_mixed_bfloat16_dbn_pretrains_fine_tunes_its_generative_model_and_classifies(digits):
    """Under mixed_bfloat16 `predict` returns numpy bfloat16, which the upper RBMs take as their
    data."""
    x_train, y_train, x_test, _ = digits
    dbn = DBN([16, 12], output_units=10, seed=0, dtype="mixed_bfloat16")
    dbn.pretrain(x_train[:200], y=y_train[:200], epochs=1, batch_size=50, verbose=0)
    dbn.fit_generative(x_train[:200], y_train[:200], epochs=1, batch_size=50, verbose=0)
    assert dbn.generative[0].recognition_kernel.dtype == "float32"
    assert dbn.predict_generative(x_test[:5]).shape == (5,)
    assert dbn.extract_features(x_test[:5]).shape == (5, 12)
    assert dbn.generate(4, labels=[0, 1, 2, 3], gibbs_steps=5).shape == (4, 64)


def test_files_of_the_generative_model_layout_load_with_their_outputs():
    """tests/data/dbn_v0_3_generative.keras: a labelled DBN([8, 6], output_units=3) pretrained,
    fine-tuned by up-down and by backpropagation, saved with `keras_dbn.generative` (see
    tests/scripts/make_v0_3_file.py)."""
    expected = np.load(DATA / "v0_3_generative_outputs.npz")
    dbn = load_model(DATA / "dbn_v0_3_generative.keras")
    x = expected["x"]
    np.testing.assert_allclose(dbn.predict(x, verbose=0), expected["dbn"], rtol=1e-6)
    np.testing.assert_array_equal(dbn.predict_generative(x), expected["generative_classes"])
    np.testing.assert_allclose(
        dbn.predict_generative_proba(x), expected["generative_proba"], rtol=1e-5
    )
    for name in ("kernel", "recognition_kernel"):
        np.testing.assert_array_equal(
            getattr(dbn.generative[0], name).numpy(), expected[f"generative_{name}"]
        )
    assert dbn.generate(4, labels=[0, 1, 2, 0], gibbs_steps=5).shape == (4, 12)
    assert dbn.generate(2, gibbs_steps=5).shape == (2, 12)


def test_predict_generative_proba_is_the_softmax_of_minus_the_free_energies():
    dbn = load_model(DATA / "dbn_v0_3_generative.keras")
    x = (np.random.default_rng(1).random((40, 12)) < 0.5).astype("float32")
    proba = dbn.predict_generative_proba(x, batch_size=16)
    bottom, top = dbn.generative
    features = 1 / (
        1 + np.exp(-(x @ bottom.recognition_kernel.numpy() + bottom.recognition_bias.numpy()))
    )
    w, a, b = (v.numpy().astype("float64") for v in (top.kernel, top.visible_bias, top.hidden_bias))
    energies = np.stack(
        [
            -(joint @ a) - np.logaddexp(0, joint @ w + b).sum(1)
            for joint in (
                np.concatenate([features, np.tile(np.eye(3)[k], (len(x), 1))], 1) for k in range(3)
            )
        ],
        1,
    )
    want = np.exp(-energies - (-energies).max(1, keepdims=True))
    np.testing.assert_allclose(proba, want / want.sum(1, keepdims=True), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(proba.argmax(1), dbn.predict_generative(x))
    with pytest.raises(ValueError, match="pretrained with labels"):
        unlabelled = DBN([8, 6], output_units=3, seed=0)
        unlabelled.pretrain(x, epochs=1, verbose=0)
        unlabelled.predict_generative_proba(x)


def test_generative_model_is_a_list_of_its_layers_and_stands_alone(tmp_path):
    x = (np.random.default_rng(0).random((64, 12)) < 0.5).astype("float32")
    rbms = [RBM(8, seed=0), RBM(6, seed=1)]
    rbms[1](rbms[0](x))
    model = GenerativeModel.from_pretrained(rbms)
    *below, top = model
    assert len(model) == 2 and model[0] is below[0] and model[-1] is top
    assert below[0].untied and not top.untied
    np.testing.assert_array_equal(below[0].recognition_kernel.numpy(), rbms[0].kernel.numpy())
    np.testing.assert_array_equal(top.kernel.numpy(), rbms[1].kernel.numpy())
    model.compile(keras.optimizers.SGD(0.1))
    model.fit(x, epochs=2, batch_size=16, verbose=0)
    assert not any(layer.trainable for layer in model)
    model.save(tmp_path / "generative.keras")
    loaded = load_model(tmp_path / "generative.keras")
    assert isinstance(loaded, GenerativeModel) and len(loaded) == 2
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="label units"):
        model.predict_labels(x)


def test_the_up_down_module_is_a_deprecated_alias():
    import keras_dbn.up_down

    with pytest.warns(DeprecationWarning, match="keras_dbn.generative.GenerativeModel"):
        assert keras_dbn.up_down.UpDown is GenerativeModel


def test_optimizer_settings_outside_its_config_survive_the_copy_for_each_model():
    """An optimizer whose biases are excluded from weight decay (a setting `get_config` omits):
    every copy that pretraining and up-down train with excludes them too."""
    rng = np.random.default_rng(0)
    x = (rng.random((40, 12)) < 0.5).astype("float32")
    y = np.arange(40) % 2
    optimizer = keras.optimizers.AdamW(1e-3, weight_decay=0.1)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    dbn = DBN([8, 6], output_units=2, seed=0)
    dbn.pretrain(x, y=y, epochs=1, batch_size=20, optimizer=optimizer, verbose=0)
    dbn.fit_generative(x, y, epochs=1, batch_size=20, optimizer=optimizer, verbose=0)
    trained = [(rbm, rbm.optimizer) for rbm in dbn.rbms[:-1] + dbn.generative[-1:]]
    trained += [(layer, dbn.generative_model.optimizer) for layer in dbn.generative]
    for layer, copy in trained:
        assert copy is not optimizer and isinstance(copy, keras.optimizers.AdamW)
        for variable in layer.rule_variables():
            assert copy._use_weight_decay(variable) == ("bias" not in variable.name), variable.path


def test_killed_up_down_resumes_to_the_uninterrupted_weights(tmp_path):
    """scripts/up_down_run.py: killed after up-down epoch 3 of 6, then resumed."""
    backup = tmp_path / "backup"
    killed = run_script("up_down_run.py", "kill", backup, tmp_path / "never.npz")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert backup.exists()
    resumed = run_script("up_down_run.py", "plain", backup, tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not backup.exists()
    uninterrupted = run_script("up_down_run.py", "plain", "-", tmp_path / "uninterrupted.npz")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    with np.load(tmp_path / "resumed.npz") as a, np.load(tmp_path / "uninterrupted.npz") as b:
        assert a.files == b.files
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _small_pretrained(**options):
    rng = np.random.default_rng(0)
    x = (rng.random((40, 12)) < 0.5).astype("float32")
    y = np.arange(40) % 2
    keras.utils.set_random_seed(0)
    dbn = DBN([8, 6], output_units=2, seed=0, **options)
    dbn.pretrain(x, y=y, epochs=1, batch_size=20, verbose=0)
    return dbn, x, y


def _generative_weights(dbn):
    return [np.array(v) for v in dbn.generative_model.rule_variables()]


@pytest.mark.parametrize(
    "options, call, setting",
    [
        ({}, {"top_cd_k": 3}, {"cd_k": 3}),
        ({"persistent": "top"}, {"top_persistent": False}, {"persistent": False}),
    ],
)
def test_top_settings_hold_for_one_call_as_if_the_top_rbm_had_them(options, call, setting):
    """``fit_generative(top_cd_k=..., top_persistent=...)`` trains as a top RBM configured so
    would, and leaves the top RBM's own settings (and config) as they were."""
    runs = []
    for configure in (False, True):
        dbn, x, y = _small_pretrained(**options)
        top = dbn.generative[-1]
        config = top.get_config()
        if configure:
            for name, value in setting.items():
                setattr(top, name, value)
        dbn.fit_generative(x, y, epochs=2, batch_size=20, verbose=0, **({} if configure else call))
        if not configure:
            assert top.get_config() == config
        runs.append(_generative_weights(dbn))
    dbn, x, y = _small_pretrained(**options)
    dbn.fit_generative(x, y, epochs=2, batch_size=20, verbose=0)
    for with_call, configured in zip(*runs):
        np.testing.assert_array_equal(with_call, configured)
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], _generative_weights(dbn)))


def test_top_cd_k_of_the_dbn_sets_the_top_rbm_only():
    dbn = DBN([8, 6], output_units=2, cd_k=2, top_cd_k=5)
    assert [rbm.cd_k for rbm in dbn.rbms] == [2, 5]
    config = dbn.get_config()
    assert DBN.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="top_cd_k"):
        DBN([8, 6], top_cd_k=0)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"top_cd_k": 0}, "top_cd_k"),
        ({"top_persistent": True}, "persistent chains"),
        ({"balanced": True, "y": np.arange(39) % 2}, "39 entries for 40"),
        ({"validation_data": (np.zeros((4, 12), "float32"), [0, 1, 0])}, "validation labels"),
    ],
)
def test_bad_recipe_options_are_refused_before_any_weight_changes(bad, match):
    dbn, x, y = _small_pretrained()
    before = _generative_weights(dbn)
    arguments = {"y": y, **bad}
    with pytest.raises(ValueError, match=match):
        dbn.fit_generative(x, epochs=1, batch_size=20, verbose=0, **arguments)
    for was, now in zip(before, _generative_weights(dbn)):
        np.testing.assert_array_equal(was, now)


@pytest.mark.parametrize("excluded", [[], ["bias"]])
def test_weight_decay_applies_to_every_variable_up_down_trains(excluded):
    """One up-down step of SGD(lr, weight_decay=wd) against the same step without decay: each
    decayed variable moves by -lr * wd * w0 (w1 = w0 - lr * (wd * w0 + g)), the others not.

    The recognition weights are checked through the optimizer's settings only: their step
    differs between two identical `fit_generative` runs in one process (the first one's
    sleep-phase gradient is not the later ones'), so a difference of runs would not isolate
    the decay.
    """
    lr, wd, results = 0.1, 0.05, []
    for weight_decay in (None, wd):
        dbn, x, y = _small_pretrained()
        rng = np.random.default_rng(1)
        for variable in dbn.generative_model.rule_variables():
            variable.assign(rng.normal(0, 0.5, variable.shape).astype("float32"))
        initial = _generative_weights(dbn)
        optimizer = keras.optimizers.SGD(lr, weight_decay=weight_decay)
        optimizer.exclude_from_weight_decay(var_names=excluded)
        dbn.fit_generative(x, y, epochs=1, batch_size=40, optimizer=optimizer, verbose=0)
        results.append(_generative_weights(dbn))
    trained = dbn.generative_model
    for plain, decayed, w0, variable in zip(*results, initial, trained.rule_variables()):
        decays = not (excluded and "bias" in variable.name)
        assert trained.optimizer._use_weight_decay(variable) == decays, variable.path
        assert float(trained.optimizer.weight_decay) == pytest.approx(wd)
        if "recognition" not in variable.name:
            np.testing.assert_allclose(
                decayed - plain, -lr * wd * w0 if decays else 0.0, atol=1e-5, err_msg=variable.path
            )


def test_val_generative_error_is_logged_and_early_stopping_keeps_the_best_epoch(digits):
    x_train, y_train, x_test, y_test = digits
    keras.utils.set_random_seed(0)
    dbn = DBN([60, 100], output_units=10, seed=0)
    dbn.pretrain(x_train, y=y_train, epochs=10, batch_size=50, verbose=0)
    snapshots, errors = [], []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(_generative_weights(dbn))
            errors.append(float(np.mean(dbn.predict_generative(x_test) != y_test)))

    best = keras.callbacks.EarlyStopping(
        monitor="val_generative_error", mode="min", patience=6, restore_best_weights=True
    )
    history = dbn.fit_generative(
        x_train,
        y_train,
        epochs=6,
        batch_size=50,
        # Small steps, then from step 48 (of 23 an epoch) steps so large that the error rises.
        optimizer=keras.optimizers.SGD(
            keras.optimizers.schedules.PiecewiseConstantDecay([48], [0.05, 50.0])
        ),
        validation_data=(x_test, y_test),
        callbacks=[Snapshot(), best],
        verbose=0,
    )
    logged = history.history["val_generative_error"]
    np.testing.assert_allclose(logged, errors)  # the share misclassified after each epoch
    assert int(np.argmin(logged)) < len(logged) - 1, logged  # the best epoch is not the last
    for kept, now in zip(snapshots[int(np.argmin(logged))], _generative_weights(dbn)):
        np.testing.assert_array_equal(kept, now)


@pytest.mark.parametrize(
    "old, new",
    [
        ("keras_dbn.dbn.default_pretrain_optimizer", "keras_dbn.pretraining"),
        ("keras_dbn.callbacks.StepProgbarLogger", "keras_dbn.trainer_callbacks"),
    ],
)
def test_moved_names_work_with_a_deprecation_warning(old, new):
    import importlib

    module, name = old.rsplit(".", 1)
    with pytest.warns(DeprecationWarning, match=f"{new}.{name}"):
        found = getattr(importlib.import_module(module), name)
    assert found is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError):
        importlib.import_module(module).no_such_name  # noqa: B018
