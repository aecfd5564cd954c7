"""keras_dbn: Restricted Boltzmann Machines, Deep Belief Networks and Deep Boltzmann Machines for
Keras 3."""

# _startup first: the command line imports the backend quietly (keras_dbn/_startup.py).
from keras_dbn import _startup, evaluation, units  # noqa: F401
from keras_dbn.dbm import DBM
from keras_dbn.dbn import DBN
from keras_dbn.rbm import RBM
from keras_dbn.saving import load_model
from keras_dbn.trainer_callbacks import DivergenceGuard, TrainingDivergedError

__version__ = "0.2.0"

__all__ = [
    "DBM",
    "DBN",
    "RBM",
    "DivergenceGuard",
    "TrainingDivergedError",
    "evaluation",
    "load_model",
    "units",
    "__version__",
]
