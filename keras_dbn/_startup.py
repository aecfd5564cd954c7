"""A quiet start for the command line: TensorFlow's C++ start-up notices kept off the terminal.

Importing TensorFlow 2.21 on a CPU machine writes notices straight to file
descriptor 2 from C++ (a oneDNN notice, "Could not find cuda drivers"), whatever
``TF_CPP_MIN_LOG_LEVEL`` says, and its first operation logs an ``E0000 ... failed
call to cuInit`` line that reads like an error. The command line (``python -m
keras_dbn``, the ``keras-dbn`` script) and scripts that set
``KERAS_DBN_QUIET_STARTUP=1`` before importing keras_dbn (the benchmarks) import
the backend with descriptor 2 pointed at ``/dev/null`` for that moment only, and set
``TF_CPP_MIN_LOG_LEVEL=3`` unless the user has set it. A library user's import is
left as it is. Importing this module does it; it is imported before anything
that imports Keras.
"""

import contextlib
import os
import sys

QUIET_STARTUP = "KERAS_DBN_QUIET_STARTUP"


def run_as_command():
    """Whether this process is ``python -m keras_dbn``, the ``keras-dbn`` script, or asked
    for a quiet start through ``KERAS_DBN_QUIET_STARTUP=1``."""
    if os.environ.get(QUIET_STARTUP) == "1":
        return True
    argv = list(getattr(sys, "orig_argv", sys.argv))
    as_module = (
        any(a == "-m" and b == "keras_dbn" for a, b in zip(argv, argv[1:])) or "-mkeras_dbn" in argv
    )
    return as_module or os.path.basename(sys.argv[0] or "") == "keras-dbn"


@contextlib.contextmanager
def stderr_to_devnull():
    """Points file descriptor 2 at ``/dev/null`` in the block (C++ logs bypass ``sys.stderr``)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_backend():
    """Imports Keras and its backend, quietly when `run_as_command`."""
    if "keras" in sys.modules or not run_as_command():
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with stderr_to_devnull():
        import keras  # noqa: F401  (imports the backend)


import_backend()
