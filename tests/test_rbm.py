import keras
import numpy as np
import pytest
from reference import exact_gradient, exact_log_likelihood

from keras_dbn import RBM, TrainingDivergedError, units


@pytest.fixture(scope="module")
def patterns():
    """120 noisy copies of three 6-bit prototypes: a small fixed data set with structure."""
    rng = np.random.default_rng(0)
    prototypes = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0]], "float32")
    x = prototypes[rng.integers(0, 3, 120)]
    flips = rng.random(x.shape) < 0.05
    return np.where(flips, 1 - x, x).astype("float32")


def _train(rbm, x, epochs=40, learning_rate=0.1):
    rbm.compile(keras.optimizers.SGD(learning_rate, momentum=0.5))
    return rbm.fit(x, epochs=epochs, batch_size=10, shuffle=True, verbose=0)


@pytest.mark.parametrize(
    "options, training",
    [
        (dict(cd_k=1), {}),
        (dict(cd_k=5), {}),
        (dict(persistent=True, num_chains=20), dict(epochs=60, learning_rate=0.05)),
    ],
    ids=["cd1", "cd5", "pcd"],
)
def test_training_raises_exact_log_likelihood(patterns, options, training):
    # PCD's few persistent chains make its steps noisier: smaller steps, more of them
    # (at 0.1 and 40 epochs, 1 seed in 5 gained under 0.6 nats, on every backend).
    keras.utils.set_random_seed(1)
    rbm = RBM(4, seed=1, **options)
    rbm.build((None, 6))
    before = exact_log_likelihood(rbm, patterns)
    history = _train(rbm, patterns, **training)
    after = exact_log_likelihood(rbm, patterns)
    assert before == pytest.approx(-6 * np.log(2), abs=0.05)  # near-uniform at initialisation
    assert after > before + 1.0, (before, after)
    assert history.history["reconstruction_error"][-1] < history.history["reconstruction_error"][0]


def _cd_gradient_error(rbm, x, copies=300):
    batch = np.tile(x, (copies, 1))
    gradients, _ = rbm.contrastive_divergence(keras.ops.convert_to_tensor(batch))
    exact = exact_gradient(rbm, x)
    estimate = [-np.asarray(g, "float64") for g in gradients]
    return (
        sum(np.sum((e - t) ** 2) for e, t in zip(estimate, exact)) ** 0.5
        / sum(np.sum(t**2) for t in exact) ** 0.5
    )


def test_cd_gradient_with_large_k_approaches_the_exact_gradient(patterns):
    rng = np.random.default_rng(3)
    params = rng.normal(0, 1.5, (6, 4)), rng.normal(0, 0.5, 4), rng.normal(0, 0.5, 6)
    errors = {}
    for k in (1, 100):
        rbm = RBM(4, cd_k=k, seed=k)
        rbm.build((None, 6))
        for variable, value in zip((rbm.kernel, rbm.hidden_bias, rbm.visible_bias), params):
            variable.assign(value)
        errors[k] = _cd_gradient_error(rbm, patterns[:40])
    assert errors[100] < 0.05, errors
    assert errors[1] > 3 * errors[100], errors  # CD-1 is biased at these weights


def test_optimizer_applies_the_cd_statistics(patterns):
    """One plain-SGD step moves every weight by exactly learning_rate * (positive - negative)."""
    rbm = RBM(4, negative_phase="mean_field", seed=0)  # deterministic negative phase
    rbm.build((None, 6))
    before = [np.array(w) for w in rbm.get_weights()]
    gradients, _ = rbm.contrastive_divergence(keras.ops.convert_to_tensor(patterns[:10]))
    for jit_compile in (False, True):  # the TF step and the XLA-compiled one
        rbm.set_weights(before)
        rbm.compile(keras.optimizers.SGD(0.5), jit_compile=jit_compile)
        rbm.fit(patterns[:10], epochs=1, batch_size=10, shuffle=False, verbose=0)
        for old, new, gradient in zip(before, rbm.get_weights(), gradients):
            np.testing.assert_allclose(new, old - 0.5 * np.asarray(gradient), atol=1e-6)


def test_logs_metrics_and_evaluate_reports_them(patterns):
    rbm = RBM(4, seed=0)
    history = _train(rbm, patterns, epochs=2)
    assert set(history.history) == {"reconstruction_error", "free_energy_gap"}
    rbm.fit(patterns, validation_data=patterns[:20], epochs=1, verbose=0)
    scores = rbm.evaluate(patterns, verbose=0, return_dict=True)
    assert set(scores) == {"reconstruction_error", "free_energy_gap"}
    reconstruction = np.asarray(rbm.reconstruct(patterns))
    # evaluate() reconstructs from sampled hidden states; it tracks the deterministic one closely
    assert scores["reconstruction_error"] == pytest.approx(
        np.mean((patterns - reconstruction) ** 2), abs=0.05
    )


def test_call_and_conditionals_match_numpy(patterns):
    rbm = RBM(4, seed=0)
    _train(rbm, patterns, epochs=3)
    w, b, a = (np.asarray(t, "float64") for t in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias))
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(rbm(patterns)), sigmoid(patterns @ w + b), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        rbm.reconstruct(patterns),
        sigmoid(sigmoid(patterns @ w + b) @ w.T + a),
        rtol=1e-5,
        atol=1e-6,
    )
    h = np.asarray(rbm.sample_hidden(patterns))
    v = np.asarray(rbm.sample_visible(h))
    assert set(np.unique(h)) <= {0.0, 1.0} and set(np.unique(v)) <= {0.0, 1.0}
    assert np.asarray(rbm.gibbs(patterns, steps=3)).shape == patterns.shape


def test_sample_reproduces_the_model_distribution(patterns):
    """Long Gibbs chains visit states with the model's exact probabilities."""
    from reference import all_states, log_joint_table, weights

    keras.utils.set_random_seed(0)
    rbm = RBM(4, persistent=True, num_chains=10, seed=0)
    _train(rbm, patterns, epochs=30)
    table = log_joint_table(*weights(rbm))
    p_v = np.exp(np.logaddexp.reduce(table, 1) - np.logaddexp.reduce(table.ravel()))
    samples = rbm.sample(20000, gibbs_steps=500, mean=False)
    codes = samples @ (2 ** np.arange(5, -1, -1))
    empirical = np.bincount(codes.astype(int), minlength=64) / len(samples)
    order = all_states(6) @ (2 ** np.arange(5, -1, -1))
    assert 0.5 * np.abs(empirical[order.astype(int)] - p_v).sum() < 0.03  # total variation


def test_functional_api_composition_shares_weights(patterns):
    rbm = RBM(4, seed=0)
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(3, activation="softmax")(rbm(inputs))
    classifier = keras.Model(inputs, outputs)
    before = classifier.predict(patterns, verbose=0)
    _train(rbm, patterns, epochs=2)  # standalone unsupervised training...
    after = classifier.predict(patterns, verbose=0)
    assert not np.allclose(before, after)  # ...changes the outer model
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(classifier.layers[1](patterns)),
        keras.ops.convert_to_numpy(rbm(patterns)),
    )
    classifier.compile("adam", "sparse_categorical_crossentropy")
    kernel = np.array(rbm.kernel)
    classifier.fit(patterns, np.arange(120) % 3, epochs=1, verbose=0)
    assert not np.allclose(kernel, rbm.kernel)  # and supervised training reaches the RBM


@pytest.mark.parametrize(
    "chains", [dict(persistent=True, num_chains=5), dict(negative_phase="mean_field")]
)
def test_get_config_round_trips_every_argument(chains):
    rbm = RBM(
        7,
        visible="gaussian",
        hidden=units.Binomial(3),
        cd_k=3,
        sparsity_target=0.1,
        sparsity_cost=0.2,
        kernel_initializer=keras.initializers.GlorotUniform(seed=2),
        hidden_bias_initializer="ones",
        visible_bias_initializer=keras.initializers.Constant(0.5),
        kernel_regularizer=keras.regularizers.L2(1e-3),
        seed=11,
        name="my_rbm",
        **chains,
    )
    config = rbm.get_config()
    clone = RBM.from_config(config)
    assert clone.get_config() == config
    assert clone.hidden == units.Binomial(3)
    import inspect

    arguments = set(inspect.signature(RBM.__init__).parameters) - {"self", "kwargs"}
    assert arguments <= set(config)


def test_keras_file_round_trip_restores_outputs_and_training_continues(patterns, tmp_path):
    keras.utils.set_random_seed(0)
    rbm = RBM(4, persistent=True, num_chains=10, seed=0)
    _train(rbm, patterns, epochs=3)
    path = tmp_path / "rbm.keras"
    rbm.save(path)
    loaded = keras.saving.load_model(path)
    for name in ("kernel", "hidden_bias", "visible_bias", "persistent_chains"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(rbm, name))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(patterns)), keras.ops.convert_to_numpy(rbm(patterns))
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.free_energy(patterns)),
        keras.ops.convert_to_numpy(rbm.free_energy(patterns)),
    )
    assert loaded.optimizer.iterations.numpy() == rbm.optimizer.iterations.numpy()
    loaded.fit(patterns, epochs=1, batch_size=10, verbose=0)
    assert not np.allclose(loaded.kernel, rbm.kernel)


def test_mixed_precision_keeps_float32_variables(patterns):
    rbm = RBM(4, dtype="mixed_bfloat16", seed=0)
    history = _train(rbm, patterns, epochs=3)
    assert rbm.kernel.dtype == "float32" and rbm.compute_dtype == "bfloat16"
    assert np.isfinite(history.history["reconstruction_error"]).all()
    assert keras.ops.convert_to_numpy(rbm.free_energy(patterns)).dtype == np.float32


def test_divergence_stops_with_a_message_and_keeps_finite_weights():
    x = np.random.default_rng(0).normal(size=(200, 5)).astype("float32")
    rbm = RBM(4, visible="gaussian", seed=0)
    rbm.compile(keras.optimizers.SGD(50.0))
    rbm.build((None, 5))
    initial = [np.array(w) for w in rbm.get_weights()]
    with pytest.raises(TrainingDivergedError, match="diverged in epoch 1.*learning rate"):
        rbm.fit(x, epochs=3, batch_size=20, verbose=0)
    for old, new in zip(initial, rbm.get_weights()):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_extreme_weights_and_inputs_stay_finite(visible):
    """|W| up to 50 and extreme inputs: softplus / log-sum-exp forms keep everything finite."""
    rng = np.random.default_rng(0)
    rbm = RBM(20, visible=visible, seed=0)
    rbm.build((None, 30))
    rbm.kernel.assign(rng.choice([-50.0, 50.0], (30, 20)))
    rbm.hidden_bias.assign(rng.choice([-50.0, 50.0], 20))
    rbm.visible_bias.assign(rng.choice([-50.0, 50.0], 30))
    x = np.ones((4, 30), "float32") if visible == "bernoulli" else np.full((4, 30), 1e3, "float32")
    w, b, a = (np.asarray(t, "float64") for t in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias))
    energy_term = -x @ a if visible == "bernoulli" else 0.5 * ((x - a) ** 2).sum(1)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(rbm.free_energy(x)),
        energy_term - np.logaddexp(0, x @ w + b).sum(1),
        rtol=1e-5,
    )
    p = keras.ops.convert_to_numpy(rbm(x))
    assert np.isfinite(p).all() and p.min() >= 0 and p.max() <= 1
    for value in (rbm.reconstruct(x), rbm.gibbs(x, steps=3), rbm.sample(3, gibbs_steps=5)):
        assert np.isfinite(np.asarray(value)).all()


# ------------------------------------------------- the learning rule, against numpy
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _twin_weights(rbm, n_visible, seed=0):
    rng = np.random.default_rng(seed)
    rbm.build((None, n_visible))
    rbm.kernel.assign(rng.normal(0, 0.7, (n_visible, rbm.units)))
    rbm.hidden_bias.assign(rng.normal(0, 0.5, rbm.units))
    rbm.visible_bias.assign(rng.normal(0, 0.5, n_visible))
    return [np.asarray(w, "float64") for w in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias)]


@pytest.mark.parametrize("cd_k", [1, 2, 3])
def test_mean_field_steps_move_halfway_from_the_first_step(patterns, cd_k):
    """Each of the cd_k steps, the first included: v <- v/2 + E[v | h = E[h | v]]/2.

    See docs/concepts.md.
    """
    rbm = RBM(4, cd_k=cd_k, negative_phase="mean_field", seed=0)
    w, b, a = _twin_weights(rbm, 6)
    v0 = patterns[:20].astype("float64")
    v = v0
    for _ in range(cd_k):
        v = 0.5 * v + 0.5 * _sigmoid(a + _sigmoid(b + v @ w) @ w.T)
    h0, hk = _sigmoid(b + v0 @ w), _sigmoid(b + v @ w)
    expected = [-(v0.T @ h0 - v.T @ hk) / 20, -(h0 - hk).mean(0), -(v0 - v).mean(0)]
    gradients, _ = rbm.contrastive_divergence(keras.ops.convert_to_tensor(patterns[:20]))
    for got, want in zip(gradients, expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def _free_energy_gap(rbm, v_data, v_model):
    return float(
        np.mean(keras.ops.convert_to_numpy(rbm.free_energy(v_data)))
        - np.mean(keras.ops.convert_to_numpy(rbm.free_energy(v_model)))
    )


@pytest.mark.parametrize(
    "hidden", ["bernoulli", "relu", units.Binomial(3), units.Softmax(3), "gaussian"], ids=str
)
def test_one_deterministic_step_follows_the_gradient_of_the_reported_free_energy(patterns, hidden):
    """The update is d/dtheta [mean F(v_data) - mean F(v_model)], F as `free_energy` reports it."""
    rbm = RBM(3, hidden=hidden, negative_phase="mean_field", seed=0)
    _twin_weights(rbm, 6, seed=1)
    v_data = patterns[:12]
    # The model samples of one mean-field step, computed with the units' own means.
    hidden_mean = keras.ops.convert_to_numpy(rbm(v_data)).astype("float32")
    v_model = (0.5 * v_data + 0.5 * np.asarray(rbm.sample_visible(hidden_mean, mean=True))).astype(
        "float32"
    )
    gradients, _ = rbm.contrastive_divergence(keras.ops.convert_to_tensor(v_data))
    eps = 1e-2
    for variable, gradient in zip((rbm.kernel, rbm.hidden_bias, rbm.visible_bias), gradients):
        value = np.asarray(variable)
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = []
            for sign in (1, -1):
                moved = value.copy()
                moved[index] += sign * eps
                variable.assign(moved)
                shifted.append(_free_energy_gap(rbm, v_data, v_model))
            numeric[index] = (shifted[0] - shifted[1]) / (2 * eps)
        variable.assign(value)
        np.testing.assert_allclose(gradient, numeric, rtol=2e-2, atol=2e-3)


def test_persistent_mean_field_chains_follow_the_damped_mean_field_map(patterns):
    """Documented behaviour.

    PCD with mean_field iterates v <- v/2 + E[v | E[h | v]]/2 on the chains.
    """
    rbm = RBM(4, persistent=True, num_chains=5, negative_phase="mean_field", seed=0)
    w, b, a = _twin_weights(rbm, 6)
    start = np.random.default_rng(2).random((5, 6))
    rbm.persistent_chains.assign(start)
    rbm.contrastive_divergence(keras.ops.convert_to_tensor(patterns[:10]))
    expected = 0.5 * start + 0.5 * _sigmoid(a + _sigmoid(b + start @ w) @ w.T)
    np.testing.assert_allclose(rbm.persistent_chains, expected, rtol=1e-5)


def test_progress_bar_never_counts_past_the_batches_of_an_epoch(patterns, capsys):
    rbm = RBM(4, seed=0)
    rbm.compile(keras.optimizers.SGD(0.1))  # 100 steps per execution, 12 batches per epoch
    rbm.fit(patterns, epochs=2, batch_size=10, verbose=1)
    rbm.evaluate(patterns, batch_size=10, verbose=1)
    output = capsys.readouterr().out
    assert "12/12" in output
    assert "100/12" not in output and "99/12" not in output


@pytest.mark.parametrize("hidden", [units.Softmax(2), units.Binomial(3), "relu"], ids=str)
def test_sample_starts_from_h_zero_for_every_hidden_unit_type(hidden):
    """h = 0 is outside a softmax group's support, but the chains only start from p(v | h = 0)."""
    rbm = RBM(4, hidden=hidden, seed=0)
    rbm.build((None, 6))
    samples = rbm.sample(5, gibbs_steps=3, mean=False)
    assert samples.shape == (5, 6) and set(np.unique(samples)) <= {0.0, 1.0}


@pytest.mark.parametrize(
    "options", [dict(cd_k=1), dict(cd_k=6, persistent=True, num_chains=10)], ids=["cd1", "pcd6"]
)
def test_same_seed_gives_the_same_run_and_the_sampler_moves_on_every_step(patterns, options):
    def run():
        rbm = RBM(4, seed=3, **options)
        history = _train(rbm, patterns, epochs=3)
        return rbm, history.history["free_energy_gap"]

    (first, gaps), (second, same_gaps) = run(), run()
    assert gaps == same_gaps
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Each step draws fresh noise: training advanced the seed, and repeated draws differ.
    state = keras.ops.convert_to_numpy(first.seed_generator.state)
    assert not np.array_equal(
        state, keras.ops.convert_to_numpy(RBM(4, seed=3).seed_generator.state)
    )
    draws = [first.gibbs(patterns[:40], steps=6) for _ in range(2)] + [
        first.sample(40, gibbs_steps=6) for _ in range(2)
    ]
    assert not np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[2], draws[3])


def test_divergence_in_a_later_epoch_keeps_the_last_finite_epoch_and_training_goes_on(patterns):
    rbm = RBM(4, seed=0)
    rbm.compile(keras.optimizers.SGD(0.1))
    finite = {}

    def on_epoch_begin(epoch, logs=None):
        if epoch == 1:  # poison the weights: epoch 2 diverges
            rbm.kernel.assign(np.full(rbm.kernel.shape, np.nan, "float32"))

    def on_epoch_end(epoch, logs=None):
        if epoch == 0:
            finite["weights"] = [np.array(w) for w in rbm.get_weights()]

    poison = keras.callbacks.LambdaCallback(
        on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end
    )
    with pytest.raises(TrainingDivergedError, match="diverged in epoch 2.*end of epoch 1"):
        rbm.fit(patterns, epochs=3, batch_size=10, verbose=0, callbacks=[poison])
    for good, now in zip(finite["weights"], rbm.get_weights()):
        np.testing.assert_array_equal(good, now)
    history = rbm.fit(patterns, epochs=1, batch_size=10, verbose=0)  # nothing was left broken
    assert np.isfinite(history.history["reconstruction_error"]).all()


def test_untied_rbm_goes_up_its_recognition_weights_and_cd_trains_the_others(patterns):
    rbm = RBM(4, seed=0, untied=True)
    rbm.compile(keras.optimizers.SGD(0.1))
    rbm.build((None, patterns.shape[1]))
    np.testing.assert_array_equal(
        rbm.recognition_kernel.numpy(), rbm.kernel.numpy()
    )  # tied when built
    recognition = [rbm.recognition_kernel.numpy().copy(), rbm.recognition_bias.numpy().copy()]
    kernel = rbm.kernel.numpy().copy()
    rbm.fit(patterns, epochs=2, batch_size=4, verbose=0)
    assert not np.allclose(rbm.kernel.numpy(), kernel)
    np.testing.assert_array_equal(rbm.recognition_kernel.numpy(), recognition[0])
    np.testing.assert_array_equal(rbm.recognition_bias.numpy(), recognition[1])
    up = 1 / (1 + np.exp(-(patterns @ recognition[0] + recognition[1])))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rbm(patterns)), up, rtol=1e-5, atol=1e-6)
    rbm.tie()
    np.testing.assert_array_equal(rbm.recognition_kernel.numpy(), rbm.kernel.numpy())


class _Threshold(units.Bernoulli):
    """Bernoulli units whose "sample" is 1 where the input is positive: a step numpy can follow."""

    def _sample(self, pre, seed):
        return keras.ops.cast(pre > 0, pre.dtype)


class _Argmax(units.Softmax):
    """Softmax units whose "sample" is the one-hot of the largest input."""

    def _sample(self, pre, seed):
        return keras.ops.one_hot(keras.ops.argmax(pre, axis=-1), self.group_size, dtype=pre.dtype)


@pytest.mark.parametrize("negative_visible", ["sample", "mean", "softmax_mean"])
def test_negative_visible_states_follow_numpy_for_cd1(negative_visible):
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [(rng.random((12, 4)) < 0.5), np.eye(3)[rng.integers(0, 3, 12)]], axis=1
    ).astype("float32")
    rbm = RBM(
        5,
        visible=units.Joint([(_Threshold(), 4), (_Argmax(3), 3)]),
        hidden=_Threshold(),
        negative_visible=negative_visible,
        seed=0,
    )
    rbm.build((None, 7))
    for variable in rbm.rule_variables():
        variable.assign(rng.normal(0, 1, variable.shape).astype("float32"))
    W, b, a = (np.asarray(v, "float64") for v in rbm.rule_variables())
    h = (x @ W + b > 0).astype(float)
    pre = h @ W.T + a
    means = np.concatenate(
        [_sigmoid(pre[:, :4]), np.exp(pre[:, 4:]) / np.exp(pre[:, 4:]).sum(1, keepdims=True)], 1
    )
    samples = np.concatenate([pre[:, :4] > 0, np.eye(3)[pre[:, 4:].argmax(1)]], 1).astype(float)
    v_model = {
        "sample": samples,
        "mean": means,
        "softmax_mean": np.concatenate([samples[:, :4], means[:, 4:]], 1),
    }[negative_visible]
    pos, neg = _sigmoid(x @ W + b), _sigmoid(v_model @ W + b)
    expected = [
        -(x.T @ pos - v_model.T @ neg) / len(x),
        -(pos - neg).mean(0),
        -(x - v_model).mean(0),
    ]
    gradients, _ = rbm.contrastive_divergence(keras.ops.convert_to_tensor(x))
    for got, want in zip(gradients, expected):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


def test_negative_visible_is_checked_and_saved():
    with pytest.raises(ValueError, match="negative_visible"):
        RBM(3, negative_visible="probabilities")
    config = RBM(3, negative_visible="mean").get_config()
    assert RBM.from_config(config).negative_visible == "mean"
    del config["negative_visible"]  # a config saved before the option: samples, as then
    assert RBM.from_config(config).negative_visible == "sample"
