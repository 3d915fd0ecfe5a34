"""Gradescope: a ``results.json`` per submission, following Gradescope's autograder spec.

Inside Gradescope the autograder zip (:mod:`grader.release.gradescope`) writes it for the one
submission of its container; in a batch's output folder, ``gradescope/<student>/results.json``
is a preview of what that student would see there, not a file to import.

Format: "Autograder Specifications", https://gradescope-autograders.readthedocs.io/en/latest/specs/
(section "Output format"). Top level: ``score`` (optional when every test has one; when
given it overrides the sum of the tests), ``output`` and ``output_format``, ``visibility``
and ``stdout_visibility`` (``hidden`` / ``after_due_date`` / ``after_published`` /
``visible``), ``extra_data``, ``tests``. Each test: ``score``, ``max_score``, ``status``
(``passed`` / ``failed``), ``name``, ``number`` (a string such as ``"1.1"``), ``output``,
``output_format`` (``text`` / ``html`` / ``simple_format`` / ``md`` / ``ansi``),
``visibility``.

Ungradable submissions (the grader itself failed) get **no** results.json: Gradescope's
troubleshooting page says that when ``/autograder/results/results.json`` is missing or
malformed it shows "The autograder failed to execute correctly" instead of a score, so the
student sees an error rather than a 0 that looks like a grade, and the instructor can rerun
the autograder. A results.json always records a score (either the top-level one or the sum
of the tests), so there is no way to write one that says "no grade". That is why
:func:`gradescope_results` raises :class:`UngradableSubmission` for such a report; the
autograder script lets it fail the run (after printing the reason to stdout, which the
instructor sees), and the batch export writes ``UNGRADABLE.txt`` in that student's folder
instead of ``results.json``.
"""

from __future__ import annotations

import json
from typing import Literal

from grader.errors import UngradableSubmission
from grader.outputs.escaping import md_text
from grader.outputs.reports import item_markdown
from grader.results import ItemResult, Report
from grader.outputs.base import ExportJob, Notice, points_text, remove_file, write_file

Visibility = Literal["hidden", "after_due_date", "after_published", "visible"]
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")

#: Where the batch export puts one student's file, relative to the output folder.
FOLDER = "gradescope"
RESULTS = "results.json"
UNGRADABLE = "UNGRADABLE.txt"


def gradescope_results(report: Report, *, visibility: Visibility = "visible",
                       stdout_visibility: Visibility = "hidden") -> dict:
    """The results.json content for one report (one test per rubric item).

    Raises :class:`UngradableSubmission` for an ungradable report (see the module docstring).
    """
    for name, value in (("visibility", visibility), ("stdout_visibility", stdout_visibility)):
        if value not in VISIBILITIES:
            raise ValueError(f"{name} must be one of {', '.join(VISIBILITIES)}, got {value!r}")
    if report.ungradable:
        raise UngradableSubmission(ungradable_reason(report))
    return {
        "score": float(report.total),
        "output": _overview(report),
        "output_format": "md",
        "visibility": visibility,
        "stdout_visibility": stdout_visibility,
        "extra_data": {"student": report.student, "submission_sha256": report.sha256,
                       "grader_version": report.grader_version},
        "tests": [_test(item, visibility) for item in report.items],
    }


def ungradable_reason(report: Report) -> str:
    """Why a report is ungradable, in one line for the instructor."""
    detail = f"ungradable: {report.outcome.reason}" if report.outcome.reason else "ungradable"
    return (f"The grader failed on the submission of {report.student} ({detail}). No score is "
            "recorded; rerun the autograder once the grader problem is fixed.")


def _test(item: ItemResult, visibility: Visibility) -> dict:
    """One test per rubric item: Gradescope shows "<number>) <name>", so the number is the
    item id and the name its title (the id is not said twice)."""
    status_line = (f"**{item.status.replace('_', ' ')}**: {points_text(item.points)} / "
                   f"{points_text(item.max_points)} points")
    body = item_markdown(item)
    return {
        "name": item.title,
        "number": item.id,
        "score": float(item.points),
        "max_score": float(item.max_points),
        "status": "passed" if item.status == "passed" else "failed",
        "output": status_line + ("\n\n" + body if body else ""),
        "output_format": "md",
        "visibility": visibility,
    }


def _overview(report: Report) -> str:
    lines = [f"**Total: {points_text(report.total)} / {points_text(report.max_total)}**", "",
             "| Part | Points |", "|---|---|"]
    lines += [f"| {part.id}. {part.title} | {points_text(part.points)} / {points_text(part.max_points)} |"
              for part in report.parts]
    if report.outcome.kind in ("not_run", "unreadable"):  # a syntax error, a crash at import, an
        # empty file: say why once, here, not only inside each test
        lines += ["", f"**Your file could not be run, so no item got an answer:** "
                      f"{md_text(report.outcome.reason)}"]
    if report.notes:
        lines += ["", "**Notes**", ""] + [f"- {md_text(note)}" for note in report.notes]
    adjusted = [item.id for item in report.items if item.adjustment is not None]
    if adjusted:
        lines += ["", f"**Instructor adjustments:** {', '.join(adjusted)} (see those tests)."]
    lines += ["", "Each rubric item below is one test; open it for the feedback."]
    return "\n".join(lines)


def results_json(report: Report, **kwargs) -> str:
    """:func:`gradescope_results` as the text of a results.json file."""
    return json.dumps(gradescope_results(report, **kwargs), indent=2, ensure_ascii=False) + "\n"


def export(job: ExportJob) -> tuple[Notice, ...]:
    """``gradescope/<student>/results.json`` for every gradable report, ``UNGRADABLE.txt`` for
    the others."""
    visibility = job.options.get("visibility", "visible")
    stdout_visibility = job.options.get("stdout_visibility", "hidden")
    for report in job.reports:
        folder = f"{FOLDER}/{report.student}"
        remove_file(job.out, f"{folder}/{UNGRADABLE}")
        write_file(job.out, f"{folder}/{RESULTS}",  # one per student, rebuilt by every batch: no fsync each
                   results_json(report, visibility=visibility, stdout_visibility=stdout_visibility), durable=False)
    for report in job.ungradable:
        folder = f"{FOLDER}/{report.student}"
        remove_file(job.out, f"{folder}/{RESULTS}")
        write_file(job.out, f"{folder}/{UNGRADABLE}", ungradable_reason(report) + "\n", durable=False)
    stale = _remove_stale(job)
    status = (f"Gradescope previews: {job.out / FOLDER}/<student>/{RESULTS} (what each student would see "
              "on Gradescope; not an import file)")
    notices = []
    if job.ungradable:
        notices.append(Notice("gradescope", f"Gradescope: no results.json for {len(job.ungradable)} ungradable "
                              "submission(s); regrade them before uploading",
                              tuple(r.student for r in job.ungradable), status))
    if stale:
        notices.append(Notice("gradescope", f"Gradescope: removed the results of {len(stale)} student(s) "
                              "whose input is not in this batch", stale, status))
    return tuple(notices) or (Notice("gradescope", "", (), status),)


def _remove_stale(job: ExportJob) -> tuple[str, ...]:
    """Remove our files from ``gradescope/<student>/`` of students not in the batch (an input
    deleted since an earlier run), so that no old result is uploaded; returns those students."""
    folder = job.out / FOLDER
    students = {r.student for r in job.reports} | {r.student for r in job.ungradable}
    stale = []
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return ()
    for entry in entries:
        if entry.name in students:
            continue
        for name in (RESULTS, UNGRADABLE):
            remove_file(job.out, f"{FOLDER}/{entry.name}/{name}")
        try:
            entry.rmdir()
        except OSError:
            pass
        stale.append(entry.name)
    return tuple(stale)
