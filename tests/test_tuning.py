"""KerasTuner searches over DBNs: the hypermodel and a plain build function."""

import keras
import keras_tuner
import numpy as np
import pytest
from digit_data import digits_split

from keras_dbn import DBN
from keras_dbn.tuning import DEFAULT_SEARCH_SPACE, DBNHyperModel

# get_best_models() loads a checkpoint holding the optimizer state into a fresh, unbuilt optimizer.
pytestmark = pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")

SMALL_SPACE = {
    "depth": (1, 2),
    "units": [32, 64],
    "cd_k": [1, 2],
    "pretrain_learning_rate": (0.01, 0.1),
    "pretrain_epochs": (1, 2),
    "learning_rate": (3e-3, 1e-2),
    "dropout": [0.0, 0.1],
}


@pytest.fixture(scope="module")
def digits():
    return digits_split(test_size=0.25)


def _search(hypermodel, digits, directory):
    x_train, x_val, y_train, y_val = digits
    keras.utils.set_random_seed(0)
    tuner = keras_tuner.RandomSearch(
        hypermodel,
        objective="val_accuracy",
        max_trials=2,
        seed=0,
        directory=directory,
        project_name="dbn",
    )
    tuner.search(
        x_train, y_train, epochs=4, batch_size=64, validation_data=(x_val, y_val), verbose=0
    )
    return tuner


def _check_best_model(tuner, digits):
    """The best model reloads with its best epoch's weights: its accuracy is the trial's score."""
    _, x_val, _, y_val = digits
    trials = tuner.oracle.get_best_trials(num_trials=2)
    assert len(trials) == 2 and all(t.status == "COMPLETED" for t in trials)
    best = tuner.get_best_models(num_models=1)[0]
    assert isinstance(best, DBN)
    accuracy = np.mean(np.argmax(best.predict(x_val, verbose=0), axis=1) == y_val)
    assert accuracy == pytest.approx(trials[0].score, abs=1e-6)
    assert accuracy > 0.8
    return trials[0].hyperparameters


def test_dbn_hypermodel_random_search(digits, tmp_path):
    tuner = _search(DBNHyperModel(10, search_space=SMALL_SPACE, seed=0), digits, tmp_path)
    hp = _check_best_model(tuner, digits)
    assert set(hp.values) >= set(SMALL_SPACE) - {"units"}
    best = tuner.get_best_models(num_models=1)[0]
    assert best.hidden_units == [hp.get(f"units_{i}") for i in range(hp.get("depth"))]
    assert best.cd_k == hp.get("cd_k") and best.dropout == hp.get("dropout")
    assert int(best.pretrained.numpy()) == 1


def build_dbn(hp):
    """A plain model-building function: the DBN pretrains itself in its first fit."""
    dbn = DBN(
        [hp.Choice("units", [32, 64])] * hp.Int("depth", 1, 2),
        output_units=10,
        pretrain_epochs=hp.Int("pretrain_epochs", 1, 2),
        seed=0,
    )
    dbn.compile(
        keras.optimizers.Adam(hp.Float("learning_rate", 3e-3, 1e-2, sampling="log")),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return dbn


def test_plain_build_function_random_search(digits, tmp_path):
    tuner = _search(build_dbn, digits, tmp_path)
    _check_best_model(tuner, digits)
    assert int(tuner.get_best_models(num_models=1)[0].pretrained.numpy()) == 1


def test_hypermodel_fit_pretrains_before_fine_tuning(digits):
    """`fit` pretrains each RBM with the drawn epochs, then returns the fine-tuning history."""
    x_train, _, y_train, _ = digits
    keras.utils.set_random_seed(0)
    hypermodel = DBNHyperModel(10, search_space={**SMALL_SPACE, "depth": 2, "pretrain_epochs": 2})
    hp = keras_tuner.HyperParameters()
    dbn = hypermodel.build(hp)
    assert not dbn.built  # the input size comes from the data
    history = hypermodel.fit(hp, dbn, x_train, y_train, epochs=1, batch_size=64, verbose=0)
    assert dbn.n_visible == 64 and int(dbn.pretrained.numpy()) == 1
    assert sorted(history.history) == ["accuracy", "loss"]
    steps_per_epoch = int(np.ceil(len(x_train) / 64))
    trained = dbn.rbms[:-1] + dbn.generative[-1:]  # the top RBM learns with the labels
    assert [int(rbm.optimizer.iterations.numpy()) for rbm in trained] == [2 * steps_per_epoch] * 2
    assert [rbm.optimizer.learning_rate.numpy() for rbm in trained] == pytest.approx(
        [hp.get("pretrain_learning_rate")] * 2
    )
    assert int(dbn.optimizer.iterations.numpy()) == steps_per_epoch


def test_search_space_errors():
    with pytest.raises(ValueError, match="Unknown search_space keys \\['layers'\\]"):
        DBNHyperModel(10, search_space={"layers": 2})
    with pytest.raises(ValueError, match="low < high"):
        DBNHyperModel(10, search_space={"learning_rate": (0.1, 0.01)})
    with pytest.raises(ValueError, match="empty list"):
        DBNHyperModel(10, search_space={"units": []})
    assert set(DEFAULT_SEARCH_SPACE) == {
        "depth",
        "units",
        "cd_k",
        "pretrain_learning_rate",
        "pretrain_epochs",
        "learning_rate",
        "dropout",
    }
