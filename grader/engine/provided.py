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

import sys

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


def provided_list() -> str:
    """The provided packages, as a sentence fragment."""
    return ", ".join(PROVIDED) + " and the Python standard library"


def not_provided_message(module: str) -> str:
    """What a student hears for ``import module`` when the grader does not provide it."""
    return f"module {module} is not available in the grader; the grader provides: {provided_list()}"


def is_provided(module: str) -> bool:
    """True for a module of the standard library or of a provided package (by top-level name)."""
    top = module.split(".", 1)[0]
    return top in PROVIDED or top in sys.stdlib_module_names or top == "__future__"
