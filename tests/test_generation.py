"""The DBN's generative model: labels in the top RBM, untied weights, generation, classification."""

import itertools

import keras
import numpy as np
import pytest
from digit_data import digits_split

from keras_dbn import DBN, RBM, units


@pytest.fixture(scope="module")
def labelled():
    """A DBN pretrained with labels on digits, an SVC judge, and the test split."""
    from sklearn.svm import SVC

    x_train, x_test, y_train, y_test = digits_split(test_size=0.2)
    keras.utils.set_random_seed(0)
    dbn = DBN([100, 300], output_units=10, seed=0)
    dbn.pretrain(x_train, y=y_train, epochs=40, batch_size=50, verbose=0)
    return dbn, SVC().fit(x_train, y_train), (x_train, y_train, x_test, y_test)


def test_top_rbm_learns_features_and_a_softmax_label(labelled):
    dbn, _, _ = labelled
    top = dbn.generative[-1]
    assert top.visible == units.Joint([(units.Bernoulli(), 100), (units.Softmax(10), 10)])
    assert top.n_visible == 110 and int(dbn.labelled.numpy()) == 1
    # The recognition path's top RBM starts as the feature part of the top RBM.
    np.testing.assert_array_equal(dbn.rbms[-1].kernel.numpy(), top.kernel.numpy()[:100])
    np.testing.assert_array_equal(dbn.rbms[-1].visible_bias.numpy(), top.visible_bias.numpy()[:100])


def test_generated_digits_are_the_ones_asked_for_and_varied(labelled):
    dbn, judge, _ = labelled
    labels = np.repeat(np.arange(10), 10)
    samples = dbn.generate(100, labels=labels, gibbs_steps=300)
    assert samples.shape == (100, 64) and 0 <= samples.min() and samples.max() <= 1
    # Chance is 10%; clamping ignored or broken gives about that.
    assert np.mean(judge.predict(samples) == labels) >= 0.6
    per_digit_spread = [samples[labels == k].std(0).mean() for k in range(10)]
    assert min(per_digit_spread) > 0.02  # not one image per digit
    free = judge.predict(dbn.generate(100, gibbs_steps=300))
    assert len(np.unique(free)) >= 4  # unconditional chains do not all sit in one mode


def test_predict_generative_is_the_label_of_lowest_free_energy(labelled):
    dbn, _, (_, _, x_test, y_test) = labelled
    predicted = dbn.predict_generative(x_test)
    assert np.mean(predicted == y_test) >= 0.8
    # Independent truth: numpy's free energy of [features, one-hot label] in the top RBM.
    features = x_test[:20]
    for rbm in dbn.generative[:-1]:
        w, b = rbm.kernel.numpy(), rbm.hidden_bias.numpy()
        features = 1 / (1 + np.exp(-(features @ w + b)))
    top = dbn.generative[-1]
    w, a, b = top.kernel.numpy(), top.visible_bias.numpy(), top.hidden_bias.numpy()
    energies = [
        -np.concatenate([features, np.tile(np.eye(10)[k], (20, 1))], 1) @ a
        - np.logaddexp(
            0, np.concatenate([features, np.tile(np.eye(10)[k], (20, 1))], 1) @ w + b
        ).sum(1)
        for k in range(10)
    ]
    np.testing.assert_array_equal(predicted[:20], np.argmin(np.stack(energies, 1), 1))


def test_fine_tuning_changes_the_recognition_weights_only(labelled, tmp_path):
    dbn, _, (x_train, y_train, _, _) = labelled
    dbn = keras.saving.load_model(_save(dbn, tmp_path))  # a copy: the fixture stays as pretrained
    generative = [v.numpy().copy() for v in dbn.generative[0].weights + dbn.generative[1].weights]
    recognition = dbn.rbms[0].kernel.numpy().copy()
    dbn.compile("adam", "sparse_categorical_crossentropy")
    dbn.fit(x_train, y_train, epochs=2, batch_size=64, verbose=0)
    assert not np.allclose(dbn.rbms[0].kernel.numpy(), recognition)
    for before, after in zip(generative, dbn.generative[0].weights + dbn.generative[1].weights):
        np.testing.assert_array_equal(before, after.numpy())


def test_generative_model_and_labels_survive_saving(labelled, tmp_path):
    dbn, _, (_, _, x_test, _) = labelled
    loaded = keras.saving.load_model(_save(dbn, tmp_path))
    assert loaded.untied and int(loaded.labelled.numpy()) == 1
    for original, restored in zip(dbn.generative, loaded.generative):
        for a, b in zip(original.weights, restored.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(
        loaded.predict_generative(x_test[:50]), dbn.predict_generative(x_test[:50])
    )
    assert loaded.generate(2, labels=[3, 4], gibbs_steps=5).shape == (2, 64)


def _save(dbn, tmp_path):
    path = tmp_path / "dbn.keras"
    dbn.save(path)
    return path


@pytest.mark.parametrize("untied", [True, False])
def test_generate_runs_the_top_chain_then_one_pass_down(untied):
    """A top RBM with zero weights and biases of +-30 has one state; below it, numpy gives the
    pass down by enumerating the states of the middle layer, which is sampled."""
    dbn = DBN([4, 5, 3], output_units=None, seed=0, untied=untied)
    dbn.build((None, 6))
    bottom, middle, top = dbn.generative if untied else dbn.rbms
    top.kernel.assign(np.zeros((5, 3)))
    pattern = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    top.visible_bias.assign(30.0 * (2 * pattern - 1))
    rng = np.random.default_rng(0)
    w0, a0, w1, a1 = (
        rng.normal(0, 1.0, (6, 4)),
        rng.normal(0, 1.0, 6),
        rng.normal(0, 1.0, (4, 5)),
        rng.normal(0, 1.0, 4),
    )
    for variable, value in zip(
        (bottom.kernel, bottom.visible_bias, middle.kernel, middle.visible_bias), (w0, a0, w1, a1)
    ):
        variable.assign(value)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    p_middle = sigmoid(a1 + w1 @ pattern)
    states = np.array(list(itertools.product([0.0, 1.0], repeat=4)))
    weights = np.prod(np.where(states == 1, p_middle, 1 - p_middle), axis=1)
    means = sigmoid(a0 + states @ w0.T)  # E[v | h] for each state h of the middle layer
    pictures = dbn.generate(4000, gibbs_steps=2)  # E[v | h], h a sample of the middle layer
    index = (
        np.abs(pictures[:, None, :] - means[None]).max(-1).argmin(1)
    )  # which state each came from
    np.testing.assert_allclose(pictures, means[index], rtol=1e-5)
    np.testing.assert_allclose(np.bincount(index, minlength=16) / 4000, weights, atol=0.03)
    samples = dbn.generate(4000, gibbs_steps=2, mean=False)
    assert set(np.unique(samples)) <= {0.0, 1.0}
    np.testing.assert_allclose(samples.mean(0), weights @ means, atol=0.03)


def test_clamped_chains_sample_the_conditional_of_the_free_units():
    """Exact truth by enumeration: p(v1, v2 | v0 = 1) of a 3-4 RBM."""
    rbm = RBM(4, seed=0)
    rbm.build((None, 3))
    rng = np.random.default_rng(3)
    w, a, b = rng.normal(0, 1.5, (3, 4)), rng.normal(0, 1, 3), rng.normal(0, 1, 4)
    for variable, value in zip((rbm.kernel, rbm.visible_bias, rbm.hidden_bias), (w, a, b)):
        variable.assign(value)
    states = np.array([[1.0, *rest] for rest in itertools.product([0.0, 1.0], repeat=2)])
    free_energy = -states @ a - np.logaddexp(0, states @ w + b).sum(1)
    exact = np.exp(-free_energy) / np.exp(-free_energy).sum()
    initial = np.tile([1.0, 0.0, 0.0], (20000, 1)).astype("float32")
    samples = rbm.sample(
        None, gibbs_steps=20, initial=initial, mean=False, clamp=[True, False, False]
    )
    assert np.all(samples[:, 0] == 1.0)
    index = (samples[:, 1] * 2 + samples[:, 2]).astype(int)
    np.testing.assert_allclose(np.bincount(index, minlength=4) / len(index), exact, atol=0.015)


def test_label_arguments_are_checked():
    x = (np.random.default_rng(0).random((40, 6)) < 0.5).astype("float32")
    dbn = DBN([5], output_units=3, seed=0)
    with pytest.raises(ValueError, match=r"classes in \[0, 3\)"):
        dbn.pretrain(x, y=np.arange(40) % 4, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="40 samples"):
        dbn.pretrain(x, y=np.zeros(39, int), epochs=1, verbose=0)
    assert (
        int(dbn.pretrained.numpy()) == 0 and not dbn.rbms[0].compiled
    )  # checked before any training
    dbn.pretrain(x, epochs=1, verbose=0)  # no labels: the label units learn nothing
    with pytest.raises(ValueError, match="pretrained with labels"):
        dbn.generate(2, labels=[0, 1])
    with pytest.raises(ValueError, match="pretrained with labels"):
        dbn.predict_generative(x)
    with pytest.raises(ValueError, match="output_units >= 2"):
        DBN([5], output_units=None).pretrain(x, y=np.zeros(40, int), verbose=0)
    dbn.pretrain(x, y=np.arange(40) % 3, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="3 entries for 2 samples"):
        dbn.generate(2, labels=[0, 1, 2])
    with pytest.raises(ValueError, match=r"classes in \[0, 3\)"):
        dbn.generate(2, labels=[0, 5])
    with pytest.raises(ValueError, match="`initial`"):
        dbn.generative[-1].sample(2, clamp=np.ones(8, bool))
