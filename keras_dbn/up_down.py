"""Deprecated: the up-down algorithm moved to `keras_dbn.generative` (`GenerativeModel`)."""

import warnings


def __getattr__(name):
    if name == "UpDown":
        warnings.warn(
            "keras_dbn.up_down.UpDown moved to keras_dbn.generative.GenerativeModel; "
            "keras_dbn.up_down will be removed in the next release.",
            DeprecationWarning,
            stacklevel=2,
        )
        from keras_dbn.generative import GenerativeModel

        return GenerativeModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
