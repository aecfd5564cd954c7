"""Property tests: any input either trains correctly or raises a ValueError naming the problem,
and never leaves the weights changed or non-finite."""

import functools

import keras
import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_dbn import RBM, units

N_FEATURES = 6
UNIT_TYPES = {
    "bernoulli": "bernoulli",
    "gaussian": "gaussian",
    "softmax": units.Softmax(group_size=2),
}
PROBLEM_WORDS = (
    "NaN",
    "infinite",
    "features",
    "dtype",
    "empty",
    "2-D",
    "[0, 1]",
    "sum to 1",
    "rectangular",
)
DTYPES = ["float16", "float32", "float64", "int8", "int64", "bool", "object", "str"]


@functools.cache
def built_rbm(unit_name):
    rbm = RBM(3, visible=UNIT_TYPES[unit_name], seed=0)
    rbm.compile(keras.optimizers.SGD(0.01))
    rbm.build((None, N_FEATURES))
    return rbm


@st.composite
def inputs(draw):
    rows = draw(st.integers(0, 5))
    cols = draw(st.sampled_from([N_FEATURES, N_FEATURES, N_FEATURES, 1, 5, 8]))
    rank = draw(st.sampled_from([2, 2, 2, 2, 1, 3]))
    shape = {1: (cols,), 2: (rows, cols), 3: (rows, cols, 2)}[rank]
    kind = draw(st.sampled_from(["one_hot", "unit_interval", "wide"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "one_hot":  # valid for every unit type
        values = np.eye(2)[rng.integers(0, 2, int(np.prod(shape)) // 2 + 1)].ravel()[
            : int(np.prod(shape))
        ]
    elif kind == "unit_interval":
        values = rng.random(int(np.prod(shape)))
    else:
        values = rng.normal(0, 5, int(np.prod(shape)))
    values = values.reshape(shape)
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        if values.size:
            values.flat[rng.integers(0, values.size)] = draw(
                st.sampled_from([np.nan, np.inf, -np.inf, 2.0, -1.0])
            )
    dtype = draw(st.sampled_from(DTYPES))
    with np.errstate(invalid="ignore"):  # NaN cast to int is part of the test
        return values.astype(dtype) if dtype != "str" else values.astype(str)


def expected_valid(x, unit_name):
    if x.dtype.kind not in "biuf" or x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != N_FEATURES:
        return False
    values = x.astype("float64")
    if not np.isfinite(values).all():
        return False
    if unit_name == "gaussian":
        return True
    if values.min() < 0 or values.max() > 1:
        return False
    return unit_name != "softmax" or np.allclose(
        values.reshape(len(values), -1, 2).sum(-1), 1.0, atol=1e-3
    )


def _assert_rejected_cleanly(rbm, call, before):
    try:
        call()
    except (ValueError, TypeError) as err:
        assert any(word in str(err) for word in PROBLEM_WORDS), str(err)
    else:
        raise AssertionError("bad input was accepted")
    for old, new in zip(before, rbm.get_weights()):
        np.testing.assert_array_equal(old, new)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=inputs(), unit_name=st.sampled_from(sorted(UNIT_TYPES)))
def test_fit_trains_or_rejects_with_a_named_problem(x, unit_name):
    rbm = built_rbm(unit_name)
    before = rbm.get_weights()
    if expected_valid(x, unit_name):
        rbm.fit(x, epochs=1, batch_size=4, verbose=0)
        assert all(np.isfinite(w).all() for w in rbm.get_weights())
        assert keras.ops.convert_to_numpy(rbm(x)).shape == (len(x), 3)
    else:
        _assert_rejected_cleanly(rbm, lambda: rbm.fit(x, epochs=1, verbose=0), before)
        _assert_rejected_cleanly(rbm, lambda: rbm(x), before)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # tf.data cannot even hold other inputs (strings, objects, no rows): the array test covers them.
    x=inputs().filter(lambda x: x.dtype.kind in "biuf" and x.ndim == 2 and x.shape[0] > 0),
    unit_name=st.sampled_from(sorted(UNIT_TYPES)),
)
def test_streamed_datasets_train_or_reject_with_a_named_problem(x, unit_name):
    rbm = built_rbm(unit_name)
    before = rbm.get_weights()
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(2)
    if expected_valid(x, unit_name):
        rbm.fit(dataset, epochs=1, verbose=0)
        assert all(np.isfinite(w).all() for w in rbm.get_weights())
    else:
        _assert_rejected_cleanly(rbm, lambda: rbm.fit(dataset, epochs=1, verbose=0), before)


def test_dataset_of_unknown_width_with_wrong_batches_is_rejected():
    rbm = built_rbm("bernoulli")
    before = rbm.get_weights()
    generator = tf.data.Dataset.from_generator(
        lambda: iter([np.zeros((2, N_FEATURES), "float32"), np.zeros((2, 4), "float32")]),
        output_signature=tf.TensorSpec((None, None), tf.float32),
    )
    _assert_rejected_cleanly(rbm, lambda: rbm.fit(generator, epochs=1, verbose=0), before)
