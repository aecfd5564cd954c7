"""keras_dbn: Restricted Boltzmann Machines and Deep Belief Networks for Keras 3."""

from keras_dbn import evaluation, units
from keras_dbn.dbn import DBN
from keras_dbn.rbm import RBM
from keras_dbn.saving import load_model
from keras_dbn.trainer_callbacks import DivergenceGuard, TrainingDivergedError

__version__ = "0.1.0"

__all__ = [
    "DBN",
    "RBM",
    "DivergenceGuard",
    "TrainingDivergedError",
    "evaluation",
    "load_model",
    "units",
    "__version__",
]
