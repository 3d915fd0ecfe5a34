"""Moodle: a CSV for "Grades > Import > CSV file", keyed by a user identifier, with feedback.

Moodle's CSV grade import (docs.moodle.org "Grade import"; moodle/moodle
``grade/import/csv/classes/load_data.php``) takes any CSV with a header row: on the preview
page the instructor maps one column to a user field ("Map to": ``useremail``,
``useridnumber``, ``username`` or ``userid``) and the other columns to a grade item or to
"Feedback for <item>". A grade is a number (``-`` or empty means no grade); every row must
have as many fields as the header. Two consequences shape this file:

- a row whose identifier matches no Moodle user **aborts the whole import**, so rows are
  written only for students the roster maps (others are listed in ``moodle_unmatched.txt``);
- rows are processed in order, so two rows for one user would leave whichever comes last:
  two submissions the roster maps to one identifier (``ada.py`` and ``20190001.py``, her ID
  number) are both left out and listed, "(same student as ...)", as the Canvas export does;
- Moodle's documentation asks to import feedback together with its grade, so both columns
  are always filled.

Headers follow Moodle's own export (``Email address``, ``ID number``, ``Username``, then the
grade item and ``Feedback: <item>``). Without a roster the grader's student ids (taken from
file names) are written as the identifiers, and a notice says so.

CSV injection. Moodle finds each row's user by an exact database lookup of the identifier cell
(``check_user_exists``: only surrounding white space is trimmed, a leading ``'`` is kept), so
the identifier column is written **exactly** as the roster (or, without one, the grader) has
it: an ID number ``-0042x``, a username ``-ann`` or ``@ann``, an e-mail ``+ann@example.edu``
prefixed with ``'`` would match nobody and abort the whole import. Those values come from the
instructor's roster (Moodle's own data), not from submissions, and the grader's own student
ids never start with ``= + - @`` (see :func:`grader.intake.names.student_id`). A notice lists
identifiers a spreadsheet would read as formulas. Every other cell goes through
:func:`grader.outputs.escaping.csv_cell` as in every CSV the grader writes: the header, the
grade (a plain number, left as it is) and the feedback, which quotes text a student chose.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from grader.errors import MoodleError
from grader.results import Report
from grader.outputs.base import ExportJob, Notice, points_text, same_student, write_file
from grader.outputs.escaping import csv_cell, csv_row, html_text, one_line

IMPORT_FILE = "moodle_import.csv"
UNMATCHED_FILE = "moodle_unmatched.txt"
#: Identifier -> (header as in Moodle's export, the "Map to" choice on Moodle's import page).
IDENTIFIERS = {"email": ("Email address", "useremail"), "idnumber": ("ID number", "useridnumber"),
               "username": ("Username", "username")}
#: Header of the identifier column when no identifier was chosen.
STUDENT_ID_HEADER = "Student ID"


#: Name columns of Moodle's participants download (Participants > select all > "Download table
#: data as" CSV): ``First name``, ``Last name`` (``Surname`` in older Moodle), then the site's
#: identity fields by their display names (``Email address``, ``ID number``, ``Username``, ...).
PARTICIPANT_NAMES = ("first name", "last name", "surname")


@dataclass(frozen=True)
class Roster:
    """Who is in the Moodle course, and how a grader student id finds their identifier."""

    #: Case-folded key (a student id, or for a participants export every form a file name
    #: may take: the identifier, the e-mail's local part, username, ID number) -> identifier.
    keys: Mapping[str, str]
    #: ``(label for the instructor, identifier)`` of every student in the roster, in file order.
    people: tuple[tuple[str, str], ...]


def load_roster(path: Path, identifier: str) -> Roster:
    """A roster CSV: either ``student_id,<identifier>`` (made by hand) or Moodle's own
    participants download (``First name``, ``Last name``, ``Email address``, ...), where each
    grader student id is matched with a participant's identifier, e-mail (or its part before
    the ``@``), username or ID number; a key two participants share matches nobody.

    A hand-made roster that gives one student two identifiers, or one identifier (compared
    case-insensitively, as Moodle compares e-mails and usernames) to two students, is a
    :class:`MoodleError`: Moodle would get two rows for one user."""
    from grader.intake.submissions import student_id

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
    col = next((n for n, name in enumerate(header) if name in wanted), None)
    if col is None or ("student_id" not in header and not set(header) & set(PARTICIPANT_NAMES)):
        raise MoodleError(f"the Moodle roster {path} needs the columns student_id,{identifier}, or must be "
                          f"Moodle's participants download with an \"{header_name}\" column "
                          f"(got {', '.join(rows[0]) or 'no header'})")
    if "student_id" in header:
        sid = header.index("student_id")
        keys: dict[str, str] = {}
        owners: dict[str, tuple[str, int]] = {}  # case-folded identifier -> (student, line)
        people = []
        for line, row in enumerate(rows[1:], start=2):
            if len(row) <= max(sid, col) or not row[sid].strip():
                continue
            student, value = row[sid].strip(), row[col].strip()
            key = student.casefold()
            if key in keys and keys[key] != value:
                raise MoodleError(f"the Moodle roster {path} gives student {student} two identifiers "
                                  f"({keys[key]!r} and {value!r}; line {line})")
            owner, first = owners.setdefault(value.casefold(), (student, line)) if value else (student, line)
            if owner.casefold() != key:
                raise MoodleError(f"the Moodle roster {path} gives the {identifier} {value!r} to two students "
                                  f"({owner} and {student}; lines {first} and {line}): Moodle would get two "
                                  "rows for one user; keep one")
            if value and key not in keys:
                keys[key] = value
                people.append((student, value))
        return Roster(keys, tuple(people))
    names = [n for n, name in enumerate(header) if name in PARTICIPANT_NAMES]
    extra = [n for n, name in enumerate(header) if name in ("email address", "username", "id number")]
    found: dict[str, set[str]] = {}
    people = []
    for row in rows[1:]:
        value = row[col].strip() if col < len(row) else ""
        if not value:
            continue
        full_name = " ".join(row[n].strip() for n in names if n < len(row) and row[n].strip())
        label = full_name or value
        people.append((f"{label} ({value})", value))
        # the full name too: a Moodle download names each student's folder after it
        # (moodle_download_name); a name two participants share matches nobody, as any key
        forms = {value} | ({full_name} if full_name else set())
        for n in extra:
            cell = row[n].strip() if n < len(row) else ""
            if cell:
                forms |= {cell, cell.split("@")[0]} if "@" in cell else {cell}
        for form in forms | {student_id(f) for f in forms}:
            found.setdefault(form.casefold(), set()).add(value)
    keys = {key: next(iter(values)) for key, values in found.items() if len(values) == 1}
    return Roster(keys, tuple(people))


def roster_identifier(roster: Mapping[str, str], student: str) -> str | None:
    """The Moodle identifier ``roster`` gives the grader's ``student`` id: by the id itself, or,
    for a Moodle download's id (``Ada_Lovelace_123_assignsubmission_file``), by the full name
    in it (:func:`grader.intake.names.moodle_download_name`)."""
    from grader.intake.names import moodle_download_name

    found = roster.get(student.casefold())
    if found is None:
        name = moodle_download_name(student)
        found = roster.get(name.casefold()) if name else None
    return found


def read_roster(path: Path, identifier: str) -> dict[str, str]:
    """Student id (case-folded) -> Moodle identifier (see :func:`load_roster`)."""
    return dict(load_roster(path, identifier).keys)


def feedback_text(report: Report, title: str) -> str:
    """The feedback comment: the total, one line per part, recognised misconceptions.

    Moodle shows feedback comments as HTML, so every line is HTML-escaped (a note quotes file
    and member names a student chose); the lines stay apart (Moodle's text format turns line
    breaks into breaks)."""
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
    for item in report.items:
        if item.adjustment is not None:
            lines.append(f"Instructor adjustment, {item.id}: {points_text(item.points)} / "
                         f"{points_text(item.max_points)} (automatic: {points_text(item.adjustment.automatic_points)})"
                         f". {item.adjustment.reason}")
    if report.notes:
        lines.append("Note: " + one_line(report.notes[0], 500))
    return "\n".join(html_text(line) for line in lines)


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
    #: ``(identifier, student ids)`` of every identifier two or more submissions are mapped to
    #: (all of them left out: Moodle would keep whichever row comes last), in file order.
    shared: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def ambiguous(self) -> tuple[str, ...]:
        """"<student id> (same student as <others>; <identifier>)" per submission of :attr:`shared`."""
        return tuple(sorted(same_student(student, [s for s in students if s != student], key)
                            for key, students in self.shared for student in students))


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
    writer.writerow(csv_row(header))
    rows, missing = [], []
    keyed: list[tuple[Report, str]] = []
    claims: dict[str, list[str]] = {}  # case-folded identifier -> the student ids mapped to it
    for report in sorted(reports, key=lambda r: r.student):
        key = report.student if roster is None else roster_identifier(roster, report.student)
        if not key:
            missing.append(report.student)
            continue
        keyed.append((report, key))
        claims.setdefault(key.casefold(), []).append(report.student)
    shared: dict[str, tuple[str, ...]] = {}
    for report, key in keyed:
        students = claims[key.casefold()]
        if len(students) > 1:  # two rows for one user: Moodle would keep the last one, by sort order
            shared.setdefault(key.casefold(), (key, tuple(students)))
            continue
        # The identifier verbatim: Moodle matches it exactly (module docstring); the rest escaped.
        writer.writerow([key, *csv_row([points_text(report.total), feedback_text(report, title)])])
        rows.append((report.student, key))
    return MoodleImport(header, buffer.getvalue(), tuple(rows), tuple(missing), tuple(sorted(ungradable)),
                        tuple(shared.values()))


def formula_identifiers(result: MoodleImport) -> tuple[str, ...]:
    """The identifiers written verbatim that a spreadsheet would read as formulas."""
    return tuple(key for _, key in result.rows if csv_cell(key) != key)


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
    loaded = load_roster(job.options["roster"], identifier) if job.options.get("roster") else None
    roster = dict(loaded.keys) if loaded is not None else None
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
               "pass --moodle-roster (Moodle's participants download, or a student_id,<identifier> CSV).")
    else:
        how = (f'No Moodle identifier was chosen: "{column}" holds the grader\'s student ids (from the '
               "file names). Map it to the Moodle field they equal (often username or ID number), or "
               "rerun with --moodle-identifier and --moodle-roster.")
    lines = [f"{IMPORT_FILE}: {len(result.rows)} row(s). {how}",
             f'Map "{result.header[1]}" to the grade item and "{result.header[2]}" to its feedback.']
    unmatched = [f"Moodle grade import ({IMPORT_FILE}): {len(result.rows)} row(s).", how, ""]
    formulas = formula_identifiers(result)
    if formulas:
        warning = (f'{len(formulas)} identifier(s) in "{column}" start with =, +, - or @ ('
                   + ", ".join(one_line(key, 80) for key in formulas[:5]) + (", ..." if len(formulas) > 5 else "")
                   + "): they are written exactly as given, since Moodle matches them exactly. "
                   "Upload the file as it is; a spreadsheet would read them as formulas.")
        lines.append(warning)
        unmatched += [warning, ""]
    sections = [("Submissions the grader failed on (ungradable; left out, regrade them)", result.ungradable),
                ("Submissions mapped to the same Moodle user as another (left out: Moodle would keep "
                 "whichever row comes last; keep one submission, or fix the roster)", result.ambiguous)]
    without = ()
    if loaded is not None:
        used = {roster_identifier(roster, s) for s in [*(r.student for r in job.reports), *result.ungradable]}
        without = tuple(label for label, value in loaded.people if value not in used)
        sections.insert(0, ("Submissions not in the roster (left out: an unknown user aborts Moodle's import)",
                            result.not_in_roster))
        sections.insert(1, ("Students of the roster without a submission (no row: their grade is unchanged)",
                            without))
    for title_, entries in sections:
        unmatched.append(f"{title_}: {len(entries)}")
        unmatched += [f"  {entry}" for entry in entries]
        unmatched.append("")
        if entries:
            lines.append(f"{title_}: " + "; ".join(entries))
    write_file(job.out, UNMATCHED_FILE, "\n".join(unmatched).rstrip("\n") + "\n")
    ambiguous = len(result.ambiguous)
    left_out = len(result.not_in_roster) + len(result.ungradable) + len(without) + ambiguous
    status = (f"Moodle: {job.out / IMPORT_FILE}: {len(result.rows)} row(s)"
              + (f" matched in the roster, {len(result.not_in_roster)} submission(s) not in it, "
                 f"{len(without)} roster student(s) without a submission"
                 if roster is not None else " keyed by the grader's student ids (no roster)")
              + (f", {len(result.ungradable)} ungradable left out" if result.ungradable else "")
              + (f", {ambiguous} submission(s) left out as the same student as another ("
                 + "; ".join(f"{' and '.join(students)}: {key}" for key, students in result.shared[:3])
                 + ("; ..." if len(result.shared) > 3 else "") + ")" if ambiguous else "")
              + (f" (see {UNMATCHED_FILE})" if left_out else ""))
    return (Notice("moodle", "Moodle grade import", tuple(lines), status),)
