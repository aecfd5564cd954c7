"""Pretrains a small DBN; used by tests/test_resume.py as a subprocess.

Usage: pretrain_run.py MODE BACKUP_DIR OUT.npz, MODE in {plain, kill}; BACKUP_DIR "-" for none.
In "kill" mode the process SIGKILLs itself at the end of the third epoch of the second RBM,
before that epoch's backup is written.
"""

import os
import signal
import sys

import keras
import numpy as np

from keras_dbn import DBN

mode, backup_dir, out = sys.argv[1:]


class KillMidLayer(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if mode == "kill" and self.model.name == "rbm_1" and epoch == 2:
            os.kill(os.getpid(), signal.SIGKILL)


keras.utils.set_random_seed(0)
x = np.random.default_rng(0).random((600, 20)).astype("float32")
dbn = DBN([16, 12, 8], output_units=None, seed=0)
callbacks = [KillMidLayer()] + (
    [keras.callbacks.BackupAndRestore(backup_dir)] if backup_dir != "-" else []
)
histories = dbn.pretrain(x, epochs=5, batch_size=50, callbacks=callbacks, verbose=0)
np.savez(
    out, *dbn.get_weights(), epochs=[len(h.history["reconstruction_error"]) for h in histories]
)
