import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(__file__))

# Scripts run as subprocesses by the tests; importing them would run them.
collect_ignore = ["scripts"]

import keras  # noqa: E402
import pytest  # noqa: E402

# Test modules run on every Keras backend (KERAS_BACKEND=jax or torch): the models, their
# math, evaluation, saving and tuning. The rest need TensorFlow (tf.distribute, SavedModel
# and ONNX export, the tf.data pipeline's allocator) or check docs, notebooks and the CLI,
# which run on the default backend.
CROSS_BACKEND = {
    "test_rbm",
    "test_units",
    "test_evaluation",
    "test_saving",
    "test_dbn",
    "test_dbm",
    "test_generation",
    "test_training_options",
    "test_validation",
    "test_bad_input_properties",
    "test_resume",
    "test_callbacks",
    "test_tuning",
    "test_data",
    "test_generative",
    "test_pretraining",
}


def pytest_collection_modifyitems(config, items):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return
    skip = pytest.mark.skip(
        reason=f"runs on the TensorFlow backend only (this run: KERAS_BACKEND={backend})"
    )
    for item in items:
        module = getattr(getattr(item, "module", None), "__name__", "") or item.nodeid
        if not module.startswith("keras_dbn") and module.rsplit(".", 1)[-1] not in CROSS_BACKEND:
            item.add_marker(skip)
