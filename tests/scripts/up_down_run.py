"""Fine-tunes a small labelled DBN's generative model; used by tests/test_generative.py.

Usage: up_down_run.py MODE BACKUP_DIR OUT.npz, MODE in {plain, kill}; BACKUP_DIR "-" for none.
In "kill" mode the process SIGKILLs itself at the end of the third up-down epoch,
before that epoch's backup is written.
"""

import os
import signal
import sys

import keras
import numpy as np

from keras_dbn import DBN

mode, backup_dir, out = sys.argv[1:]


class KillAfterThirdEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if mode == "kill" and epoch == 2:
            os.kill(os.getpid(), signal.SIGKILL)


keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = (rng.random((300, 20)) < 0.4).astype("float32")
y = rng.integers(0, 3, 300)
dbn = DBN([16, 12], output_units=3, seed=0)
dbn.pretrain(x, y=y, epochs=2, batch_size=50, verbose=0)
callbacks = [KillAfterThirdEpoch()] + (
    [keras.callbacks.BackupAndRestore(backup_dir)] if backup_dir != "-" else []
)
dbn.fit_generative(
    x,
    y,
    epochs=6,
    batch_size=50,
    optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
    callbacks=callbacks,
    verbose=0,
)
np.savez(out, *[w for layer in dbn.generative for w in layer.get_weights()])
