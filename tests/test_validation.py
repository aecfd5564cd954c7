"""Bad input raises ValueError naming the problem, before any weight changes."""

import keras
import numpy as np
import pytest

from keras_dbn import DBN, RBM

GOOD = np.random.default_rng(0).random((32, 6)).astype("float32")

BAD_INPUTS = [
    (np.where(np.eye(32, 6, dtype=bool), np.nan, GOOD), "NaN"),
    (np.where(np.eye(32, 6, dtype=bool), np.inf, GOOD), "infinite"),
    (GOOD[:, :5], "5 features, but the model was built for 6"),
    (GOOD * 3, r"\[0, 1\]"),
    (GOOD - 1, r"\[0, 1\]"),
    (np.full((32, 6), "a"), "non-numeric dtype"),
    (np.zeros((0, 6), "float32"), "empty"),
    (GOOD[0], "must be 2-D"),
    (GOOD.astype(object), "non-numeric dtype"),
]


@pytest.fixture(scope="module")
def built_rbm():
    rbm = RBM(3, seed=0)
    rbm.compile(keras.optimizers.SGD(0.1))
    rbm.fit(GOOD, epochs=1, verbose=0)
    return rbm


@pytest.fixture(scope="module")
def built_dbn():
    dbn = DBN([4, 3], output_units=2, seed=0)
    dbn.pretrain(GOOD, epochs=1, verbose=0)
    dbn.compile("sgd", "sparse_categorical_crossentropy")
    return dbn


@pytest.mark.parametrize("bad, message", BAD_INPUTS)
def test_rbm_rejects_bad_input_without_touching_weights(built_rbm, bad, message):
    rbm = built_rbm
    weights = [np.array(w) for w in rbm.get_weights()]
    for entry in (
        lambda: rbm.fit(bad, epochs=1, verbose=0),
        lambda: rbm(bad),
        lambda: rbm.free_energy(bad),
    ):
        with pytest.raises(ValueError, match=message):
            entry()
    for old, new in zip(weights, rbm.get_weights()):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("bad, message", BAD_INPUTS)
def test_dbn_rejects_bad_input_without_touching_weights(built_dbn, bad, message):
    dbn = built_dbn
    weights = [np.array(w) for w in dbn.get_weights()]
    labels = np.zeros(len(bad) if np.ndim(bad) == 2 else 1, "int32")
    for entry in (
        lambda: dbn.pretrain(bad, epochs=1, verbose=0),
        lambda: dbn.fit(bad, labels, epochs=1, verbose=0),
        lambda: dbn(bad),
        lambda: dbn.predict(bad, verbose=0),
    ):
        with pytest.raises(ValueError, match=message):
            entry()
    for old, new in zip(weights, dbn.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_unbuilt_models_check_range_and_values_too():
    with pytest.raises(ValueError, match="NaN"):
        RBM(3).fit(np.full((4, 2), np.nan), verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        DBN([3]).pretrain(np.full((4, 2), 2.0), verbose=0)
    gaussian = RBM(3, visible="gaussian")
    gaussian.compile("sgd")
    gaussian.fit(
        np.full((4, 2), 7.0, "float32"), verbose=0
    )  # any finite value is fine for Gaussian units


def test_integer_and_boolean_data_are_accepted():
    rbm = RBM(3, seed=0)
    rbm.compile("sgd")
    rbm.fit((GOOD > 0.5), epochs=1, verbose=0)
    rbm.fit((GOOD > 0.5).astype("int64"), epochs=1, verbose=0)
    assert np.isfinite(rbm.kernel).all()


def test_numpy_bfloat16_data_are_widened_to_float32():
    """What `predict` returns under mixed_bfloat16 (ml_dtypes' bfloat16, numpy kind "V")."""
    from ml_dtypes import bfloat16

    from keras_dbn.validation import check_array

    checked = check_array(GOOD.astype(bfloat16), None, GOOD.shape[1], "data")
    assert checked.dtype == np.float32
    np.testing.assert_array_equal(checked, GOOD.astype(bfloat16).astype(np.float32))
    bad = GOOD.astype(bfloat16)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        check_array(bad, None, GOOD.shape[1], "data")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: RBM(0), "units"),
        (lambda: RBM(2.5), "units"),
        (lambda: RBM(3, cd_k=0), "cd_k"),
        (lambda: RBM(3, visible="tanh"), "Unknown unit type"),
        (lambda: RBM(3, negative_phase="exact"), "negative_phase"),
        (lambda: RBM(3, persistent="yes"), "persistent"),
        (lambda: RBM(3, num_chains=0), "num_chains"),
        (lambda: RBM(3, sparsity_target=1.5), "sparsity_target"),
        (lambda: RBM(3, sparsity_cost=-1.0), "sparsity_cost"),
        (lambda: DBN([]), "hidden_units"),
        (lambda: DBN([10, 0]), "hidden_units"),
        (lambda: DBN([10], cd_k=0), "cd_k"),
        (lambda: DBN([10], dropout=1.0), "dropout"),
        (lambda: DBN([10], output_units=0), "output_units"),
        (lambda: DBN([10], pretrain_epochs=-1), "pretrain_epochs"),
    ],
)
def test_invalid_constructor_arguments_fail_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_dataset_with_wrong_feature_count_is_rejected(built_rbm):
    import tensorflow as tf

    with pytest.raises(ValueError, match="yields 5 features"):
        built_rbm.fit(tf.data.Dataset.from_tensor_slices(GOOD[:, :5]).batch(8), verbose=0)
