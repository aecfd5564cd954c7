"""Public names that moved: the old ones keep working for one release, with a warning."""

import importlib
import warnings


def module_getattr(module, moved):
    """A module ``__getattr__`` serving the names in ``moved`` from their new homes.

    Args:
        module: the name of the module the names left.
        moved: ``{old name: "new.module.NewName"}``.

    Returns:
        The function to assign to the module's ``__getattr__``: each moved name
        warns with a `DeprecationWarning` naming its new home, then returns it.
    """

    def __getattr__(name):
        if name not in moved:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new_module, _, new_name = moved[name].rpartition(".")
        warnings.warn(
            f"{module}.{name} moved to {moved[name]}; the old name will be removed in the "
            "next release.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(new_module), new_name)

    return __getattr__
