"""Grading a chunk of submissions with one warm sandbox and one judging.

This is the unit of work of every way the grader runs: a batch on one machine grades all of
its submissions as one chunk (:func:`grade_submissions`, reports handed over one by one as
they are finished, so that the batch writes each at once); a Dask worker
(:mod:`grader.cluster`), or any other process of the trusted side, grades chunks that
arrive as plain data and returns plain data (:func:`grade_chunk`).

The plain data of a submission is :func:`submission_to_data` (every field of
:class:`~grader.intake.submissions.Submission`: strings, the file's bytes, lists of
strings), checked field by field on arrival by :func:`submission_from_data`; the plain data
of a report is its JSON form (SPEC section 5, :func:`grader.outputs.reports.report_to_dict`).
Nothing else crosses, so no object a student could shape is ever unpickled by a trusted
process, and whoever receives a report can check it against its schema before writing it.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
import types
import typing
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from grader.intake.submissions import Submission
from grader.results import Report
from grader.sandbox.manager import Sandbox

#: Called with each report as soon as it is finished, and the seconds it took.
OnReport = Callable[[Report, float], None]


def grade_submissions(judging, sandbox: Sandbox, submissions: Sequence[Submission], *,
                      slots: Sequence[int], rubric_sha256: str = "",
                      on_report: OnReport | None = None,
                      stop: threading.Event | None = None) -> list[Report]:
    """Grade ``submissions`` in parallel, one at a time in each of the sandbox ``slots``.

    Slots are the sandbox's worker slots (:meth:`Sandbox.spawn`): two gradings at once on one
    sandbox must never share one, so a caller that grades several chunks at once gives each
    its own. Reports come back in the order of ``submissions``, each holding ``rubric_sha256``
    (the digest of the rubric file the judging was built from). A grader bug on one
    submission costs that submission only (an ``ungradable`` report); ``on_report`` runs in
    the grading thread as each report is finished. Once ``stop`` is set (the output cannot be
    written), the submissions not yet started are not graded (their entry is None).
    """
    from grader.judging.grading import grade, ungradable

    if not slots:
        raise ValueError("grading needs at least one sandbox slot")
    slots_queue: queue.Queue[int] = queue.Queue()
    for slot in slots:
        slots_queue.put(slot)

    def one(sub: Submission) -> Report | None:
        if stop is not None and stop.is_set():
            return None
        slot = slots_queue.get()
        started = time.monotonic()
        try:
            report = grade(judging, sandbox, slot, sub)
        except Exception as exc:  # noqa: BLE001 - a grader bug costs one report, not the batch
            report = ungradable(judging.rubric, sub, f"{type(exc).__name__}: {exc}",
                                sandbox.isolation.layers)
        finally:
            slots_queue.put(slot)
        report = dataclasses.replace(report, rubric_sha256=rubric_sha256)
        if on_report:
            on_report(report, time.monotonic() - started)
        return report

    with ThreadPoolExecutor(max_workers=len(slots)) as pool:
        return list(pool.map(one, submissions))


def grade_chunk(judging, sandbox: Sandbox, chunk: Sequence[dict], *, slots: Sequence[int] = (0,),
                rubric_sha256: str = "",
                on_report: Callable[[dict, float], None] | None = None) -> list[dict]:
    """Grade a chunk given as plain data (:func:`submission_to_data`); the report dicts, in order.

    ``rubric_sha256`` is recorded in each report (as the batch records it in the report
    files); ``on_report`` gets each report dict and its seconds as it is finished.
    """
    from grader.outputs.reports import report_to_dict

    submissions = [submission_from_data(data) for data in chunk]

    def done(report: Report, seconds: float) -> None:
        if on_report:
            on_report(report_to_dict(report), seconds)

    reports = grade_submissions(judging, sandbox, submissions, slots=slots, rubric_sha256=rubric_sha256,
                                on_report=done)
    return [report_to_dict(report) for report in reports]


_FIELDS = tuple(f.name for f in dataclasses.fields(Submission))
_PLAIN = (str, bytes, int, float, bool, type(None))


def submission_to_data(sub: Submission) -> dict:
    """One submission as plain data: str, bytes, numbers, None and lists of str only."""
    return {name: list(value) if isinstance(value, tuple) else value
            for name, value in ((name, getattr(sub, name)) for name in _FIELDS)}


def _accepts(hint, value) -> bool:
    """Whether ``value`` (plain data, tuples already made of lists) fits the field's type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(hint))
    if origin is tuple:
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return isinstance(value, tuple) and all(_accepts(args[0], v) for v in value) if args else False
    if hint is type(None) or hint is None:
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return hint in _PLAIN and type(value) is hint


def submission_from_data(data: dict) -> Submission:
    """The submission :func:`submission_to_data` gave, every field's type checked."""
    if not isinstance(data, dict) or set(data) != set(_FIELDS):
        raise ValueError(f"a submission is a dict of the fields {list(_FIELDS)}")
    hints = typing.get_type_hints(Submission)
    values = {name: tuple(value) if isinstance(value, list) else value for name, value in data.items()}
    for name, value in values.items():
        if not _accepts(hints[name], value):
            raise TypeError(f"submission field {name!r} has the wrong type ({type(value).__name__})")
    return Submission(**values)
