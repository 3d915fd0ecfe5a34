"""The third-party packages student code may import in the grader, and what it hears otherwise.

This is the one home of that list. The grader's sandbox makes exactly these packages (and the
packages they need to run) readable to a worker, in every isolation mode; the student
bundle's public checks flag any other import with the same message as the grader, so that a
file which passes its checks at home imports the same way when it is graded.

The standard library is always available. Plotting works without a display: a worker uses
matplotlib's non-interactive ``Agg`` backend (``plt.show()`` does nothing, ``savefig`` writes
into the worker's private working directory).
"""

from __future__ import annotations

import functools
import sys
from types import MappingProxyType

#: Import names of the packages student code may use, with the distribution that provides each.
PROVIDED: dict[str, str] = {
    "numpy": "numpy",
    "sympy": "sympy",
    "mpmath": "mpmath",
    "matplotlib": "matplotlib",
    "nbformat": "nbformat",
}
#: Distributions the provided ones need at run time (readable by a worker, not advertised).
#: The sandbox also follows the distributions' own requirements, so this is a floor.
SUPPORT: tuple[str, ...] = (
    "contourpy", "cycler", "fonttools", "kiwisolver", "packaging", "pillow", "pyparsing",
    "python-dateutil", "six", "fastjsonschema", "jsonschema", "jsonschema-specifications",
    "referencing", "rpds-py", "attrs", "jupyter-core", "platformdirs", "traitlets",
)
#: Environment a worker runs with so that matplotlib never needs a display.
MATPLOTLIB_BACKEND = "Agg"
#: The numerical libraries' thread pools are one thread in a worker (one CPU, and one process's
#: address space, for each submission), in the grader and in the student's run alike.
ONE_THREAD = MappingProxyType({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})


def provided_list() -> str:
    """The provided packages, as a sentence fragment."""
    return ", ".join(PROVIDED) + " and the Python standard library"


def not_provided_message(module: str) -> str:
    """What a student hears for ``import module`` when the grader does not provide it."""
    return f"module {module} is not available in the grader; the grader provides: {provided_list()}"


def _listed_standard_library() -> frozenset:
    """The standard library's top-level module names, read from the interpreter's own folders.

    For Pythons without ``sys.stdlib_module_names`` (3.9, which the student bundle supports):
    the built-in modules, then every module and package in the standard library's folders
    (``lib/python3.X``, its ``lib-dynload``; ``Lib`` and ``DLLs`` on Windows), never
    ``site-packages``. On 3.10 to 3.13 this finds every name of ``sys.stdlib_module_names``
    present on the platform (the suite compares them), plus CPython's own test modules.
    """
    import os
    import sysconfig

    names = set(sys.builtin_module_names) | {"_frozen_importlib", "_frozen_importlib_external"}
    paths = sysconfig.get_paths()
    folders = {paths[key] for key in ("stdlib", "platstdlib") if key in paths}
    folders |= {os.path.join(folder, "lib-dynload") for folder in list(folders)}
    folders.add(os.path.join(sys.base_prefix, "DLLs"))
    for folder in sorted(folders):
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            if entry.endswith((".py", ".so", ".pyd")):
                name = entry.partition(".")[0]
            elif os.path.isfile(os.path.join(folder, entry, "__init__.py")):
                name = entry
            else:
                continue
            if name.isidentifier():
                names.add(name)
    return frozenset(names)


@functools.lru_cache(maxsize=1)
def standard_library() -> frozenset:
    """The top-level module names of the standard library of the running Python (read once)."""
    official = getattr(sys, "stdlib_module_names", None)  # Python 3.10 and later
    if official is None:
        return _listed_standard_library()
    return frozenset(official) | frozenset(sys.builtin_module_names)


def is_provided(module: str) -> bool:
    """True for a module of the standard library or of a provided package (by top-level name).

    The one decision for the grader's worker and the student bundle's public run (on every
    Python from 3.9, see :func:`standard_library`)."""
    top = module.split(".", 1)[0]
    return top in PROVIDED or top == "__future__" or top in standard_library()
