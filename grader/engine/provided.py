"""The third-party packages student code may import in the grader, and what it hears otherwise.

This is the one home of that list. The grader's sandbox makes exactly these packages (and the
packages they need to run) readable to a worker, in every isolation mode. Both the grader's
worker and the student bundle's public run install the same guard (:func:`guard_imports`),
which decides every import of student code by one rule (:func:`import_refusal`), however the
import is written, and refuses in the same words, so that a file which passes its checks at
home imports the same way when it is graded.

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
#: Top-level import names of the support distributions and of the provided distributions' own
#: other modules (``PIL`` is pillow's; ``mpl_toolkits`` and ``pylab`` are matplotlib's, ``isympy``
#: sympy's, ``jupyter`` jupyter-core's), exactly as the grader's sandbox makes them readable (the
#: suite compares them): student code imports them in the grader, so the public run allows them
#: too (:func:`import_refusal`), and no other (``six``, which only an older python-dateutil needs,
#: is not installed next to the grader). On Python 3.9 matplotlib also needs
#: ``importlib_resources`` (and it ``zipp``): allowed there, so that plotting works at home.
SUPPORT_MODULES: frozenset = frozenset({
    "PIL", "attr", "attrs", "contourpy", "cycler", "dateutil", "fastjsonschema", "fontTools", "isympy",
    "jsonschema", "jsonschema_specifications", "jupyter", "jupyter_core", "kiwisolver", "mpl_toolkits",
    "packaging", "platformdirs", "pylab", "pyparsing", "referencing", "rpds", "traitlets",
    "typing_extensions", "tzdata",
} | ({"importlib_resources", "zipp"} if sys.version_info < (3, 10) else set()))
#: Environment a worker runs with so that matplotlib never needs a display.
MATPLOTLIB_BACKEND = "Agg"
#: The numerical libraries' thread pools are one thread in a worker (one CPU, and one process's
#: address space, for each submission), in the grader and in the student's run alike.
ONE_THREAD = MappingProxyType({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
#: The string-hash seed of every process that runs student code, in the grader (its zygotes,
#: so every worker they fork) and in the student's run alike (``PYTHONHASHSEED``). With
#: Python's default random seed a set of strings iterates in another order in each process
#: start, so a file whose answer depends on that order (a tuple built from a set of names)
#: could earn other points at each regrade and at home (on the same Python version: 3.11 hashes
#: strings with another function than 3.9 and 3.10). The grader's own process keeps a random
#: seed: it is the one that reads what student code sends.
HASH_SEED = "0"
#: Import names of the plotting library (matplotlib's top-level modules): a submission whose
#: source text holds any of them (:func:`names_plotting`) runs with matplotlib imported before
#: its own import is timed, in the grader (a warm image) and in the student's run alike.
PLOTTING_NAMES = ("matplotlib", "pylab", "mpl_toolkits")


def names_plotting(source: str | None) -> bool:
    """Whether ``source`` names the plotting library anywhere (an import, a string, even a
    comment); a file that builds the name at run time does not, and pays its import."""
    text = source or ""
    return any(name in text for name in PLOTTING_NAMES)


#: Standard-library and numpy modules a process that runs student code has imported before the
#: student's import, in the grader (the zygote, so that forks start warm and a worker can use
#: them even where it may not read the standard library) and in the student's run alike.
WARM_MODULES = (
    "abc", "argparse", "array", "ast", "base64", "bisect", "calendar", "cmath", "collections",
    "collections.abc", "contextlib", "copy", "csv", "ctypes", "dataclasses", "datetime", "decimal",
    "difflib", "encodings.idna", "enum", "errno", "fnmatch", "fractions", "functools", "gc", "glob",
    "hashlib", "heapq", "importlib", "importlib.metadata", "importlib.util", "inspect", "io",
    "itertools", "json", "locale", "logging", "math", "numbers", "operator", "os", "pathlib",
    "pickle", "platform", "pprint", "random", "re", "resource", "shutil", "signal", "socket",
    "statistics", "string", "struct", "subprocess", "tempfile", "textwrap", "threading", "time",
    "timeit", "traceback", "types", "typing", "unicodedata", "uuid", "warnings", "weakref", "zlib",
    "numpy.fft", "numpy.linalg", "numpy.polynomial", "numpy.random", "numpy.testing",
)


def warm_up() -> None:
    """Import and exercise what student code commonly uses (numpy, sympy and the modules it
    loads on first use, :data:`WARM_MODULES`) before the student's import: the grader's zygote
    does it before forking workers, the student's run in its child before the import is timed.
    So a submission starts from the same imports on both sides: its import costs the same
    time, and it has the same address space left under the per-process memory limit (a worker
    once started 12 to 16 MiB larger than the student's child)."""
    import numpy as np
    import sympy as sp

    from . import expressions, wire  # noqa: F401 - what reading a submission's answers needs

    g, t, c = sp.Symbol("g", real=True), sp.Symbol("t", integer=True, positive=True), sp.Symbol("c", real=True)
    k = sp.Symbol("k", integer=True)
    expr = sp.simplify(sp.sqrt(g**2) / (1 - sp.Rational(1, 2) ** t) + sp.Piecewise((1, c > 0), (-1, True)))
    sp.Sum(sp.Rational(1, 2) ** k, (k, 0, t - 1)).doit()
    sp.factor(sp.expand((g + c) ** 3))
    sp.nsimplify(0.5)
    str(expr)
    sp.sign(c).rewrite(sp.Abs)
    wire.encode_value({"a": expr, "b": np.zeros((2, 2))})
    np.linalg.norm(np.ones(3))
    for name in WARM_MODULES:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - a missing optional module is fine
            pass


#: A worker's limits per process besides the rubric's time and memory: the largest file it
#: may write, how many files it may hold open, and its processes (threads included). The
#: student's own run applies the first two as well; the process limit counts every process
#: of the user there (a desktop's hundreds), so only the grader, whose workers each have a
#: uid of their own, can apply it.
FILE_BYTES = 16 * 1024 * 1024
OPEN_FILES = 64
PROCESSES = 16
#: What a worker's working folder (the only place it may write) holds in all.
WORKDIR_BYTES = 64 * 1024 * 1024


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


#: How the standard library's build-time data module begins (``_sysconfigdata__linux_x86_64-linux-gnu``,
#: named by platform, in no list of module names): :mod:`sysconfig` imports it when first asked.
SYSCONFIG_DATA = "_sysconfigdata_"


def is_provided(module: str, support=SUPPORT_MODULES) -> bool:
    """True for a module of the standard library, of a provided package or of a package they
    need (``support``: :data:`SUPPORT_MODULES`), by top-level name.

    The one decision for the grader's worker and the student bundle's public run (on every
    Python from 3.9, see :func:`standard_library`)."""
    top = module.split(".", 1)[0]
    return (top in PROVIDED or top in support or top == "__future__" or top in standard_library()
            or top.startswith(SYSCONFIG_DATA))


def import_refusal(module: str, support=SUPPORT_MODULES) -> str | None:
    """What student code hears for importing ``module`` (by any means), or None where it may.

    ``support``: the top-level names of the packages the provided ones need that this process
    may import: :data:`SUPPORT_MODULES` in the public run; in the grader's worker, the names the
    sandbox made readable (the ones installed, which :data:`SUPPORT_MODULES` covers), so that a
    package the grader does not have is refused in these words, not found half-readable."""
    if is_provided(module, support):
        return None
    return not_provided_message(module.split(".", 1)[0])


class ImportGuard:
    """A meta-path finder, first in line, that refuses every module :func:`import_refusal`
    refuses (in the grader's worker and the public run's child alike), whichever way it is
    imported: an import statement, ``importlib.import_module``, ``__import__``.

    ``module_name`` (the submission's own module) is never refused."""

    def __init__(self, module_name: str, support=SUPPORT_MODULES):
        self.module_name = module_name
        self.support = frozenset(support)

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".", 1)[0]
        if top == self.module_name:
            return None
        message = import_refusal(top, self.support)
        if message is None:
            return None  # the ordinary finders decide
        raise ModuleNotFoundError(message, name=top)

    def invalidate_caches(self):
        pass


def guard_imports(module_name: str, support=SUPPORT_MODULES) -> ImportGuard:
    """Apply :func:`import_refusal` to student code in this process: the grader's worker and the
    public run's child both call this, after importing what they need themselves and before the
    submission ``module_name`` runs (``support``: as for :func:`import_refusal`).

    A module not loaded yet is refused by an :class:`ImportGuard` (whoever imports it: so the
    process itself must have loaded, beforehand, everything of its own that the rule refuses).
    A module the process has already loaded (the grader's own package, loaded on both sides) is
    found in ``sys.modules`` without any finder: the submission's own imports of it, by an
    import statement, ``__import__`` or ``importlib.import_module``, are refused too, by the
    code that runs them (its module's ``__name__``), so that what is loaded on one side and not
    on the other never decides."""
    import builtins
    import importlib

    standard_library()  # read before student code runs (and before any sandbox rule applies)
    guard = ImportGuard(module_name, support)
    sys.meta_path.insert(0, guard)
    original_import = builtins.__import__
    original_import_module = importlib.import_module

    decided: dict = {module_name: None}  # top-level name -> refusal (every import passes here)

    def refuse(name) -> None:
        """Raise for the submission's import of a refused ``name`` (its caller's caller)."""
        if not isinstance(name, str) or name.startswith("."):
            return
        top = name.split(".", 1)[0]
        if top not in decided:
            decided[top] = import_refusal(top, guard.support)
        message = decided[top]
        if message is not None and sys._getframe(2).f_globals.get("__name__") == module_name:
            raise ModuleNotFoundError(message, name=top)

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0:
            refuse(name)
        return original_import(name, globals, locals, fromlist, level)

    def guarded_import_module(name, package=None):
        refuse(name)
        return original_import_module(name, package)

    functools.update_wrapper(guarded_import, original_import)
    functools.update_wrapper(guarded_import_module, original_import_module)
    builtins.__import__ = guarded_import
    importlib.import_module = guarded_import_module
    return guard
