"""Instructor overrides: one item of one student, new points and a reason, in a plain CSV file.

A regrade request, an alternative derivation accepted by hand, an academic-integrity
decision: each is one row of ``overrides.csv`` (in the output folder by default, or any file
passed with ``grade --overrides FILE``)::

    student,item,points,reason
    alice,1f,1,derivation accepted by hand

An optional fifth column, ``sha256``, records the submission an override was made for (the
``sha256`` of the student's report). ``grader override DIR ...`` fills it in from
``DIR/reports/<student>.json``; an override whose recorded sha256 differs from the current
report's is not applied (the student resubmitted: the instructor's decision was about another
file) and is listed by :func:`changed_since` instead. An override without it (written by hand,
an older file, or ``grader override`` on a ``.csv`` kept outside an output folder) applies to
whatever the student submitted, as before. The column is written only when some override has
a sha256, so files without one keep their four-column layout.

Rows are kept sorted (by student, then in rubric order) and written with a fixed layout, so
the file reviews and diffs well in version control; it is the instructor's record, never
rewritten by grading. nbgrader and Otter keep manual grades in a database; here they are
text an instructor can read, review and version.

:func:`apply_overrides` is pure: it first restores every item's automatic verdict (so an
override deleted from the file is undone on the next run), then applies the overrides of
that student. An overridden item keeps its automatic feedback and records the automatic
points and status in :class:`~grader.results.Adjustment`; its ``points`` are the
instructor's, so totals, parts and every export follow.

An override of an item the rubric does not have, points outside 0..max, a missing reason or
the same item of the same student twice is an :class:`~grader.errors.OverrideError`, and so is
a sha256 that is not 64 hexadecimal digits.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from grader.errors import OverrideError

__all__ = ["FILE_NAME", "Override", "OverrideError", "apply_overrides", "automatic_item", "changed_since",
           "check", "load_overrides", "made_for", "merge_overrides", "overrides_path", "overrides_text",
           "parse_overrides", "parse_points", "read_overrides", "unused", "with_override", "without_override"]
from grader.results import Adjustment, ItemResult, Report, item_status
from grader.rubric import Rubric

#: The overrides file inside an output folder.
FILE_NAME = "overrides.csv"
HEADER = ("student", "item", "points", "reason")
#: The optional fifth column: the sha256 of the submission the override was made for.
SHA_COLUMN = "sha256"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_HEXISH = re.compile(r"[0-9a-f]{8,}")


@dataclass(frozen=True)
class Override:
    """One instructor decision: ``student``'s item ``item`` is worth ``points``, because ``reason``."""

    student: str
    item: str
    points: float
    reason: str
    #: sha256 of the submission the override was made for; "" applies to any submission.
    sha256: str = ""


def overrides_path(target: Path) -> Path:
    """The overrides file of ``target``: the file itself when it is a ``.csv``, else
    ``target/overrides.csv`` (an output folder)."""
    target = Path(target)
    return target if target.suffix.lower() == ".csv" else target / FILE_NAME


def parse_points(text: str) -> float:
    """Points as typed by an instructor (``1``, ``0.5``, ``0,5``)."""
    try:
        value = float(str(text).strip().replace(",", "."))
    except ValueError:
        raise OverrideError(f"points must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise OverrideError(f"points must be a finite number, got {text!r}")
    return round(value, 4)


def check(override: Override, rubric: Rubric) -> Override:
    """``override`` when its item exists and its points lie in 0..max; else :class:`OverrideError`."""
    if not override.student.strip():
        raise OverrideError("an override needs a student id")
    try:
        item = rubric.item(override.item)
    except KeyError:
        known = ", ".join(i.id for i in rubric.items)
        raise OverrideError(f"there is no rubric item {override.item!r} (items: {known})") from None
    if not 0 <= override.points <= item.points + 1e-9:
        raise OverrideError(f"item {item.id} is worth 0 to {item.points:g} points; "
                            f"{override.points:g} is outside that range")
    if not override.reason.strip():
        raise OverrideError(f"the override of {override.student}'s item {item.id} needs a reason (--why)")
    if override.sha256 and not _SHA256.fullmatch(override.sha256):
        raise OverrideError(f"the sha256 of the override of {override.student}'s item {item.id} must be "
                            f"64 hexadecimal digits (got {override.sha256!r}), or empty")
    return override


def _order(rubric: Rubric):
    rank = {item.id: n for n, item in enumerate(rubric.items)}
    return lambda o: (o.student, rank.get(o.item, len(rank)), o.item)


def parse_overrides(text: str, rubric: Rubric, source: str = "the overrides file") -> tuple[Override, ...]:
    """Every override in the CSV ``text``, checked (see the module docstring)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return ()
    header = tuple(cell.strip().casefold() for cell in rows[0])
    if header[:4] != HEADER:
        raise OverrideError(f"{source} must start with the header {','.join(HEADER)} (got {','.join(rows[0])})")
    with_sha = header[4:5] == (SHA_COLUMN,)
    found: dict[tuple[str, str], int] = {}
    overrides = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) < 4:
            raise OverrideError(f"{source}, line {line}: expected student,item,points,reason")
        student, item, points = (cell.strip() for cell in row[:3])
        reason, sha = _reason_and_sha(row, with_sha)
        try:
            override = check(Override(student, item, parse_points(points), reason, sha), rubric)
        except OverrideError as exc:
            raise OverrideError(f"{source}, line {line}: {exc}") from None
        key = (student, item)
        if key in found:
            raise OverrideError(f"{source}: {student}'s item {item} is overridden twice "
                                f"(lines {found[key]} and {line})")
        found[key] = line
        overrides.append(override)
    return tuple(sorted(overrides, key=_order(rubric)))


def _reason_and_sha(row: Sequence[str], with_sha: bool) -> tuple[str, str]:
    """The reason and the sha256 of a row. Without the sha256 column every cell after the
    points is the reason (an unquoted comma typed by hand). With it, the last cell is the
    sha256 when it is empty or looks like a digest; otherwise it is still part of the reason
    (a row added by hand without the column)."""
    last = row[-1].strip().lower() if with_sha and len(row) >= 5 else None
    if last is not None and (not last or _HEXISH.fullmatch(last)):
        return ",".join(row[3:-1]).strip(), last
    return ",".join(row[3:]).strip(), ""


def read_overrides(path: Path, rubric: Rubric) -> tuple[Override, ...]:
    """The overrides in ``path`` (none when the file does not exist)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise OverrideError(f"cannot read the overrides file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise OverrideError(f"the overrides file {path} is not UTF-8 text") from None
    return parse_overrides(text, rubric, f"the overrides file {path}")


def load_overrides(paths: Iterable[Path], rubric: Rubric) -> tuple[Override, ...]:
    """The overrides of several files together (each read in turn), as :func:`merge_overrides`
    combines them."""
    return merge_overrides(((path, read_overrides(path, rubric)) for path in paths), rubric)


def merge_overrides(files: Iterable[tuple[Path, Sequence[Override]]], rubric: Rubric) -> tuple[Override, ...]:
    """The overrides of several files together, from ``(path, its overrides)`` pairs in order;
    the same item of a student in two files with different points or reasons is an error
    (one decision, one home). Pure; ``files`` is taken one pair at a time, so a conflict is
    raised before the pairs after it are produced."""
    merged: dict[tuple[str, str], tuple[Override, Path]] = {}
    for path, overrides in files:
        for override in overrides:
            key = (override.student, override.item)
            if key in merged and merged[key][0] != override:
                raise OverrideError(f"{override.student}'s item {override.item} is overridden differently "
                                    f"in {merged[key][1]} and {path}; keep one")
            merged[key] = (override, Path(path))
    return tuple(sorted((o for o, _ in merged.values()), key=_order(rubric)))


def overrides_text(overrides: Sequence[Override], rubric: Rubric) -> str:
    """The file's text: the header, then one row per override in a fixed order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    with_sha = any(o.sha256 for o in overrides)
    writer.writerow(HEADER + ((SHA_COLUMN,) if with_sha else ()))
    for o in sorted(overrides, key=_order(rubric)):
        writer.writerow([o.student, o.item, _points(o.points), " ".join(o.reason.split())]
                        + ([o.sha256] if with_sha else []))
    return buffer.getvalue()


def with_override(overrides: Sequence[Override], new: Override) -> tuple[Override, ...]:
    """``overrides`` with ``new`` added, replacing an earlier override of the same item."""
    return tuple(o for o in overrides if (o.student, o.item) != (new.student, new.item)) + (new,)


def without_override(overrides: Sequence[Override], student: str, item: str) -> tuple[Override, ...]:
    """``overrides`` without the one of ``student``'s ``item``; :class:`OverrideError` if none."""
    kept = tuple(o for o in overrides if (o.student, o.item) != (student, item))
    if len(kept) == len(overrides):
        raise OverrideError(f"there is no override of {student}'s item {item} to remove")
    return kept


def automatic_item(item: ItemResult) -> ItemResult:
    """The item as the grader judged it, without any instructor adjustment."""
    if item.adjustment is None:
        return item
    return dataclasses.replace(item, points=item.adjustment.automatic_points,
                               status=item.adjustment.automatic_status, adjustment=None)


def _adjusted(item: ItemResult, override: Override) -> ItemResult:
    points = float(override.points)
    same = abs(points - item.points) < 1e-9
    status = item.status if same else item_status(points, item.max_points, set())
    return dataclasses.replace(item, points=points, status=status,
                               adjustment=Adjustment(item.points, item.status, override.reason))


def apply_overrides(report: Report, overrides: Sequence[Override]) -> Report:
    """``report`` with this student's overrides applied to its automatic verdicts (pure).

    An ungradable report is left as it is: there is no automatic verdict to adjust, and a
    grade must not look final before the grader has run on the submission. An override made
    for another submission (see :func:`made_for`) is not applied either.
    """
    from grader.results import PartResult

    mine = {o.item: o for o in overrides if o.student == report.student and made_for(o, report)}
    items = tuple(automatic_item(item) for item in report.items)
    if mine and not report.ungradable:
        items = tuple(_adjusted(item, mine[item.id]) if item.id in mine else item for item in items)
    if items == report.items:
        return report
    parts = tuple(PartResult(p.id, p.title, round(sum(i.points for i in items if i.part == p.id), 6),
                             p.max_points) for p in report.parts)
    return dataclasses.replace(report, items=items, parts=parts)


def unused(overrides: Sequence[Override], reports: Sequence[Report]) -> tuple[Override, ...]:
    """Overrides that changed nothing: no report of that student, or the report is ungradable."""
    gradable = {r.student for r in reports if not r.ungradable}
    return tuple(o for o in overrides if o.student not in gradable)


def made_for(override: Override, report: Report) -> bool:
    """Whether ``override`` applies to ``report``'s submission: it records none (written by
    hand), or the one it records is the report's."""
    return not override.sha256 or override.sha256 == report.sha256.lower()


def changed_since(overrides: Sequence[Override], reports: Sequence[Report]) -> tuple[str, ...]:
    """One line per override not applied because the student's gradable report is of another
    submission than the one the override was made for (a resubmission)."""
    gradable = {r.student: r for r in reports if not r.ungradable}
    return tuple(f"{o.student} {o.item} ({_points(o.points)} points: {o.reason}): not applied: the submission "
                 f"changed since the override was made (made for sha256 {o.sha256[:12]}, now "
                 f"{gradable[o.student].sha256[:12]}); re-check it and run `grader override` again"
                 for o in overrides if o.student in gradable and not made_for(o, gradable[o.student]))


def _points(value: float) -> str:
    value = round(float(value), 4)
    return str(int(value)) if value.is_integer() else f"{value:g}"
