"""What every exporter shares: the job it is given, the notices it gives back, how it writes.

An exporter is a plain function ``export(job: ExportJob) -> tuple[Notice, ...]``. It writes
files inside ``job.out`` only, through :func:`write_file`, and returns notices: what the
instructor should know about the export (students without a submission, identifiers that
are guesses, ...). The class summary, which runs last, lists every notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from grader.outputs.reports import write_atomic
from grader.results import Report
from grader.rubric import Rubric


@dataclass(frozen=True)
class Notice:
    """Something an exporter wants the instructor to know (shown in the class summary)."""

    #: Which exporter says it ("canvas", "moodle", ...).
    source: str
    #: One line.
    title: str
    #: Details, one entry per line (plain text).
    lines: tuple[str, ...] = ()
    #: One line for the terminal at the end of a run: where the exporter's file is and how
    #: many rows it matched ("" when there is nothing to say there).
    status: str = ""


@dataclass(frozen=True)
class ExportJob:
    """Everything one exporter gets."""

    #: The output folder; an exporter writes inside it only.
    out: Path
    #: The reports that carry a grade (every outcome but ``ungradable``), sorted by student id.
    reports: tuple[Report, ...]
    rubric: Rubric
    #: This exporter's own options (from the command line).
    options: Mapping
    #: Notices of the exporters that ran before this one.
    notices: tuple[Notice, ...] = ()
    #: The reports the grader failed on, sorted by student id: no grade may be exported for
    #: them (split off once, by :func:`split_ungradable`, before any exporter runs).
    ungradable: tuple[Report, ...] = ()
    #: Student id -> name, where an LMS gradebook gives one.
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def all_reports(self) -> tuple[Report, ...]:
        """Every report of the batch, sorted by student id."""
        return tuple(sorted(self.reports + self.ungradable, key=lambda r: r.student))


def split_ungradable(reports) -> tuple[tuple[Report, ...], tuple[Report, ...]]:
    """``(gradable, ungradable)`` reports, each sorted by student id: the one place where the
    exports learn which submissions must not get a grade (by the typed outcome)."""
    ordered = sorted(reports, key=lambda r: r.student)
    return (tuple(r for r in ordered if r.outcome.kind != "ungradable"),
            tuple(r for r in ordered if r.outcome.kind == "ungradable"))


def write_file(out: Path, relative: str | Path, data: str | bytes, *, durable: bool = True) -> Path:
    """Write ``out/relative`` atomically, leaving it untouched when it already holds ``data``.

    Leaving identical files alone keeps their modification times, so regrading one student
    does not look like every export changed. ``relative`` must stay inside ``out``.
    ``durable``: as for :func:`~grader.outputs.reports.write_atomic`.
    """
    out = Path(out)
    path = out / relative
    if not path.resolve().is_relative_to(out.resolve()):
        raise ValueError(f"refusing to write outside the output folder: {relative}")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if path.is_file() and not path.is_symlink() and path.read_bytes() == payload:
            return path
    except OSError:
        pass
    write_atomic(path, payload, durable=durable)
    return path


def remove_file(out: Path, relative: str | Path) -> None:
    """Remove an export of ours that is no longer true (never anything outside ``out``)."""
    out = Path(out)
    path = out / relative
    if not path.resolve().is_relative_to(out.resolve()):
        raise ValueError(f"refusing to remove outside the output folder: {relative}")
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def points_text(value: float) -> str:
    """Points as people write them: ``15``, ``12.5``, ``0.25``."""
    value = round(float(value), 4)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def same_student(student: str, others: Sequence[str], identifier: str | None = None) -> str:
    """How an export lists a submission left out because other submissions map to the same
    LMS user: ``"<student> (same student as <others>)"``, or with the LMS ``identifier`` they
    share, ``"<student> (same student as <others>; <identifier>)"``. ``others`` are the other
    submissions' student ids, in the order given."""
    shared = ", ".join(others) + (f"; {identifier}" if identifier is not None else "")
    return f"{student} (same student as {shared})"
