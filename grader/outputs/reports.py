"""Reports as files: JSON and Markdown per student, the class CSV; atomic writes.

Turning results into text happens here, outside the result models. The JSON form is the
contract of SPEC section 5; :func:`report_from_dict` reads it back (for resuming a batch and
merging shards), so a report survives a round trip unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

from grader.outputs.escaping import csv_row, md_code, md_escape, md_text, one_line
from grader.results import Adjustment, ItemResult, Outcome, PartResult, Report
from grader.rubric import Rubric

#: Version 2: the submission-level ``outcome`` ({kind, reason}) is a field, not prose in ``notes``.
SCHEMA = "adam-vs-momentum-report/2"
STATUS_MARK = {"passed": "✅", "partial": "🟡", "failed": "❌", "not_attempted": "⬜",
               "error": "💥", "timeout": "⏱️", "ungradable": "⚠️"}


def write_atomic(path: Path, data: str | bytes, *, durable: bool = True) -> None:
    """Write a file so that readers see the old content or the new one, never a mix.

    ``durable=False`` skips the fsync (about 3 ms of waiting per file): the rename still makes
    the write atomic for readers, but a power failure may lose the file or leave it empty.
    For files that a later run checks or rebuilds anyway (per-student reports, which a batch
    reuses only when they parse and match; exports rebuilt at the end of every batch).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # what open() would have given, not mkstemp's 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once, at import: os.umask is process-wide and not thread-safe


def _points(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


def report_to_dict(report: Report) -> dict:
    """The JSON form of a report (SPEC section 5)."""
    return {
        "schema": SCHEMA,
        "student": report.student,
        "outcome": {"kind": report.outcome.kind, "reason": report.outcome.reason},
        "submission": report.submission,
        "sha256": report.sha256,
        "total": _points(report.total),
        "max_total": _points(report.max_total),
        "parts": [{"id": p.id, "title": p.title, "points": _points(p.points),
                   "max_points": _points(p.max_points)} for p in report.parts],
        "items": [_item_dict(i) for i in report.items],
        "grader_version": report.grader_version,
        "rubric_sha256": report.rubric_sha256,
        "isolation": list(report.isolation),
        "notes": list(report.notes),
    }


def _item_dict(item: ItemResult) -> dict:
    data = {"id": item.id, "part": item.part, "title": item.title, "points": _points(item.points),
            "max_points": _points(item.max_points), "status": item.status,
            "feedback": list(item.feedback), "misconceptions": list(item.misconceptions)}
    if item.adjustment is not None:  # the instructor's override; points and status above are theirs
        data["adjustment"] = {"automatic_points": _points(item.adjustment.automatic_points),
                              "automatic_status": item.adjustment.automatic_status,
                              "reason": item.adjustment.reason}
    return data


def _adjustment(data: dict | None) -> Adjustment | None:
    if data is None:
        return None
    return Adjustment(float(data["automatic_points"]), data["automatic_status"], str(data["reason"]))


def report_from_dict(data: dict) -> Report:
    """Read a report back from its JSON form."""
    if data.get("schema") != SCHEMA:
        raise ValueError(f"not a report of schema {SCHEMA}")
    items = tuple(ItemResult(i["id"], i["part"], i["title"], float(i["points"]), float(i["max_points"]),
                             i["status"], tuple(i["feedback"]), tuple(i["misconceptions"]),
                             _adjustment(i.get("adjustment")))
                  for i in data["items"])
    parts = tuple(PartResult(p["id"], p["title"], float(p["points"]), float(p["max_points"]))
                  for p in data["parts"])
    outcome = Outcome(data["outcome"]["kind"], str(data["outcome"]["reason"]))
    return Report(data["student"], data["submission"], data["sha256"], items, parts,
                  data["grader_version"], tuple(data["isolation"]), tuple(data["notes"]),
                  outcome, str(data.get("rubric_sha256", "")))


def report_json(report: Report) -> str:
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"


def item_markdown(item: ItemResult) -> str:
    """One item's feedback as Markdown (also the Gradescope test output)."""
    lines = []
    if item.adjustment is not None:
        a = item.adjustment
        lines.append(f"- **Instructor adjustment:** {_points(item.points)} / {_points(item.max_points)} "
                     f"(automatic verdict: {_points(a.automatic_points)} / {_points(item.max_points)}, "
                     f"{a.automatic_status.replace('_', ' ')}). Reason: {md_text(a.reason)}")
    lines += [f"- {md_text(line)}" for line in item.feedback]
    if item.misconceptions:
        from grader.judging.misconceptions import CATALOGUE  # sympy: imported once there is a name to show

        names = ", ".join(CATALOGUE[m].title for m in item.misconceptions if m in CATALOGUE)
        lines.append(f"- **Misconceptions recognised:** {names}")
    return "\n".join(lines)


def report_markdown(report: Report) -> str:
    """The report for the student, in Markdown."""
    out = [f"# Adam vs. SGD with momentum: report for {md_text(report.student)}", "",
           f"**Total: {_points(report.total)} / {_points(report.max_total)}**", "",
           f"Submission: {md_code(report.submission, 300)} (sha256 {md_code(report.sha256[:12])})", ""]
    if report.notes:
        out += ["## Notes", ""] + [f"- {md_text(note)}" for note in report.notes] + [""]
    out += ["| Part | Points |", "|---|---|"]
    out += [f"| {p.id}. {p.title} | {_points(p.points)} / {_points(p.max_points)} |" for p in report.parts]
    out.append("")
    for part in report.parts:
        out += [f"## Part {part.id}: {part.title}", ""]
        for item in report.items:
            if item.part != part.id:
                continue
            mark = STATUS_MARK.get(item.status, "")
            adjusted = ", instructor adjustment" if item.adjustment is not None else ""
            out += [f"### {mark} {item.id}: {item.title} ({_points(item.points)} / "
                    f"{_points(item.max_points)}, {item.status.replace('_', ' ')}{adjusted})", ""]
            body = item_markdown(item)
            if body:
                out += [body, ""]
    out += ["---", f"Graded by adam-vs-momentum grader {report.grader_version}. "
            "Isolation layers: " + (", ".join(report.isolation) or "none") + "."]
    return "\n".join(out) + "\n"


def csv_columns(rubric: Rubric) -> list[str]:
    """Columns of grades.csv: ids, totals, parts, items, then status, misconceptions and the
    items an instructor overrode."""
    return (["student", "name", "submission", "sha256", "total", "max_total"]
            + [f"part_{p.id}" for p in rubric.parts] + [i.id for i in rubric.items]
            + ["status", "misconceptions", "overridden"])


def csv_cell(text: str) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula (OWASP's advice: a
    leading ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a ``'`` in front)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def grades_csv(reports: Iterable[Report], rubric: Rubric, names: Mapping[str, str] | None = None) -> str:
    """The class CSV, one row per submission, sorted by student id; ``name`` is the student's
    name where an LMS gradebook gives one (``names``), else empty."""
    names = names or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_columns(rubric))
    for report in sorted(reports, key=lambda r: r.student):
        parts = {p.id: p.points for p in report.parts}
        items = {i.id: i.points for i in report.items}
        misconceptions = sorted({m for i in report.items for m in i.misconceptions})
        writer.writerow([csv_cell(report.student), csv_cell(names.get(report.student, "")),
                         csv_cell(one_line(report.submission)), report.sha256, _points(report.total),
                         _points(report.max_total)]
                        + [_points(parts.get(p.id, 0.0)) for p in rubric.parts]
                        + [_points(items.get(i.id, 0.0)) for i in rubric.items]
                        + [overall_status(report), ";".join(misconceptions),
                           ";".join(i.id for i in report.items if i.adjustment is not None)])
    return buffer.getvalue()


def overall_status(report: Report) -> str:
    """One word for a submission: its outcome's kind (graded, not_run, unreadable, ungradable)."""
    return report.outcome.kind


def load_reports(folder: Path, *, skip: Iterable[str] = ()) -> list[Report]:
    """Every report JSON in ``folder`` (ignores other files), but those of the ``skip`` students."""
    skip = set(skip)
    reports = []
    for path in sorted(Path(folder).glob("*.json")):
        if path.stem in skip:
            continue
        try:
            reports.append(report_from_dict(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return reports
