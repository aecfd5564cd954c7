"""Export and interop.

SavedModel, ONNX and LiteRT artifacts, `.keras` files, scikit-learn pipelines.
"""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from digit_data import digits_split
from sklearn.decomposition import MiniBatchNMF
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from keras_dbn import DBN, RBM


@pytest.fixture(scope="module")
def digits():
    return digits_split(test_size=0.25)


@pytest.fixture(scope="module")
def dbn(digits):
    """A DBN 64-48-32-10, pretrained then fine-tuned."""
    x_train, _, y_train, _ = digits
    keras.utils.set_random_seed(0)
    model = DBN([48, 32], output_units=10, seed=0)
    model.pretrain(
        x_train,
        epochs=3,
        batch_size=32,
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        verbose=0,
    )
    model.compile(
        keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    return model


def run_python(code, *args):
    """Runs ``code`` in a fresh interpreter (no state shared with this process)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_tf_saved_model_serves_predictions_without_keras_dbn(dbn, digits, tmp_path):
    x_test = digits[1]
    dbn.export(tmp_path / "saved_model", format="tf_saved_model", verbose=False)
    np.save(tmp_path / "x.npy", x_test)
    run_python(
        """
        import sys
        import numpy as np, tensorflow as tf
        path = sys.argv[1]
        model = tf.saved_model.load(path + "/saved_model")
        outputs = model.serve(tf.constant(np.load(path + "/x.npy")))
        np.save(path + "/served.npy", outputs.numpy())
        assert "keras_dbn" not in sys.modules, "the SavedModel must not need keras_dbn"
        """,
        tmp_path,
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "served.npy"), dbn.predict(x_test, verbose=0), atol=1e-6
    )


def test_onnx_export_matches_predict_in_onnxruntime(dbn, digits, tmp_path):
    import onnxruntime

    x_test = digits[1]
    dbn.export(tmp_path / "dbn.onnx", format="onnx", verbose=False)
    session = onnxruntime.InferenceSession(
        str(tmp_path / "dbn.onnx"), providers=["CPUExecutionProvider"]
    )
    (inputs,) = session.get_inputs()
    assert inputs.shape[1] == 64 and not isinstance(inputs.shape[0], int)  # any batch size
    (outputs,) = session.run(None, {inputs.name: x_test})
    np.testing.assert_allclose(outputs, dbn.predict(x_test, verbose=0), atol=1e-5)


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated")
def test_litert_export_matches_predict_in_the_tflite_interpreter(dbn, digits, tmp_path):
    import tensorflow as tf

    x_test = digits[1]
    dbn.export(tmp_path / "dbn.tflite", format="litert", verbose=False)
    interpreter = tf.lite.Interpreter(model_path=str(tmp_path / "dbn.tflite"))
    (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert list(inputs["shape_signature"]) == [-1, 64]
    interpreter.resize_tensor_input(inputs["index"], x_test.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inputs["index"], x_test)
    interpreter.invoke()
    np.testing.assert_allclose(
        interpreter.get_tensor(outputs["index"]), dbn.predict(x_test, verbose=0), atol=1e-5
    )


def test_keras_files_reload_in_a_fresh_process_with_identical_outputs(dbn, digits, tmp_path):
    x_train, x_test, _, _ = digits
    keras.utils.set_random_seed(1)
    rbm = RBM(20, persistent=True, seed=3)
    rbm.compile(keras.optimizers.SGD(0.05, momentum=0.9))
    rbm.fit(x_train, epochs=2, batch_size=64, verbose=0)
    rbm.save(tmp_path / "rbm.keras")
    dbn.save(tmp_path / "dbn.keras")
    np.save(tmp_path / "x.npy", x_test)
    run_python(
        """
        import sys
        import keras, numpy as np
        import keras_dbn
        path = sys.argv[1]
        x = np.load(path + "/x.npy")
        rbm = keras.saving.load_model(path + "/rbm.keras")
        dbn = keras.saving.load_model(path + "/dbn.keras")
        assert type(rbm) is keras_dbn.RBM and type(dbn) is keras_dbn.DBN
        np.savez(
            path + "/loaded.npz",
            hidden=rbm(x), free_energy=rbm.free_energy(x), reconstruction=rbm.reconstruct(x),
            chains=rbm.persistent_chains.numpy(), predictions=dbn.predict(x, verbose=0),
            *dbn.extract_features(x, layer=None), pretrained=dbn.pretrained.numpy(),
        )
        """,
        tmp_path,
    )
    loaded = np.load(tmp_path / "loaded.npz")
    np.testing.assert_array_equal(loaded["hidden"], rbm(x_test))
    np.testing.assert_array_equal(loaded["free_energy"], rbm.free_energy(x_test))
    np.testing.assert_array_equal(loaded["reconstruction"], rbm.reconstruct(x_test))
    np.testing.assert_array_equal(loaded["chains"], rbm.persistent_chains.numpy())
    np.testing.assert_array_equal(loaded["predictions"], dbn.predict(x_test, verbose=0))
    for i, features in enumerate(dbn.extract_features(x_test, layer=None)):
        np.testing.assert_array_equal(loaded[f"arr_{i}"], features)
    assert loaded["pretrained"] == 1


def test_rbm_training_continues_after_loading(digits, tmp_path):
    """Weights, optimizer slots and PCD chains come back: one more epoch gives the same weights."""
    x_train = digits[0]
    rbm = RBM(
        16, persistent=True, seed=0
    )  # the sampler's state is saved too: the same draws follow
    rbm.compile(keras.optimizers.SGD(0.05, momentum=0.9))
    rbm.fit(x_train, epochs=1, batch_size=64, shuffle=False, verbose=0)
    rbm.save(tmp_path / "rbm.keras")
    loaded = keras.saving.load_model(tmp_path / "rbm.keras")
    assert int(loaded.optimizer.iterations.numpy()) == int(rbm.optimizer.iterations.numpy()) > 0
    for saved, restored in zip(rbm.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())
    for model in (rbm, loaded):
        model.fit(x_train, epochs=1, batch_size=64, shuffle=False, verbose=0)
    for trained, continued in zip(rbm.weights, loaded.weights):
        assert trained.name == continued.name
        np.testing.assert_allclose(continued.numpy(), trained.numpy(), atol=1e-6)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dbn_features_feed_a_scikit_learn_nmf_pipeline(dbn, digits):
    x_train, x_test, y_train, y_test = digits
    features = dbn.extract_features(x_test)
    assert features.shape == (len(x_test), 32) and features.min() >= 0.0 and features.max() <= 1.0
    pipeline = make_pipeline(
        FunctionTransformer(dbn.extract_features),
        MiniBatchNMF(n_components=24, random_state=0, max_iter=500),
        LogisticRegression(max_iter=2000),
    )
    pipeline.fit(x_train, y_train)
    # Measured: 0.909 (the DBN's own test accuracy: 0.887).
    assert pipeline.score(x_test, y_test) > 0.85


def test_rbm_exports_after_fit_without_being_called(tmp_path):
    import tensorflow as tf

    x = np.random.default_rng(0).random((40, 6)).astype("float32")
    rbm = RBM(3, seed=0)
    rbm.compile("sgd")
    rbm.fit(x, epochs=1, verbose=0)
    rbm.export(tmp_path / "rbm")
    served = tf.saved_model.load(str(tmp_path / "rbm"))
    np.testing.assert_allclose(served.serve(x), rbm(x), rtol=1e-6)
