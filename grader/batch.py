"""Grading a batch: discover, grade in parallel sandboxed workers, write every output.

Reports are written one by one as they are finished (atomically), so an interrupted batch
resumes where it stopped: a report whose submission digest, grader version and rubric
digest still match is kept as it is. Class-level files are rebuilt from all the reports in
the output folder at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from grader import __version__
from grader.errors import GraderError, InputError
from grader.outputs.reports import (grades_csv, load_reports, report_from_dict, report_json, report_markdown,
                      write_atomic)
from grader.results import Report
from grader.rubric import DEFAULT_RUBRIC, Rubric, load_rubric
from grader.sandbox.manager import LAYER_PURPOSES, Isolation, Sandbox
from grader.intake.submissions import Submission, discover


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch."""

    out: Path
    workers: int = 2
    rubric_path: Path = DEFAULT_RUBRIC
    only: tuple[str, ...] = ()
    shard: tuple[int, int] | None = None
    progress: bool = True
    namespaces: bool = True
    #: Extra exports: name -> options (see :mod:`grader.outputs`).
    exports: dict = field(default_factory=dict)
    #: Where to write per-submission grading times (CSV), for benchmarks; None: nowhere.
    timings: Path | None = None
    #: Write the summary and the LMS exports (the Gradescope autograder, which grades one
    #: submission per container, needs neither).
    class_exports: bool = True


@dataclass(frozen=True)
class BatchResult:
    """What a batch did."""

    reports: tuple[Report, ...]
    graded: int
    reused: int
    seconds: float
    isolation: Isolation


def rubric_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def select_shard(submissions: Sequence[Submission], shard: tuple[int, int] | None) -> list[Submission]:
    """The deterministic slice ``i/n`` of a batch (by sorted student id), 1-based ``i``."""
    ordered = sorted(submissions, key=lambda s: s.student)
    if shard is None:
        return ordered
    index, count = shard
    return [s for k, s in enumerate(ordered) if k % count == index - 1]


def _reusable(path: Path, submission: Submission, digest: str) -> Report | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        report = report_from_dict(data)
    except (ValueError, KeyError, TypeError):
        return None
    if (report.sha256 != submission.sha256 or report.grader_version != __version__
            or report.rubric_sha256 != digest or report.submission != submission.origin
            or report.student != submission.student):
        return None
    return None if report.ungradable else report


def warn_isolation(isolation: Isolation, stream=sys.stderr) -> None:
    """Say loudly, once, which isolation layers are missing."""
    if isolation.complete:
        return
    lines = ["", "!" * 78, "WARNING: the sandbox runs WITHOUT these isolation layers:"]
    lines += [f"  - {layer}: {LAYER_PURPOSES[layer]}" for layer in isolation.missing]
    lines += [f"  ({w})" for w in isolation.warnings]
    lines += ["Grades are still computed the same way; student code is less contained.", "!" * 78, ""]
    print("\n".join(lines), file=stream)


def grade_batch(paths: Sequence[Path], options: BatchOptions,
                on_report: Callable[[Report], None] | None = None) -> BatchResult:
    """Grade every submission under ``paths`` into ``options.out``."""
    started = time.monotonic()
    rubric = load_rubric(options.rubric_path)
    digest = rubric_digest(options.rubric_path)
    out = Path(options.out)
    reports_dir = out / "reports"
    submissions = select_shard(discover(paths), options.shard)
    if options.only:
        wanted = set(options.only)
        submissions = [s for s in submissions if s.student in wanted]
        missing = wanted - {s.student for s in submissions}
        if missing:
            raise InputError(f"no submission for --only {', '.join(sorted(missing))}")
    done: list[Report] = []
    todo: list[Submission] = []
    for sub in submissions:
        old = None if options.only else _reusable(reports_dir / f"{sub.student}.json", sub, digest)
        (done.append(old) if old else todo.append(sub))
    reused = len(done)
    hide = {str(out.resolve())} | {str(Path(p).resolve().parent if Path(p).is_file() else Path(p).resolve())
                                   for p in paths}
    isolation = Isolation((), ())
    if todo:
        sandbox = Sandbox(rubric.limits, namespaces=options.namespaces, hide=hide)
        sandbox.launch()  # the zygote warms up while the judging machinery is imported and built
        try:
            from grader.judging.items import Judging

            judging = Judging.create(rubric)
            isolation = sandbox.wait_ready()
            warn_isolation(isolation)
            done += _grade_all(judging, sandbox, todo, options, reports_dir, digest, on_report)
        finally:
            sandbox.close()
    # Reports of this batch are in memory already; read only the others (--only, earlier runs).
    others = load_reports(reports_dir, skip=(r.student for r in done))
    write_class_files(out, others + done, rubric, options)
    return BatchResult(tuple(sorted(done, key=lambda r: r.student)), len(done) - reused, reused,
                       time.monotonic() - started, isolation)


def _grade_all(judging, sandbox: Sandbox, todo: list[Submission], options: BatchOptions,
               reports_dir: Path, digest: str, on_report) -> list[Report]:
    from grader.chunk import grade_submissions

    times: dict[str, float] = {}
    progress = _progress(len(todo), options.progress)

    def finished(report: Report, seconds: float) -> None:
        write_report(reports_dir, report)
        times[report.student] = seconds
        if on_report:
            on_report(report)
        progress.update(1)

    results = grade_submissions(judging, sandbox, todo, slots=range(max(1, options.workers)),
                                rubric_sha256=digest, on_report=finished)
    progress.close()
    write_timings(options.timings, times)
    return results


def write_timings(path: Path | None, times: dict[str, float]) -> None:
    """Each submission's grading seconds as CSV (benchmarks); nothing when ``path`` is None."""
    if path:
        write_atomic(Path(path), "student,seconds\n" + "".join(
            f"{student},{seconds:.6f}\n" for student, seconds in sorted(times.items())))


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="submission", desc="Grading", disable=not enabled,
                file=sys.stderr, dynamic_ncols=True)


def write_report(reports_dir: Path, report: Report) -> None:
    """The student's JSON and Markdown reports."""
    write_atomic(reports_dir / f"{report.student}.json", report_json(report))
    write_atomic(reports_dir / f"{report.student}.md", report_markdown(report))


def write_class_files(out: Path, reports: list[Report], rubric: Rubric, options: BatchOptions) -> None:
    """grades.csv, the summary and the LMS exports, from every report of the batch."""
    write_atomic(out / "grades.csv", grades_csv(reports, rubric))
    if not options.class_exports:
        return
    from grader.outputs import write_exports

    write_exports(out, reports, rubric, options.exports)


def merge_outputs(shards: Sequence[Path], options: BatchOptions) -> list[Report]:
    """Combine the output folders of ``grade --shard`` runs into ``options.out``.

    Copies every shard's reports (byte for byte) and rebuilds the class files from all of
    them, so the result is the same as one run over the whole batch would have written.
    """
    rubric = load_rubric(options.rubric_path)
    out = Path(options.out)
    merged: dict[str, tuple[Report, Path]] = {}
    for shard in shards:
        folder = Path(shard) / "reports"
        if not folder.is_dir():
            raise InputError(f"{shard} has no reports/ folder: is it a grading output folder?")
        for report in load_reports(folder):
            if report.student in merged and merged[report.student][0].sha256 != report.sha256:
                raise InputError(f"student {report.student!r} appears in {merged[report.student][1]} and "
                                  f"{shard} with different submissions")
            merged[report.student] = (report, Path(shard))
    for student, (_, shard) in sorted(merged.items()):
        for suffix in (".json", ".md"):
            source = Path(shard) / "reports" / f"{student}{suffix}"
            write_atomic(out / "reports" / source.name, source.read_bytes())
    reports = [report for report, _ in merged.values()]
    write_class_files(out, reports, rubric, options)
    return sorted(reports, key=lambda r: r.student)


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)
