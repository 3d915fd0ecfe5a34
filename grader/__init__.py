"""Autograder for the homework "Adam vs. SGD with momentum".

``python -m grader grade SUBMISSIONS... --out DIR`` grades submissions in a sandbox and writes
reports, a class CSV, LMS import files and a summary. See the README.

The package is laid out by trust boundary:

================ ==============================================================================
folder           what lives there
================ ==============================================================================
``engine/``      exactly what ships to students: wire format, expression evaluators, numeric
                 checks, the notebook reader (shared by the grader and the public checks)
``sandbox/``     everything that runs beside or manages student code (zygote, worker,
                 protocol, isolation primitives, the trusted side's worker client)
``judging/``     grading one submission: items, hidden inputs, symbolic judging, misconceptions
``intake/``      finding and reading submissions (files, folders, notebooks, zips)
``outputs/``     reports, the class CSV and summary, Gradescope / Canvas / Moodle exports
``release/``     the student bundle and its leak checks, public data, notebook, Gradescope zip
================ ==============================================================================

Top-level modules: ``batch`` (a whole batch), ``cli``, ``rubric`` (+ ``rubric.toml``),
``results`` (the typed result models), ``errors`` (the error hierarchy) and ``entry`` (how a
command ends: with its status, without the interpreter's teardown).

The names below are the public API; they are imported on first use, so importing
:mod:`grader` (as the sandbox's zygote does) stays cheap.
"""

from __future__ import annotations

import importlib

__version__ = "1.0.0"

#: Public name -> the module that defines it.
_API = {
    "BatchOptions": "grader.batch",
    "BatchResult": "grader.batch",
    "grade_batch": "grader.batch",
    "merge_outputs": "grader.batch",
    "Report": "grader.results",
    "ItemResult": "grader.results",
    "Rubric": "grader.rubric",
    "load_rubric": "grader.rubric",
    "release": "grader.release.bundle",
    "build_bundle": "grader.release.gradescope",
    "GraderError": "grader.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'grader' has no attribute {name!r}")
