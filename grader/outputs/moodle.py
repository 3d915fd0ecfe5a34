"""Moodle: a CSV for "Grades > Import > CSV file", keyed by a user identifier, with feedback.

Moodle's CSV grade import (docs.moodle.org "Grade import"; moodle/moodle
``grade/import/csv/classes/load_data.php``) takes any CSV with a header row: on the preview
page the instructor maps one column to a user field ("Map to": ``useremail``,
``useridnumber``, ``username`` or ``userid``) and the other columns to a grade item or to
"Feedback for <item>". A grade is a number (``-`` or empty means no grade); every row must
have as many fields as the header. Two consequences shape this file:

- a row whose identifier matches no Moodle user **aborts the whole import**, so rows are
  written only for students the roster maps (others are listed in ``moodle_unmatched.txt``);
- Moodle's documentation asks to import feedback together with its grade, so both columns
  are always filled.

Headers follow Moodle's own export (``Email address``, ``ID number``, ``Username``, then the
grade item and ``Feedback: <item>``). Without a roster the grader's student ids (taken from
file names) are written as the identifiers, and a notice says so.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from grader.errors import MoodleError
from grader.results import Report
from grader.outputs.base import ExportJob, Notice, points_text, write_file

IMPORT_FILE = "moodle_import.csv"
UNMATCHED_FILE = "moodle_unmatched.txt"
#: Identifier -> (header as in Moodle's export, the "Map to" choice on Moodle's import page).
IDENTIFIERS = {"email": ("Email address", "useremail"), "idnumber": ("ID number", "useridnumber"),
               "username": ("Username", "username")}
#: Header of the identifier column when no identifier was chosen.
STUDENT_ID_HEADER = "Student ID"


def read_roster(path: Path, identifier: str) -> dict[str, str]:
    """Student id (case-folded) -> Moodle identifier, from a CSV ``student_id,<identifier>``."""
    path = Path(path)
    header_name = IDENTIFIERS[identifier][0]
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise MoodleError(f"cannot read the Moodle roster {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise MoodleError(f"the Moodle roster {path} is not UTF-8 text") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise MoodleError(f"the Moodle roster {path} is empty")
    header = [cell.strip().casefold() for cell in rows[0]]
    wanted = {identifier, header_name.casefold()}
    try:
        sid = header.index("student_id")
        col = next(n for n, name in enumerate(header) if name in wanted)
    except (ValueError, StopIteration):
        raise MoodleError(f"the Moodle roster {path} needs the columns student_id,{identifier} "
                          f"(got {', '.join(rows[0]) or 'no header'})") from None
    roster: dict[str, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) <= max(sid, col) or not row[sid].strip():
            continue
        student, value = row[sid].strip(), row[col].strip()
        key = student.casefold()
        if key in roster and roster[key] != value:
            raise MoodleError(f"the Moodle roster {path} gives student {student} two identifiers "
                              f"({roster[key]!r} and {value!r}; line {line})")
        if value:
            roster[key] = value
    return roster


def feedback_text(report: Report, title: str) -> str:
    """Plain-text feedback: the total, one line per part, recognised misconceptions."""
    lines = [f"{title}: {points_text(report.total)} / {points_text(report.max_total)} points."]
    for part in report.parts:
        line = f"Part {part.id} ({part.title}): {points_text(part.points)} / {points_text(part.max_points)}"
        items = [i for i in report.items if i.part == part.id]
        statuses = sorted({i.status for i in items if i.status != "passed"},
                          key=lambda status: [i.status for i in items].index(status))
        if len(statuses) == 1 and all(i.status == statuses[0] for i in items):
            line += f" (every item {statuses[0].replace('_', ' ')})"
        elif statuses:
            line += " (" + "; ".join(f"{status.replace('_', ' ')}: " + ", ".join(i.id for i in items if i.status == status)
                                     for status in statuses) + ")"
        lines.append(line + ".")
    from grader.judging.misconceptions import CATALOGUE  # sympy: imported when used, not by the registry

    names = sorted({CATALOGUE[m].title for i in report.items for m in i.misconceptions if m in CATALOGUE})
    if names:
        lines.append("Misconceptions recognised: " + "; ".join(names) + ".")
    if report.notes:
        lines.append("Note: " + report.notes[0])
    return "\n".join(lines)


@dataclass(frozen=True)
class MoodleImport:
    """The import file and the submissions left out of it."""

    header: tuple[str, ...]
    text: str
    #: Identifier used per student id, in file order.
    rows: tuple[tuple[str, str], ...]
    #: Student ids the roster does not map (left out: Moodle would abort the import).
    not_in_roster: tuple[str, ...]
    #: Student ids the grader failed on (left out: a grade of 0 would be false).
    ungradable: tuple[str, ...]


def moodle_import(reports: Sequence[Report], *, identifier: str | None, title: str,
                  roster: Mapping[str, str] | None = None, ungradable: Sequence[str] = ()) -> MoodleImport:
    """The CSV for Moodle's grade import (see the module docstring).

    ``reports`` are the gradable reports; ``ungradable`` the ids of the others (listed, never
    exported), as :func:`grader.outputs.base.split_ungradable` separates them.
    """
    if identifier is not None and identifier not in IDENTIFIERS:
        raise MoodleError(f"the Moodle identifier must be one of {', '.join(IDENTIFIERS)}, got {identifier!r}")
    header = (IDENTIFIERS[identifier][0] if identifier else STUDENT_ID_HEADER, title, f"Feedback: {title}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    rows, missing = [], []
    for report in sorted(reports, key=lambda r: r.student):
        key = report.student if roster is None else roster.get(report.student.casefold())
        if not key:
            missing.append(report.student)
            continue
        writer.writerow([key, points_text(report.total), feedback_text(report, title)])
        rows.append((report.student, key))
    return MoodleImport(header, buffer.getvalue(), tuple(rows), tuple(missing), tuple(sorted(ungradable)))


def validate(options) -> None:
    """Check the identifier and the roster before grading starts."""
    identifier = options.get("identifier")
    if identifier is not None and identifier not in IDENTIFIERS:
        raise MoodleError(f"the Moodle identifier must be one of {', '.join(IDENTIFIERS)}, got {identifier!r}")
    if options.get("roster"):
        if identifier is None:
            raise MoodleError("a Moodle roster needs an identifier (--moodle-identifier email, idnumber or username)")
        read_roster(options["roster"], identifier)


def export(job: ExportJob) -> tuple[Notice, ...]:
    """``moodle_import.csv`` and ``moodle_unmatched.txt``, on every batch."""
    validate(job.options)
    identifier = job.options.get("identifier")
    roster = read_roster(job.options["roster"], identifier) if job.options.get("roster") else None
    title = job.options.get("item") or job.rubric.title or "Adam vs. SGD with momentum"
    result = moodle_import(job.reports, identifier=identifier, title=title, roster=roster,
                           ungradable=[r.student for r in job.ungradable])
    write_file(job.out, IMPORT_FILE, result.text)
    column = result.header[0]
    if roster is not None:
        how = (f'"{column}" holds each student\'s {identifier} from the roster; map it to '
               f'"{IDENTIFIERS[identifier][1]}" on Moodle\'s import page.')
    elif identifier:
        how = (f'No roster was given: "{column}" holds the grader\'s student ids (from the file names), '
               f"not Moodle {identifier}s. Import only if they are the students' {identifier}s, or "
               "pass --moodle-roster student_id,<identifier>.")
    else:
        how = (f'No Moodle identifier was chosen: "{column}" holds the grader\'s student ids (from the '
               "file names). Map it to the Moodle field they equal (often username or ID number), or "
               "rerun with --moodle-identifier and --moodle-roster.")
    lines = [f"{IMPORT_FILE}: {len(result.rows)} row(s). {how}",
             f'Map "{result.header[1]}" to the grade item and "{result.header[2]}" to its feedback.']
    unmatched = [f"Moodle grade import ({IMPORT_FILE}): {len(result.rows)} row(s).", how, ""]
    sections = [("Submissions the grader failed on (ungradable; left out, regrade them)", result.ungradable)]
    if roster is not None:
        sections.insert(0, ("Submissions not in the roster (left out: an unknown user aborts Moodle's import)",
                            result.not_in_roster))
    for title_, entries in sections:
        unmatched.append(f"{title_}: {len(entries)}")
        unmatched += [f"  {entry}" for entry in entries]
        unmatched.append("")
        if entries:
            lines.append(f"{title_}: " + "; ".join(entries))
    write_file(job.out, UNMATCHED_FILE, "\n".join(unmatched).rstrip("\n") + "\n")
    return (Notice("moodle", "Moodle grade import", tuple(lines)),)
