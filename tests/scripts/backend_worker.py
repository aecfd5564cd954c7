"""Run under one Keras backend (KERAS_BACKEND) by tests/test_backends.py.

``save FOLDER``: trains a small RBM and DBN with fixed seeds, saves them as .keras
files with their outputs on fixed inputs. ``load FOLDER``: loads those files and
writes their outputs on the same inputs, and the RBM's exact log Z, as JSON on stdout.
"""

import json
import os
import sys

import keras
import numpy as np

import keras_dbn
from keras_dbn import evaluation

mode, folder = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
x = (rng.random((64, 12)) < 0.5).astype("float32")
y = np.arange(64) % 3

if mode == "save":
    keras.utils.set_random_seed(0)
    rbm = keras_dbn.RBM(5, seed=0)
    rbm.compile(keras.optimizers.SGD(0.1))
    rbm.fit(x, epochs=2, batch_size=16, verbose=0)
    dbn = keras_dbn.DBN([8, 6], output_units=3, seed=0)
    dbn.pretrain(x, y=y, epochs=1, batch_size=16, verbose=0)
    dbn.compile("adam", "sparse_categorical_crossentropy")
    dbn.fit(x, y, epochs=1, batch_size=16, verbose=0)
    rbm.save(os.path.join(folder, "rbm.keras"))
    dbn.save(os.path.join(folder, "dbn.keras"))
else:
    rbm = keras.saving.load_model(os.path.join(folder, "rbm.keras"))
    dbn = keras.saving.load_model(os.path.join(folder, "dbn.keras"))
print(
    json.dumps(
        {
            "backend": keras.backend.backend(),
            "rbm": keras.ops.convert_to_numpy(rbm(x)).tolist(),
            "dbn": keras.ops.convert_to_numpy(dbn.predict(x, verbose=0)).tolist(),
            "free_energy": keras.ops.convert_to_numpy(rbm.free_energy(x)).tolist(),
            "log_z": evaluation.exact_log_partition(rbm),
            "generative": dbn.predict_generative(x).tolist(),
        }
    )
)
