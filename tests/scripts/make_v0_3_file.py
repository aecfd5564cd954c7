"""Writes tests/data/dbn_v0_3_generative.keras and v0_3_generative_outputs.npz.

A labelled DBN saved with the generative model of `keras_dbn.generative`, after
pretraining, up-down and fine-tuning. Run once from the repository root; the tests
load the files, they never rewrite them.
"""

import pathlib

import keras
import numpy as np

from keras_dbn import DBN

folder = pathlib.Path(__file__).parents[1] / "data"
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = (rng.random((60, 12)) < 0.5).astype("float32")
y = np.arange(60) % 3
dbn = DBN([8, 6], output_units=3, seed=0)
dbn.pretrain(x, y=y, epochs=2, batch_size=20, verbose=0)
dbn.fit_generative(x, y, epochs=2, batch_size=20, verbose=0)
dbn.compile("adam", "sparse_categorical_crossentropy")
dbn.fit(x, y, epochs=2, batch_size=20, verbose=0)
dbn.save(folder / "dbn_v0_3_generative.keras")
probe = x[:10]
np.savez(
    folder / "v0_3_generative_outputs.npz",
    x=probe,
    dbn=dbn.predict(probe, verbose=0),
    generative_classes=dbn.predict_generative(probe),
    generative_proba=dbn.predict_generative_proba(probe),
    generative_kernel=dbn.generative[0].kernel.numpy(),
    generative_recognition_kernel=dbn.generative[0].recognition_kernel.numpy(),
)
