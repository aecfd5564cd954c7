"""Deprecated: the up-down algorithm moved to `keras_dbn.generative` (`GenerativeModel`)."""

from keras_dbn._moved import module_getattr

__getattr__ = module_getattr(__name__, {"UpDown": "keras_dbn.generative.GenerativeModel"})
