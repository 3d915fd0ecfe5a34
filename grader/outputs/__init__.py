"""What the grader writes: reports, the class CSV and summary, and the LMS exports.

Reports and the class CSV are :mod:`grader.outputs.reports`; the class summary is
:mod:`grader.outputs.summary`. The exporters below are small functions in one registry that
turn the batch's reports into files for other tools.

Each exporter takes an :class:`ExportJob` (the output folder, every report, the rubric, its
own options and the notices of the exporters before it), writes its files inside the output
folder only, atomically, and returns :class:`Notice` values for the instructor. Scoring
policy never lives here: exporters copy points from the reports.

========== ============================================================ =================
name       files (in the output folder)                                  runs
========== ============================================================ =================
gradescope ``gradescope/<student>/results.json`` (previews, not imports)   always
canvas     ``canvas_import.csv``, ``canvas_unmatched.txt``                with a gradebook
moodle     ``moodle_import.csv``, ``moodle_unmatched.txt``                always
summary    ``summary.md``, ``summary.html``, ``charts/*.png``             always, last
========== ============================================================ =================
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

from grader.errors import GraderError, InstructorFault
from grader.results import Report
from grader.rubric import Rubric
from grader.outputs.base import ExportJob, Notice, split_ungradable, write_file

__all__ = ["EXPORTERS", "ExportJob", "Exporter", "Notice", "UngradableSubmission", "canvas_student_of",
           "gradescope_results", "validate_exports", "write_exports", "write_file"]

Exporter = Callable[[ExportJob], Sequence[Notice]]


def _attribute(module: str, name: str):
    """``grader.outputs.<module>.<name>``, importing the module now."""
    import importlib

    return getattr(importlib.import_module(f"grader.outputs.{module}"), name)


def _deferred(module: str, name: str) -> Callable:
    """``grader.outputs.<module>.<name>``, imported on its first call: the Gradescope path,
    which writes one results.json, starts its sandbox without importing the other exporters
    (a cold start's critical path)."""
    def call(*args, **kwargs):
        return _attribute(module, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = f"{module}.{name}"
    return call


#: Names this package re-exports from its modules, imported when first asked for.
_REEXPORTED = {"UngradableSubmission": "gradescope", "gradescope_results": "gradescope",
               "canvas_student_of": "canvas"}


def __getattr__(name: str):
    if name in _REEXPORTED:
        return _attribute(_REEXPORTED[name], name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _summary(job: ExportJob) -> tuple[Notice, ...]:
    from grader.outputs.summary import write_summary  # numpy and sympy: only when a summary is written

    write_summary(job.out, job.all_reports, job.rubric, job.notices, job.names, job.options.get("painter"))
    return ()


#: Exporters that run on every batch, by name, in this order (the summary last: it lists
#: the notices of the others).
EXPORTERS: dict[str, Exporter] = {
    "gradescope": _deferred("gradescope", "export"),
    "canvas": _deferred("canvas", "export"),
    "moodle": _deferred("moodle", "export"),
    "summary": _summary,
}

#: Checks of an exporter's options that can run before grading starts.
VALIDATORS: dict[str, Callable[[Mapping], None]] = {"canvas": _deferred("canvas", "validate"),
                                                    "moodle": _deferred("moodle", "validate")}


def validate_exports(options: Mapping) -> None:
    """Raise a :class:`GraderError` now for export options that would fail after grading."""
    unknown = set(options) - set(EXPORTERS)
    if unknown:
        raise InstructorFault(f"unknown exporter(s): {', '.join(sorted(unknown))}")
    for name, check in VALIDATORS.items():
        check(options.get(name) or {})


def write_exports(out: Path, reports: Sequence[Report], rubric: Rubric, options: Mapping,
                  notices: Sequence[Notice] = (), names: Mapping[str, str] | None = None) -> tuple[Notice, ...]:
    """Run every exporter; ``options`` maps an exporter's name to its own options; ``notices``
    (from the batch itself) come first in the summary. Returns every notice.

    An exporter that fails with a :class:`GraderError` does not stop the others: its failure
    becomes a notice in the summary, and the first failure is raised once all have run.
    """
    gradable, ungradable = split_ungradable(reports)
    notices = list(notices)
    failures: list[str] = []
    for name, exporter in EXPORTERS.items():
        job = ExportJob(Path(out), gradable, rubric, options.get(name) or {}, tuple(notices), ungradable,
                        dict(names or {}))
        try:
            notices.extend(exporter(job))
        except GraderError as exc:
            failures.append(f"{name} export: {exc}")
            notices.append(Notice(name, f"The {name} export failed", (str(exc),)))
    if failures:
        raise GraderError("; ".join(failures))
    return tuple(notices)
