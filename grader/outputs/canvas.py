"""Canvas: fill the assignment column of the instructor's exported gradebook CSV.

The format is Canvas's own gradebook export, which its gradebook import reads back
(instructure/canvas-lms ``lib/gradebook_exporter.rb`` and ``lib/gradebook_importer.rb``):

- header: ``Student``, ``ID``, (``SIS User ID``), ``SIS Login ID``, (``Integration ID``),
  (``Root Account``), ``Section``, custom columns, then one column per assignment named
  ``Title (assignment id)``, then read-only totals (``Current Score``, ``Final Points``, ...);
- right under it, possibly a row marking assignments posted manually (every non-empty cell
  ``Manual Posting...`` or ``Muted``), then the ``    Points Possible`` row;
- one row per student; numbers with two decimals; ``,`` or (in decimal-comma locales) ``;``
  as the separator, optionally with a UTF-8 byte-order mark.

The import matches a row by Canvas user ``ID``, then ``SIS User ID``, then ``SIS Login ID``,
and ignores unchanged cells and read-only columns. So the safest import file is the export
itself with one column changed: :func:`canvas_import` keeps every row, every column, the
separator, the line endings and the byte-order mark, and only writes the total of each
matched student into the chosen assignment column. Students without a submission keep their
cell; they and the submissions that match no student are listed in ``canvas_unmatched.txt``.

CSV injection (see :mod:`grader.outputs.escaping`) is handled column by column, because
Canvas's importer compares every importable cell with what Canvas holds and uploads any
difference:

- cells the grader writes (the score cells of the chosen column) pass through
  :func:`~grader.outputs.escaping.csv_cell`; they are plain numbers, which it leaves as they are;
- the name columns (``Student``, or ``LastName`` / ``FirstName``) of student rows are text
  students influence (their Canvas display or sortable name) and get a leading ``'`` when they
  start like a formula. That changes nothing on import: Canvas finds a row's student by ``ID``,
  then ``SIS User ID``, then ``SIS Login ID``, never writes the name, and compares it with its
  students' names only for a row none of those ids resolve (``process_student`` in
  ``lib/gradebook_importer.rb``); such a row is listed as a student it could not match, never
  imported silently. Canvas's own export already writes a name starting with ``=`` as
  ``="..."`` (``student_name`` in ``lib/gradebook_exporter.rb``);
- every other cell is the instructor's (custom columns such as Notes, other assignments, the
  override columns, the ids, Section, Points Possible, the totals) and is written back
  byte for byte, quoting included: a ``'`` added to an importable cell would be uploaded as
  a change to that cell, and the id columns are what Canvas matches students by.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from grader.errors import CanvasError
from grader.results import Report
from grader.intake.names import canvas_student_of
from grader.outputs.base import ExportJob, Notice, same_student, write_file
from grader.outputs.escaping import csv_cell

IMPORT_FILE = "canvas_import.csv"
UNMATCHED_FILE = "canvas_unmatched.txt"
#: Without ``--canvas-column``, the one assignment column whose title starts with this.
DEFAULT_PREFIX = "Adam vs"
#: Columns a report's student id is compared with (case-insensitively): a student it finds in
#: one and another it finds in another is ambiguous. An id from a Canvas download's file name
#: is compared with ``ID`` alone (:func:`is_canvas_user_id`).
MATCH_COLUMNS = ("SIS Login ID", "SIS User ID", "ID")
#: Canvas's own test student ("Student View"); never reported as missing a submission.
TEST_STUDENT = "Student, Test"

#: The student's name: student-controlled text, never a key Canvas matches first or writes.
NAME_COLUMNS = ("Student", "LastName", "FirstName")
_STUDENT_INFO = ("Student", "LastName", "FirstName", "ID", "SIS User ID", "SIS Login ID",
                 "Integration ID", "Root Account", "Section")
_NON_ASSIGNMENT = re.compile(r"Current Score|Current Points|Current Grade|Final Score|Final Points|"
                             r"Final Grade|Override Score|Override Grade|Override Status")
_ASSIGNMENT = re.compile(r"^(?P<title>.*\S)\s*\((?P<id>\d+)\)$")
_READ_ONLY = re.compile(r"read\s+only", re.IGNORECASE)
_HIDDEN_ROW_CELL = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Gradebook:
    """A Canvas gradebook CSV, cell by cell, with what it takes to write it back the same way."""

    header: tuple[str, ...]
    #: Every row under the header, as read (Points Possible and posting rows included).
    rows: tuple[tuple[str, ...], ...]
    delimiter: str = ","
    newline: str = "\n"
    bom: bool = False
    #: The text of each record as read (header first), so unchanged rows are written back
    #: byte for byte; empty for a gradebook built in code.
    raw: tuple[str, ...] = ()

    def index(self, name: str) -> int | None:
        try:
            return self.header.index(name)
        except ValueError:
            return None

    def to_text(self, rows: Sequence[Sequence[str]] | None = None) -> str:
        """The CSV text with ``rows`` in place of the rows read. Every cell that did not change
        keeps its text as read (quoting included), and so does every unchanged record."""
        rows = self.rows if rows is None else rows
        out = ["\ufeff" if self.bom else ""]
        for n, row in enumerate([self.header, *rows]):
            original = self.header if n == 0 else (self.rows[n - 1] if n - 1 < len(self.rows) else None)
            raw = self.raw[n] if n < len(self.raw) else None
            if raw is not None and original is not None and tuple(row) == tuple(original):
                out.append(raw)
                continue
            text = None
            if raw is not None and original is not None:
                text = self._splice(raw, original, row)
            if text is None:
                buffer = io.StringIO()
                csv.writer(buffer, delimiter=self.delimiter, lineterminator=self.newline).writerow(row)
                text = buffer.getvalue()
                if raw is not None:  # keep the record's own line ending (none on a last line without one)
                    text = text[: -len(self.newline)] + raw[len(raw.rstrip("\r\n")):]
            out.append(text)
        return "".join(out)

    def _splice(self, raw: str, original: Sequence[str], row: Sequence[str]) -> str | None:
        """``raw`` (a record as read, whose cells are ``original``) with only the cells that
        differ in ``row`` rewritten; None when the record cannot be split with certainty."""
        body = raw.rstrip("\r\n")
        fields = _raw_fields(body, self.delimiter)
        if len(fields) != len(original) or len(row) < len(original):
            return None
        for n, value in enumerate(row):
            if n >= len(fields):
                fields.append(_field_text(value, self.delimiter))
            elif value != original[n]:
                fields[n] = _field_text(value, self.delimiter)
        text = self.delimiter.join(fields)
        try:
            parsed = next(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter), [])
        except csv.Error:
            return None
        if parsed != list(row):  # a split this reader would not make: write the whole record
            return None
        return text + raw[len(body):]


def _raw_fields(body: str, delimiter: str) -> list[str]:
    """The text of each field of one CSV record (without its line ending), split as
    :func:`csv.reader` splits it: a ``"`` opens a quoted field only as the field's first
    character, ``""`` inside one is a quote."""
    fields, start, quoted, at_start, i = [], 0, False, True, 0
    while i < len(body):
        char = body[i]
        if quoted:
            if char == '"':
                if body[i + 1:i + 2] == '"':
                    i += 2
                    continue
                quoted = False
        elif char == delimiter:
            fields.append(body[start:i])
            start, at_start, i = i + 1, True, i + 1
            continue
        elif char == '"' and at_start:
            quoted = True
        at_start = False
        i += 1
    fields.append(body[start:])
    return fields


def _field_text(value: str, delimiter: str) -> str:
    """One cell as :func:`csv.writer` writes it (quoted only when it has to be)."""
    if value == "":
        return ""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="").writerow([value])
    return buffer.getvalue()


def parse_gradebook(text: str, source: str = "the gradebook") -> Gradebook:
    """Read a gradebook CSV's text; :class:`CanvasError` says what is wrong with it."""
    bom = text.startswith("\ufeff")
    if bom:
        text = text[1:]
    newline = "\r\n" if "\r\n" in text else "\n"
    delimiter = _delimiter(text)
    lines = list(io.StringIO(text, newline=""))
    reader = csv.reader(iter(lines), delimiter=delimiter)
    table, raw, start = [], [], 0
    try:
        for row in reader:
            table.append(tuple(row))
            raw.append("".join(lines[start:reader.line_num]))
            start = reader.line_num
    except csv.Error as exc:
        raise CanvasError(f"{source} is not a valid CSV file: {exc}") from None
    if not table:
        raise CanvasError(f"{source} is empty")
    header = tuple(table[0])
    if not (len(header) > 3 and "Student" in header[0] and "ID" in header[1]) and header[:2] != ("LastName", "FirstName"):
        raise CanvasError(f"{source} does not look like a Canvas gradebook export: its first columns "
                          f"should be Student, ID, SIS User ID, SIS Login ID, Section (got "
                          f"{', '.join(header[:5]) or 'nothing'})")
    if "Section" not in header:
        raise CanvasError(f"{source} has no Section column; export the gradebook from Canvas again")
    return Gradebook(header, tuple(table[1:]), delimiter, newline, bom, tuple(raw))


def read_gradebook(path: Path) -> Gradebook:
    """Read a gradebook CSV file exported from Canvas."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CanvasError(f"cannot read the Canvas gradebook {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CanvasError(f"the Canvas gradebook {path} is not UTF-8 text; export it from Canvas "
                          "again (or save it as 'CSV UTF-8')") from None
    return parse_gradebook(text, f"the Canvas gradebook {path}")


def _delimiter(text: str) -> str:
    """``;`` when the first lines split into more, equally many fields with it (as Canvas decides)."""
    lines = text.splitlines()[:3]
    counts = {}
    for separator in (",", ";"):
        try:
            sizes = {len(next(csv.reader([line], delimiter=separator), [])) for line in lines}
        except csv.Error:
            sizes = set()
        counts[separator] = sizes.pop() if len(sizes) == 1 else 0
    return ";" if counts[";"] > counts[","] else ","


def assignment_columns(gradebook: Gradebook) -> list[str]:
    """Headers of the importable assignment columns (``Title (id)``, not read-only), in file order."""
    start = gradebook.header.index("Section") + 1
    possible = next((row for row in gradebook.rows if row and "Points Possible" in row[0]), ())
    return [name for n, name in enumerate(gradebook.header[start:], start)
            if _ASSIGNMENT.match(name) and not _NON_ASSIGNMENT.search(name)
            and not _READ_ONLY.search(_cell(possible, n))]


def choose_column(gradebook: Gradebook, wanted: str | None, prefix: str = DEFAULT_PREFIX) -> str:
    """The assignment column to fill: ``wanted`` as a full header, an assignment id or a title
    prefix; without it, the one column whose title starts with ``prefix``."""
    columns = assignment_columns(gradebook)
    listing = "; ".join(f'"{c}"' for c in columns) or "none"
    if wanted:
        wanted = wanted.strip()
        exact = [c for c in columns if c == wanted] or [c for c in columns if c.casefold() == wanted.casefold()]
        if len(exact) == 1:
            return exact[0]
        by_id = [c for c in columns if _ASSIGNMENT.match(c)["id"] == wanted.strip("()")]
        if len(by_id) == 1:
            return by_id[0]
        text, how = wanted, "--canvas-column"
    else:
        text, how = prefix, "the default prefix (use --canvas-column to choose)"
    found = [c for c in columns if _ASSIGNMENT.match(c)["title"].casefold().startswith(text.casefold())]
    if len(found) == 1:
        return found[0]
    if not found:
        raise CanvasError(f'no assignment column of the Canvas gradebook matches "{text}" ({how}); '
                          f"assignment columns: {listing}")
    raise CanvasError(f'{len(found)} assignment columns of the Canvas gradebook match "{text}" ({how}): '
                      + "; ".join(f'"{c}"' for c in found) + '; pass the full name, e.g. --canvas-column "'
                      + found[0] + '"')


def is_student_row(row: Sequence[str]) -> bool:
    """False for the Points Possible row, the Muted/Manual Posting row and blank lines."""
    if not row or "Points Possible" in row[0]:
        return False
    return not all(_HIDDEN_ROW_CELL.match(cell) for cell in row)


@dataclass(frozen=True)
class CanvasImport:
    """The import file and who could not be matched."""

    column: str
    text: str
    #: ``(student label, report id, value written)`` in gradebook order.
    filled: tuple[tuple[str, str, str], ...]
    #: Students of the gradebook with no graded submission (their cell is unchanged).
    without_submission: tuple[str, ...]
    #: Report ids that match no student of the gradebook.
    unmatched_reports: tuple[str, ...]
    #: Report ids the grader failed on (not exported; their cells are unchanged).
    ungradable: tuple[str, ...]
    #: Report ids that match several students, or a student another report matches too.
    ambiguous: tuple[str, ...]
    #: The Points Possible cell of the column ("" when the file has none).
    points_possible: str
    #: ``(report id, the gradebook's Student cell)`` of every filled row.
    names: tuple[tuple[str, str], ...] = ()


def canvas_import(gradebook: Gradebook, reports: Sequence[Report], column: str,
                  ungradable: Sequence[str] = ()) -> CanvasImport:
    """The gradebook with ``column`` filled with each matched student's total.

    ``reports`` are the gradable reports; ``ungradable`` the ids of the others (listed, never
    exported), as :func:`grader.outputs.base.split_ungradable` separates them.

    What is written back unchanged (see the module's docstring): every cell of the gradebook
    except the filled score cells (numbers, through :func:`csv_cell`) and, in student rows,
    a name cell (:data:`NAME_COLUMNS`) that starts like a formula, which gets a leading ``'``.
    Students are matched on the cells as read.
    """
    target = gradebook.index(column)
    if target is None:
        raise CanvasError(f'the Canvas gradebook has no column "{column}"')
    source = [list(row) for row in gradebook.rows]  # the cells as read: what is matched and labelled
    students = [n for n, row in enumerate(source) if is_student_row(row)]
    rows = [list(row) for row in source]  # what is written
    name_columns = [i for name in NAME_COLUMNS if (i := gradebook.index(name)) is not None]
    for n in students:  # student-controlled text: no formula a spreadsheet would run
        for i in name_columns:
            if i < len(rows[n]):
                rows[n][i] = csv_cell(rows[n][i])
    lookup: dict[str, dict[str, list[int]]] = {}
    for kind in MATCH_COLUMNS:
        index = gradebook.index(kind)
        if index is None:
            continue
        table: dict[str, list[int]] = {}
        for n in students:
            value = _cell(source[n], index).strip().casefold()
            if value:
                table.setdefault(value, []).append(n)
        lookup[kind] = table

    claims: dict[int, list[Report]] = {}
    unmatched, ambiguous = [], []
    for report in sorted(reports, key=lambda r: r.student):
        key = report.student.strip().casefold()
        # an id read from a Canvas download's file name is a Canvas user id: the ID column's
        # alone (a student number in SIS User ID may be the same digits)
        kinds = ("ID",) if is_canvas_user_id(report) else MATCH_COLUMNS
        hits = {kind: lookup[kind].get(key, []) for kind in kinds if kind in lookup}
        found = {n for candidates in hits.values() for n in candidates}
        if not found:
            unmatched.append(report.student)
        elif any(len(candidates) > 1 for candidates in hits.values()):
            ambiguous.append(f"{report.student} (matches several students)")
        elif len(found) > 1:
            ambiguous.append(f"{report.student} (matches different students by "
                             f"{' and '.join(kind for kind, candidates in hits.items() if candidates)})")
        else:
            claims.setdefault(found.pop(), []).append(report)

    filled, matched = [], []
    for n in students:
        claimants = claims.get(n, [])
        if len(claimants) > 1:
            ambiguous.extend(same_student(r.student, [o.student for o in claimants if o is not r])
                             for r in claimants)
        elif claimants:
            value = f"{claimants[0].total:.2f}"  # as Canvas exports numbers
            if gradebook.delimiter == ";":  # a decimal-comma locale; Canvas reads both
                value = value.replace(".", ",")
            value = str(csv_cell(value))  # the grader's text: a number, which stays one
            row = rows[n]
            row.extend([""] * (target + 1 - len(row)))
            row[target] = value
            filled.append((_label(gradebook, source[n]), claimants[0].student, value))
            matched.append((claimants[0].student, _cell(source[n], 0).strip()))
    filled_rows = {n for n, c in claims.items() if len(c) == 1}
    without = tuple(_label(gradebook, source[n]) for n in students
                    if n not in filled_rows and _cell(source[n], 0) != TEST_STUDENT)
    points = next((_cell(row, target) for row in source if row and "Points Possible" in row[0]), "")
    return CanvasImport(column, gradebook.to_text(rows), tuple(filled), without, tuple(unmatched),
                        tuple(sorted(ungradable)), tuple(sorted(ambiguous)), points.strip(), tuple(matched))


def is_canvas_user_id(report: Report) -> bool:
    """Whether the report's student id was read from a Canvas "Download Submissions" file name
    (``lastfirst_12345_67890_adam_vs_momentum.py``, in a folder or a zip), and so is a Canvas
    user id."""
    name = re.split(r"[/\\:]", report.submission)[-1]
    return canvas_student_of(name) == report.student


def student_names(options, reports: Sequence[Report]) -> dict[str, str]:
    """Report id -> the student's name in the Canvas gradebook (``Student`` column), for the
    reports the gradebook matches; empty without a gradebook."""
    if not options or not options.get("gradebook"):
        return {}
    gradebook = read_gradebook(options["gradebook"])
    result = canvas_import(gradebook, [r for r in reports if not r.ungradable],
                           choose_column(gradebook, options.get("column")))
    return {student: name for student, name in result.names if name}


def _cell(row: Sequence[str], index: int) -> str:
    return row[index] if index < len(row) else ""


def _label(gradebook: Gradebook, row: Sequence[str]) -> str:
    ids = [f"{kind} {_cell(row, i)}" for kind in ("ID", "SIS User ID", "SIS Login ID")
           if (i := gradebook.index(kind)) is not None and _cell(row, i)]
    name = _cell(row, 0) or "(no name)"
    return f"{name} ({', '.join(ids)})" if ids else name


def points_mismatch(result: CanvasImport, max_total: float) -> str | None:
    """A warning when Canvas's Points Possible differs from the rubric's total."""
    try:
        possible = float(result.points_possible.replace(",", "."))
    except ValueError:
        return None
    if abs(possible - max_total) < 1e-9:
        return None
    return (f'Canvas says "{result.column}" is worth {result.points_possible} points, the rubric '
            f"{max_total:g}; the import holds raw rubric points out of {max_total:g}. Change the "
            "assignment's points in Canvas or rescale before importing.")


def unmatched_text(result: CanvasImport, warning: str | None = None) -> str:
    """The content of canvas_unmatched.txt."""
    lines = [f"Canvas gradebook import: column \"{result.column}\"",
             f"Filled for {len(result.filled)} student(s).", ""]
    if warning:
        lines += [f"WARNING: {warning}", ""]
    sections = (
        ("Students without a graded submission (cell left unchanged)", result.without_submission),
        ("Submissions that match no student of the gradebook (by SIS Login ID, SIS User ID or ID)",
         result.unmatched_reports),
        ("Submissions the grader failed on (ungradable; not exported, regrade them)", result.ungradable),
        ("Submissions with an ambiguous match (not exported)", result.ambiguous),
    )
    for title, entries in sections:
        lines.append(f"{title}: {len(entries)}")
        lines += [f"  {entry}" for entry in entries]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------
# The exporter
# ---------------------------------------------------------------------------

def validate(options) -> None:
    """Check the gradebook and the column before grading starts."""
    if options.get("gradebook"):
        choose_column(read_gradebook(options["gradebook"]), options.get("column"))


def export(job: ExportJob) -> tuple[Notice, ...]:
    """``canvas_import.csv`` and ``canvas_unmatched.txt`` (only when a gradebook is given).

    Without a gradebook, those files left by an earlier run into the same folder are removed,
    with a notice: they hold that run's grades, which this run may have changed (a resubmission,
    a deleted input), and an instructor would import them as current."""
    if not job.options.get("gradebook"):
        stale = [name for name in (IMPORT_FILE, UNMATCHED_FILE) if (job.out / name).is_file()]
        for name in stale:
            (job.out / name).unlink()
        if not stale:
            return ()
        line = (f"Removed {' and '.join(stale)} of an earlier run: they held that run's grades. "
                f"Pass --canvas-gradebook to write the Canvas import for these grades.")
        return (Notice("canvas", "Canvas gradebook import", (line,), f"Canvas: {line}"),)
    gradebook = read_gradebook(job.options["gradebook"])
    column = choose_column(gradebook, job.options.get("column"))
    result = canvas_import(gradebook, job.reports, column, [r.student for r in job.ungradable])
    warning = points_mismatch(result, job.rubric.total_points)
    write_file(job.out, IMPORT_FILE, result.text)
    write_file(job.out, UNMATCHED_FILE, unmatched_text(result, warning))
    lines = [f"{IMPORT_FILE}: filled for {len(result.filled)} student(s); details in {UNMATCHED_FILE}."]
    if warning:
        lines.append(f"WARNING: {warning}")
    for title, entries in (("Students without a graded submission (cell unchanged)", result.without_submission),
                           ("Submissions matching no student", result.unmatched_reports),
                           ("Ungradable submissions (not exported)", result.ungradable),
                           ("Ambiguous matches (not exported)", result.ambiguous)):
        if entries:
            lines.append(f"{title}: " + "; ".join(entries))
    students = len(result.filled) + len(result.without_submission)
    not_matched = len(result.unmatched_reports) + len(result.ambiguous)
    status = (f"Canvas: {job.out / IMPORT_FILE} ({column}): {len(result.filled)} of {students} gradebook "
              f"student(s) filled, {len(result.without_submission)} without a submission; "
              f"{not_matched} submission(s) matched no student"
              + (f", {len(result.ungradable)} ungradable" if result.ungradable else "")
              + f" (see {UNMATCHED_FILE})" + (" -- WARNING: points differ, see that file" if warning else ""))
    return (Notice("canvas", f'Canvas gradebook import, column "{column}"', tuple(lines), status),)
