"""Grading a batch: discover, grade in parallel sandboxed workers, write every output.

Reports are written one by one as they are finished (atomically), so an interrupted batch
resumes where it stopped: a report whose submission digest, grader version and rubric
digest still match is kept as it is. Class-level files are rebuilt at the end from the
reports of the inputs of this run: a report left in the folder by an input that is gone, or
one this run did not grade (``--only``) whose submission, rubric or grader version no longer
matches, is named loudly and exported nowhere. Every input that is not graded is listed,
with its reason, on stderr and in ``skipped.txt``; ``manifest.json`` records, for
``merge``, which reports the run exported. A full disk ends the run with one error;
rerunning the same command resumes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import queue
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from grader import __version__
from grader.errors import GraderError, InputError, OutputError
from grader.intake.names import display_name
from grader.outputs.reports import (grades_csv, load_reports, report_from_dict, report_json, report_markdown,
                                    write_atomic)
from grader.overrides import FILE_NAME as OVERRIDES_FILE, apply_overrides, load_overrides, unused
from grader.results import Report
from grader.rubric import DEFAULT_RUBRIC, Rubric, load_rubric
from grader.sandbox.config import image_for
from grader.sandbox.manager import LAYER_PURPOSES, Isolation, Sandbox
from grader.intake.submissions import DEFAULT_LIMITS, IntakeLimits, Skipped, Submission, find_submissions

#: The list of inputs that were not graded (and of reports whose input is gone), in ``out``.
SKIPPED_FILE = "skipped.txt"
#: What a run exported (student -> submission sha256), what it left out and why, with the
#: rubric digest and grader version: written last by every grade and merge run; ``merge``
#: takes from a folder only the reports it lists.
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = 1
#: Why a report whose input is gone is left out (skipped.txt's "Reports whose input ...").
GONE = "its input is not in this run"


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
    #: Where to write per-submission grading times (CSV), for benchmarks; None: nowhere. The
    #: trusted side's CPU seconds (this process and the trusted processes) go beside it, in
    #: the same name with the suffix ``.cpu.json``.
    timings: Path | None = None
    #: Trusted processes that judge and write reports: 0, one per worker; 1, all in this one.
    processes: int = 0
    #: Write the summary and the LMS exports (the Gradescope autograder, which grades one
    #: submission per container, needs neither).
    class_exports: bool = True
    #: An overrides file kept outside the output folder, applied with ``out/overrides.csv``
    #: (see :mod:`grader.overrides`).
    overrides: Path | None = None
    #: Grade on this Dask scheduler ("tcp://host:8786"), or on a new local cluster of N
    #: worker processes ("local:N"); None: on this machine (see :mod:`grader.cluster`).
    dask: str | None = None
    #: Zips named on the command line hold a whole class (one submission per top-level folder
    #: or file), not one student's files; Canvas's own download zip is recognised without it.
    class_archive: bool = False
    #: Caps on entries per archive and folder and on submissions per batch.
    limits: IntakeLimits = DEFAULT_LIMITS


@dataclass(frozen=True)
class BatchResult:
    """What a batch did."""

    reports: tuple[Report, ...]
    graded: int
    reused: int
    seconds: float
    isolation: Isolation
    #: What the exporters want the instructor to know (files, matched rows), in run order.
    notices: tuple = ()
    #: Inputs that were not graded, with the reason.
    skipped: tuple[Skipped, ...] = ()
    #: Students whose report is in the output folder but whose input is not in this run
    #: (left out of grades.csv and every export).
    stale: tuple[str, ...] = ()
    #: (student, why) of reports this run did not grade (``--only``, another shard) whose
    #: submission, rubric or grader version no longer matches (left out of every export).
    outdated: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MergeResult:
    """What a merge did."""

    reports: tuple[Report, ...]
    notices: tuple = ()
    #: (student, why) of reports in the shards that were not merged (exported nowhere).
    left_out: tuple[tuple[str, str], ...] = ()
    #: What the merge warned about (also printed), e.g. a shard folder without a manifest.
    warnings: tuple[str, ...] = ()
    #: How many overrides of the shards the merge added to ``out/overrides.csv``.
    carried: int = 0


def rubric_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def select_shard(submissions: Sequence[Submission], shard: tuple[int, int] | None) -> list[Submission]:
    """The deterministic slice ``i/n`` of a batch (by sorted student id), 1-based ``i``."""
    ordered = sorted(submissions, key=lambda s: s.student)
    if shard is None:
        return ordered
    index, count = shard
    return [s for k, s in enumerate(ordered) if k % count == index - 1]


def outdated_reason(report: Report, submission: Submission, digest: str) -> str | None:
    """Why ``report`` is not the current grade of ``submission`` under the rubric of sha256
    ``digest`` and this grader version; None when it is."""
    if report.student != submission.student or report.submission != submission.origin:
        return f"graded from another file ({display_name(report.submission)})"
    if report.sha256 != submission.sha256:
        return "its submission changed since it was graded"
    if report.rubric_sha256 != digest:
        return f"graded with another rubric (sha256 {report.rubric_sha256[:12] or 'unknown'}, now {digest[:12]})"
    if report.grader_version != __version__:
        return f"graded by grader version {report.grader_version} (this is {__version__})"
    return None


def _reusable(path: Path, submission: Submission, digest: str) -> Report | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if path.with_suffix(".md").stat().st_size == 0:  # reports are not fsynced one by one
            return None
    except (OSError, ValueError):
        return None
    try:
        report = report_from_dict(data)
    except (ValueError, KeyError, TypeError):
        return None
    if outdated_reason(report, submission, digest):
        return None
    return None if report.ungradable else report


def known_students(submissions: Sequence[Submission], shown: int = 30) -> str:
    """"the submissions are: a, b, ..." for an error message (at most ``shown`` ids)."""
    ids = sorted({s.student for s in submissions})
    if not ids:
        return "no submission was found at all"
    listed = ", ".join(ids[:shown]) + (f", ... ({len(ids)} in all)" if len(ids) > shown else "")
    return f"the students are: {listed}"


#: Without both, a worker can read whatever the instructor's uid can: the reference, the
#: other submissions, the output folder (grades are exposed). Without no_capabilities, root of
#: a user namespace can undo the mounts that hide them.
EXPOSING = (("private_mounts", "landlock"), ("no_capabilities",), ("separate_process",))


def exposes_grades(isolation: Isolation) -> bool:
    """Whether the missing layers let student code reach the reference or other grades."""
    missing = set(isolation.missing)
    return any(set(group) <= missing for group in EXPOSING)


def isolation_warning(isolation: Isolation) -> str:
    """What to say about missing isolation layers: nothing, one line (the usual ordinary-user
    setup, grades still protected), or a loud block (a mode that leaves grades exposed)."""
    if isolation.complete:
        return ""
    where = 'the README, section "Sandbox"'
    if not exposes_grades(isolation):
        return (f"note: isolation layers not available here: {', '.join(isolation.missing)} "
                f"(grades are protected by the others; {where} explains each)")
    lines = ["", "!" * 78, "WARNING: the sandbox runs WITHOUT these isolation layers:"]
    lines += [f"  - {layer}: {LAYER_PURPOSES[layer]}" for layer in isolation.missing]
    lines += [f"  ({w})" for w in isolation.warnings]
    lines += ["Student code may read the reference solution and other students' files and grades.",
              f"Grades are computed the same way. See {where}.", "!" * 78, ""]
    return "\n".join(lines)


def warn_isolation(isolation: Isolation, stream=sys.stderr) -> None:
    """Say once which isolation layers are missing (see :func:`isolation_warning`)."""
    text = isolation_warning(isolation)
    if text:
        print(text, file=stream)


def grade_batch(paths: Sequence[Path], options: BatchOptions,
                on_report: Callable[[Report], None] | None = None, stream=None) -> BatchResult:
    """Grade every submission under ``paths`` into ``options.out``.

    Raises :class:`InputError` before grading for a path that does not exist or an output
    folder that is a file, and :class:`OutputError` when the output cannot be written (the
    reports written so far stay; a rerun resumes). Warnings go to ``stream`` (stderr).
    """
    stream = stream or sys.stderr
    started = time.monotonic()
    rubric = load_rubric(options.rubric_path)
    digest = rubric_digest(options.rubric_path)
    out = Path(options.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {display_name(str(out))} is a file; name a folder (new, or one of an earlier run)")
    overrides = load_overrides(override_files(out, options), rubric)  # a bad one fails before grading
    reports_dir = out / "reports"
    intake = find_submissions(paths, class_archive=options.class_archive, limits=options.limits)
    in_batch = {s.student for s in intake.submissions}
    if not intake.submissions:
        warn_empty(paths, stream)
    submissions = everyone = select_shard(intake.submissions, options.shard)
    if options.only:
        wanted = set(options.only)
        submissions = [s for s in submissions if s.student in wanted]
        missing = wanted - {s.student for s in submissions}
        if missing:
            raise InputError(f"no submission for --only {', '.join(sorted(missing))}; "
                             f"{known_students(everyone)}")
    done: list[Report] = []
    todo: list[Submission] = []
    for sub in submissions:
        old = None if options.only else _reusable(reports_dir / f"{sub.student}.json", sub, digest)
        (done.append(old) if old else todo.append(sub))
    reused = len(done)
    hide = {str(out.resolve())} | {str(Path(p).resolve().parent if Path(p).is_file() else Path(p).resolve())
                                   for p in paths}
    isolation = Isolation((), ())
    children_before = _cpu_seconds(resource.RUSAGE_CHILDREN)
    trusted_children = 0.0
    painter = None  # the summary's chart painter, forked as the sandbox boots
    try:
        if todo and options.dask:
            graded, isolation = _grade_on_cluster(todo, rubric, options, reports_dir, digest, on_report)
            done += graded
        elif todo:
            sandbox = Sandbox(rubric.limits, namespaces=options.namespaces, hide=hide)
            # the zygotes warm up while the judging machinery is imported and built
            sandbox.launch({image_for(sub.source) for sub in todo})
            try:
                if options.class_exports:  # no thread runs yet: a fork is safe
                    from grader.outputs.summary import start_painter

                    painter = start_painter()
                from grader.judging.items import Judging

                judging = Judging.create(rubric)
                # while the zygote boots; before the trusted processes fork, which share it
                warm_up(judging, templates=trusted_processes(options, len(todo)) > 1
                        and len(todo) > TEMPLATE_WARM_UP_AFTER)
                isolation = sandbox.wait_ready()
                warn_isolation(isolation)
                done += _grade_all(judging, sandbox, todo, options, reports_dir, digest, on_report)
                # the trusted processes (reaped by now), not the zygote (still running)
                trusted_children = _cpu_seconds(resource.RUSAGE_CHILDREN) - children_before
            finally:
                sandbox.close()
        # Reports of this batch are in memory already; read only the others (--only, earlier runs),
        # and export only those whose input is still in the batch and that are still its grade.
        others, stale, outdated = current_others(load_reports(reports_dir, skip=(r.student for r in done)),
                                                 intake.submissions, digest)
        report_skipped(intake.skipped, stale, stream, outdated, regrade_hint(options))
        with _writing(out):
            write_atomic(out / SKIPPED_FILE, skipped_text(intake.skipped, stale, outdated))
            final = finish_reports(reports_dir, others + done, overrides)
            notices = write_class_files(out, final, rubric, options, overrides, painter)
            write_manifest(out, final, digest, intake.skipped, stale, outdated)
        if options.timings:
            write_atomic(Path(options.timings).with_suffix(".cpu.json"), json.dumps({
                "trusted_cpu_seconds": round(_cpu_seconds(resource.RUSAGE_SELF) + trusted_children, 3),
                "grader_process_cpu_seconds": round(_cpu_seconds(resource.RUSAGE_SELF), 3),
                "trusted_processes": trusted_processes(options, len(todo)) if todo else 0}) + "\n")
        mine = {r.student for r in done}
        return BatchResult(tuple(sorted((r for r in final if r.student in mine), key=lambda r: r.student)),
                           len(done) - reused, reused, time.monotonic() - started, isolation, notices,
                           intake.skipped, stale, outdated)
    finally:
        if painter is not None:  # one that was not used (an error on the way) leaves now
            painter.close()


def current_others(others: Sequence[Report], submissions: Sequence[Submission],
                   digest: str) -> tuple[list[Report], tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Split the reports a run did not grade itself into (the ones still current, the students
    whose input is gone, (student, why) of the ones whose submission, rubric or grader version
    no longer matches their input): only the first are exported."""
    by_student = {s.student: s for s in submissions}
    current, stale, outdated = [], [], []
    for report in others:
        submission = by_student.get(report.student)
        if submission is None:
            stale.append(report.student)
            continue
        why = outdated_reason(report, submission, digest)
        (outdated.append((report.student, why)) if why else current.append(report))
    return current, tuple(sorted(stale)), tuple(sorted(outdated))


def regrade_hint(options: BatchOptions) -> str:
    """How to grade the out-of-date reports a run left out."""
    if options.only:
        return ("this run grades only the --only students; grade them again: rerun without --only "
                "(or add --only STUDENT for each)")
    if options.shard:
        return (f"they are not in shard {options.shard[0]}/{options.shard[1]}: the run of their own "
                "shard grades them")
    return "grade them again"


def write_manifest(out: Path, reports: Sequence[Report], digest: str, skipped: Sequence[Skipped],
                   stale: Sequence[str], outdated: Sequence[tuple[str, str]]) -> None:
    """``manifest.json``: which reports the class files of ``out`` were built from (the last
    file a run writes), and which reports in ``reports/`` were left out and why."""
    write_atomic(Path(out) / MANIFEST_FILE, json.dumps({
        "format": MANIFEST_FORMAT, "grader_version": __version__, "rubric_sha256": digest,
        "exported": {r.student: r.sha256 for r in sorted(reports, key=lambda r: r.student)},
        "stale": sorted(stale), "outdated": dict(sorted(outdated)),
        "skipped": [[s.path, s.reason] for s in skipped]}, indent=1, ensure_ascii=False) + "\n")


def override_files(out: Path, options: BatchOptions, extra: Sequence[Path] = ()) -> list[Path]:
    """The overrides files of a batch: the output folder's own, ``--overrides``, then ``extra``."""
    return [Path(out) / OVERRIDES_FILE, *([options.overrides] if options.overrides else []), *extra]


def finish_reports(reports_dir: Path, reports: Sequence[Report], overrides) -> list[Report]:
    """Every report with the current overrides applied (reports are graded and written
    without them); a report file whose content changes (an override added, changed or
    removed) is rewritten."""
    final = []
    for report in reports:
        adjusted = apply_overrides(report, overrides)
        if adjusted != report:
            write_report(reports_dir, adjusted)
        final.append(adjusted)
    return final


@contextmanager
def _writing(out: Path):
    """Turns a failed write under ``out`` (disk full, read-only) into one :class:`OutputError`."""
    try:
        yield
    except OSError as exc:
        raise output_error(exc, out) from None


def output_error(exc: OSError, out: Path) -> OutputError:
    where = display_name(exc.filename) if getattr(exc, "filename", None) else display_name(str(out))
    return OutputError(f"cannot write {where}: {exc.strerror or exc}. The reports written so far are "
                       "kept; free some space (or fix the output folder) and rerun the same command "
                       "to resume")


def warn_empty(paths: Sequence[Path], stream) -> None:
    """Say loudly that there was nothing to grade."""
    shown = ", ".join(display_name(str(p)) for p in paths) or "(no paths)"
    print("\n".join(["", "!" * 78, f"WARNING: no submissions found in {shown}.",
                     "Nothing was graded; see the list of skipped inputs below (and in "
                     f"{SKIPPED_FILE} in the output folder).", "!" * 78, ""]), file=stream)


def skipped_text(skipped: Sequence[Skipped], stale: Sequence[str],
                 outdated: Sequence[tuple[str, str]] = ()) -> str:
    """The content of skipped.txt: every input not graded, with its reason, stale reports and
    out-of-date reports (the last section only when there are some)."""
    lines = [f"Inputs that were not graded: {len(skipped)}"]
    lines += [f"  {display_name(s.path)}: {display_name(s.reason, 500)}" for s in skipped]
    lines += ["", f"Reports whose input is not in this run (left out of grades.csv and every export; "
                  f"delete them from reports/ or grade their input again): {len(stale)}"]
    lines += [f"  reports/{student}.json" for student in stale]
    if outdated:
        lines += ["", "Reports out of date, not graded by this run (left out of grades.csv and every export; "
                      f"grade them again: rerun without --only, or run their own shard): {len(outdated)}"]
        lines += [f"  reports/{student}.json: {display_name(why, 500)}" for student, why in outdated]
    return "\n".join(lines) + "\n"


def report_skipped(skipped: Sequence[Skipped], stale: Sequence[str], stream,
                   outdated: Sequence[tuple[str, str]] = (), hint: str = "grade them again") -> None:
    """Name every input that was not graded, every stale and every out-of-date report, on ``stream``."""
    if skipped:
        print(f"Not graded ({len(skipped)} input(s); listed in {SKIPPED_FILE}):", file=stream)
        for entry in skipped:
            print(f"  {display_name(entry.path)}: {display_name(entry.reason, 500)}", file=stream)
    if stale:
        print(f"WARNING: {len(stale)} report(s) in the output folder belong to inputs that are not in this "
              f"run; they are left out of grades.csv and every export: {', '.join(stale)}", file=stream)
    if outdated:
        print(f"WARNING: {len(outdated)} report(s) in the output folder are out of date (their submission, "
              f"rubric or grader version changed) and were not graded by this run; they are left out of "
              f"grades.csv and every export ({hint}; listed in {SKIPPED_FILE}):", file=stream)
        for student, why in outdated:
            print(f"  {student}: {display_name(why, 500)}", file=stream)


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _grade_all(judging, sandbox: Sandbox, todo: list[Submission], options: BatchOptions,
               reports_dir: Path, digest: str, on_report) -> list[Report]:
    from grader.chunk import grade_submissions

    times: dict[str, float] = {}
    progress = []

    def start_threads() -> None:
        """The progress bar (tqdm's monitor thread): never before a fork."""
        progress.append(_progress(len(todo), options.progress))

    def record(report: Report, seconds: float) -> None:
        times[report.student] = seconds
        if on_report:
            on_report(report)
        progress[0].update(1)

    stop = threading.Event()  # set once a report cannot be written: the rest is not graded

    def finished(report: Report, seconds: float) -> None:
        if stop.is_set():
            return
        try:
            write_report(reports_dir, report)
        except OutputError:
            stop.set()
            raise
        record(report, seconds)

    try:
        slots = range(max(1, options.workers))
        processes = trusted_processes(options, len(todo))
        if processes > 1:
            results = _grade_in_processes(judging, sandbox, todo, slots, processes, reports_dir, digest, record,
                                          forked=start_threads)
        else:
            start_threads()
            results = grade_submissions(judging, sandbox, todo, slots=slots, rubric_sha256=digest,
                                        on_report=finished, stop=stop)
    except BaseException:
        if progress:
            progress[0].leave = False  # close() erases the bar: nothing is drawn after "interrupted"
        raise
    finally:
        if progress:
            progress[0].close()
    with _writing(Path(options.timings or ".")):
        write_timings(options.timings, times)
    return results


def trusted_processes(options: BatchOptions, count: int) -> int:
    """How many trusted processes grade ``count`` submissions (one per worker by default)."""
    wanted = options.processes if options.processes > 0 else options.workers
    return max(1, min(wanted, options.workers, count))


def _grade_in_processes(judging, sandbox: Sandbox, todo: list[Submission], slots: Sequence[int],
                        processes: int, reports_dir: Path, digest: str,
                        record: Callable[[Report, float], None],
                        forked: Callable[[], None] | None = None) -> list[Report]:
    """Grade ``todo`` in ``processes`` trusted processes forked from this one, all sharing its
    judging (built, and warmed up, once before the fork) and its sandbox, each with worker
    slots of its own.

    Each process judges, renders and writes the reports of the submissions it is handed and
    sends back their JSON form; this process only hands out work (one submission at a time,
    one more than the process has slots, so that none waits) and collects. The reports are
    the same as in one process: judging is pure, and the caches that each process fills for
    itself change no verdict (tests/test_optimisations.py). A process that dies costs the
    submissions it held an ``ungradable`` report each, never the batch. ``forked`` runs once
    every process is forked (this process may start threads from then on).
    """
    import multiprocessing
    from multiprocessing.connection import wait

    from grader.judging.grading import ungradable

    context = multiprocessing.get_context("fork")
    lanes = [tuple(slot for k, slot in enumerate(slots) if k % processes == p) for p in range(processes)]
    children = {}
    for own_slots in lanes:
        ours, theirs = context.Pipe()
        process = context.Process(target=_trusted_process, daemon=True, name="grader-trusted",
                                  args=(theirs, judging, sandbox, todo, own_slots, reports_dir, digest))
        process.start()
        theirs.close()
        children[ours] = (process, len(own_slots) + 1, [])
    if forked:
        forked()  # threads may start now
    results: dict[int, Report] = {}
    pending = iter(range(len(todo)))

    def hand_out(conn) -> None:
        _, ahead, held = children[conn]
        while len(held) < ahead:
            index = next(pending, None)
            if index is None:
                return
            conn.send(index)
            held.append(index)

    def lost(indexes, why: str) -> None:
        for index in indexes:
            report = dataclasses.replace(ungradable(judging.rubric, todo[index], why, sandbox.isolation.layers),
                                         rubric_sha256=digest)
            write_report(reports_dir, report)
            results[index] = report
            record(report, 0.0)

    try:
        for conn in children:
            hand_out(conn)
        live = set(children)
        while live and len(results) < len(todo):
            for conn in wait(list(live)):
                process, _, held = children[conn]
                try:
                    index, data, seconds = conn.recv()
                except (EOFError, OSError):
                    live.discard(conn)
                    process.join(5)
                    lost(list(held), f"a trusted grading process ended ({process.exitcode})")
                    held.clear()
                    continue
                held.remove(index)
                if data is None:  # the process could not write the report (disk full...)
                    raise OutputError(seconds)
                results[index] = report_from_dict(data)
                record(results[index], seconds)
                hand_out(conn)
        lost([index for index in range(len(todo)) if index not in results], "no trusted grading process left")
    finally:
        for conn in children:
            try:
                conn.send(None)
            except OSError:
                pass
        for conn, (process, _, _) in children.items():
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()
            conn.close()
    return [results[index] for index in range(len(todo))]


def _trusted_process(conn, judging, sandbox: Sandbox, todo: list[Submission], slots: Sequence[int],
                     reports_dir: Path, digest: str) -> None:
    """One trusted process: grade, render and write each submission it is handed (one at a
    time in each of its slots), answer ``(index, report JSON form, seconds)``.

    It ignores SIGINT: Ctrl-C reaches the terminal's whole process group, and the parent,
    which handles it, stops this process (``None`` on ``conn``); a KeyboardInterrupt here
    would only print a traceback per process before the grader's own "interrupted" line."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    from grader.chunk import grade_submissions
    from grader.outputs.reports import report_to_dict

    free: queue.Queue[int] = queue.Queue()
    for slot in slots:
        free.put(slot)
    sending = threading.Lock()
    stop = threading.Event()  # set once a report cannot be written: grade nothing more

    def one(index: int) -> None:
        slot = free.get()
        try:
            def done(report: Report, seconds: float) -> None:
                try:
                    write_report(reports_dir, report)
                except OutputError as exc:
                    stop.set()
                    with sending:
                        conn.send((index, None, str(exc)))
                    return
                data = report_to_dict(report)
                with sending:
                    conn.send((index, data, seconds))

            grade_submissions(judging, sandbox, [todo[index]], slots=(slot,), rubric_sha256=digest,
                              on_report=done, stop=stop)
        finally:
            free.put(slot)

    with ThreadPoolExecutor(max_workers=len(slots)) as pool:
        while True:
            index = conn.recv()
            if index is None:  # the end, or the parent stopping (Ctrl-C): start nothing more
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                return
            pool.submit(one, index)


#: Batches of more than this many submissions, in several trusted processes, warm up every
#: single-mistake template before the fork (:func:`warm_up`): about 1.2 s of CPU once, which
#: a batch that small may never need (a correct file reads no template).
TEMPLATE_WARM_UP_AFTER = 4


def warm_up(judging, *, templates: bool = False) -> None:
    """Fill what every submission needs before forking the trusted processes, so that they
    share it instead of each computing it: the misconception templates and the sample
    points and values of every reference answer.

    ``templates=True`` (a batch that several trusted processes share): also the two-mistake
    templates and the sample points and values of every single-mistake template, which
    each trusted process would otherwise compute on its first wrong answers (1.2 s of CPU
    each on the project's machine). The judge's caches charge a hit what computing it cost,
    so a report does not depend on whether this ran.

    Last, the reference's answers to one throwaway draw are judged (:func:`grader.judging.
    items.rehearse`): the first submission then pays none of the judges' first-use costs.
    A cold start waits for the zygote meanwhile, so this is off its critical path."""
    from grader.engine.contract import SYMBOLIC_FUNCTIONS
    from grader.judging.items import rehearse
    from grader.judging.misconceptions import symbolic_templates

    judge = judging.judge
    for (function, key), tree in judging.references.items():
        allowed = SYMBOLIC_FUNCTIONS[function]
        singles = symbolic_templates(function, key)
        try:
            judge.judge(tree, tree, allowed, what="warm-up")
        except Exception:  # noqa: BLE001 - warming up is an optimisation only
            pass
        if not templates:
            continue
        symbolic_templates(function, key, pairs=True)
        for template in singles.values():
            try:
                judge.prepare_template(template, allowed)
            except Exception:  # noqa: BLE001 - as above
                pass
    try:
        rehearse(judging)
    except Exception:  # noqa: BLE001 - as above
        pass


def _grade_on_cluster(todo: list[Submission], rubric: Rubric, options: BatchOptions, reports_dir: Path,
                      digest: str, on_report) -> tuple[list[Report], Isolation]:
    """Grade ``todo`` on Dask (:mod:`grader.cluster`); each report is written as its chunk is back."""
    from grader.cluster.client import grade_on_cluster

    times: dict[str, float] = {}
    progress = _progress(len(todo), options.progress)

    def finished(report: Report, seconds: float) -> None:
        write_report(reports_dir, report)
        times[report.student] = seconds
        if on_report:
            on_report(report)
        progress.update(1)

    try:
        graded = grade_on_cluster(options.dask, todo, rubric, options.rubric_path, digest,
                                  namespaces=options.namespaces, finished=finished)
    finally:
        progress.close()
    write_timings(options.timings, times)
    return graded


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
    """The student's JSON and Markdown reports (not fsynced one by one: a report lost or left
    empty by a power failure does not parse, so the next run grades that submission again).
    A failed write (disk full) is an :class:`OutputError`."""
    with _writing(reports_dir):
        write_atomic(reports_dir / f"{report.student}.json", report_json(report), durable=False)
        write_atomic(reports_dir / f"{report.student}.md", report_markdown(report), durable=False)


def write_class_files(out: Path, reports: list[Report], rubric: Rubric, options: BatchOptions,
                      overrides=(), painter=None) -> tuple:
    """grades.csv, the summary and the LMS exports, from every report of the batch; returns
    the exporters' notices. ``painter`` (:func:`grader.outputs.summary.start_painter`) draws
    the summary's charts when given."""
    from grader.outputs.canvas import student_names

    names = student_names(options.exports.get("canvas"), reports) if options.class_exports else {}
    write_atomic(out / "grades.csv", grades_csv(reports, rubric, names))
    if not options.class_exports:
        return ()
    from grader.outputs import Notice, write_exports

    notices = []
    idle = unused(overrides, reports)
    if idle:
        notices.append(Notice("overrides", f"{len(idle)} instructor override(s) not applied: no gradable "
                              "report of that student", tuple(f"{o.student} {o.item}: {o.reason}" for o in idle)))
    from grader.overrides import changed_since

    stale = changed_since(overrides, reports)
    if stale:
        notices.append(Notice("overrides", f"{len(stale)} instructor override(s) not applied: made for an "
                              "earlier submission", stale))
    exports = options.exports
    if painter is not None:
        exports = {**exports, "summary": {**(exports.get("summary") or {}), "painter": painter}}
    return write_exports(out, reports, rubric, exports, notices, names)


def merge_outputs(shards: Sequence[Path], options: BatchOptions, stream=None) -> MergeResult:
    """Combine the output folders of ``grade --shard`` runs into ``options.out``.

    Takes from each shard only the reports its own run exported (its ``manifest.json``: not a
    report whose input was gone or that was out of date, nor one rewritten since), copies them
    byte for byte and rebuilds the class files from all of them, so the result is the same as
    one run over the whole batch would have written; what is left out is named on ``stream``
    (stderr) and in ``skipped.txt``. A shard folder of an older grader (no manifest) is merged
    with a warning, from the students of its ``grades.csv``. Raises :class:`InputError`, before
    writing anything, for shards graded with different rubrics or grader versions, a rubric
    other than ``options.rubric_path``, or one student with two different submissions.

    The shards' overrides (``<shard>/overrides.csv``) are applied, with ``out/overrides.csv``
    and ``options.overrides``, and carried into ``out/overrides.csv`` (the union of the shards'
    and its own, as :func:`grader.overrides.overrides_text` writes them): a later run into
    ``out`` keeps them, as after one run over the whole batch. The same item of a student
    overridden differently in two of these files is an :class:`OverrideError`, raised before
    anything is written; ``--overrides FILE`` is applied, not copied.
    """
    from grader.overrides import Override, merge_overrides, overrides_text, read_overrides

    stream = stream or sys.stderr
    rubric = load_rubric(options.rubric_path)
    digest = rubric_digest(options.rubric_path)
    out = Path(options.out)
    own_file = out / OVERRIDES_FILE
    shard_overrides = [Path(s) / OVERRIDES_FILE for s in shards]
    # each overrides file is read once, when the merge first reaches it (so a conflict between
    # earlier files is reported before a later file that cannot be read)
    read: dict[Path, tuple[Override, ...]] = {}

    def reading(paths):
        for path in paths:
            if path not in read:
                read[path] = read_overrides(path, rubric)
            yield path, read[path]

    overrides = merge_overrides(reading(override_files(out, options, shard_overrides)), rubric)
    own = read[own_file]
    carried = merge_overrides([(path, read[path]) for path in (own_file, *shard_overrides)], rubric)
    warnings: list[str] = []
    stale: dict[str, str] = {}
    outdated: dict[str, str] = {}
    skipped_lists = []
    taken: list[tuple[Path, list[Report]]] = []
    for shard in map(Path, shards):
        folder = shard / "reports"
        if not folder.is_dir():
            raise InputError(f"{shard} has no reports/ folder: is it a grading output folder?")
        reports = load_reports(folder)
        manifest = _read_manifest(shard)
        if manifest is None:
            listed = _grades_csv_students(shard)
            warnings.append(f"{display_name(str(shard))} has no {MANIFEST_FILE} (written by an older grader "
                            "version, or its run did not finish): merged "
                            + ("the reports of the students in its grades.csv" if listed is not None
                               else "every report in its reports/ folder")
                            + " without checking that they are current; grade that shard again to check them")
            exported = {r.student: r.sha256 for r in reports if listed is None or r.student in listed}
            skipped_lists.append(None)
        else:
            exported = manifest["exported"]
            skipped_lists.append(manifest["skipped"])
        mine = []
        for report in reports:
            if report.student not in exported:
                if manifest is not None and report.student in manifest["stale"]:
                    stale.setdefault(report.student, GONE)
                elif manifest is not None and report.student in manifest["outdated"]:
                    outdated.setdefault(report.student, manifest["outdated"][report.student])
                else:
                    outdated.setdefault(report.student, f"not exported by the run that wrote "
                                                        f"{display_name(str(shard))}")
            elif exported[report.student] != report.sha256:
                outdated.setdefault(report.student, f"rewritten in {display_name(str(shard))} after its last "
                                                    "finished run (an interrupted run?): grade that shard again")
            else:
                mine.append(report)
        taken.append((shard, mine))
    _check_same_grading(taken, digest, options.rubric_path)
    merged: dict[str, tuple[Report, Path]] = {}
    for shard, reports in taken:
        for report in reports:
            if report.student in merged and merged[report.student][0].sha256 != report.sha256:
                raise InputError(f"student {report.student!r} appears in {merged[report.student][1]} and "
                                 f"{shard} with different submissions")
            merged[report.student] = (report, shard)
    # a report of the merged folder itself that no shard exports is stale there, as in one run
    if (out / "reports").is_dir():
        for path in (out / "reports").glob("*.json"):
            if path.stem not in merged and path.stem not in outdated:
                stale.setdefault(path.stem, GONE)
    stale_ids = tuple(sorted(s for s in stale if s not in merged))
    outdated_pairs = tuple(sorted((s, why) for s, why in outdated.items() if s not in merged and s not in stale))
    left_out = tuple(sorted([(s, GONE) for s in stale_ids] + list(outdated_pairs)))
    if left_out:
        warnings.append(f"{len(left_out)} report(s) in the shard folders were left out of the merge (and of "
                        f"grades.csv and every export; listed in {SKIPPED_FILE}): "
                        + "; ".join(f"{student} ({why})" for student, why in left_out))
    for line in warnings:
        print(f"WARNING: {line}", file=stream)
    skipped = _merged_skipped(skipped_lists)
    with _writing(out):
        if carried != own:  # the instructor's own file is left as it is when it holds them all
            write_atomic(out / OVERRIDES_FILE, overrides_text(carried, rubric))
        for student, (_, shard) in sorted(merged.items()):
            for suffix in (".json", ".md"):
                source = shard / "reports" / f"{student}{suffix}"
                write_atomic(out / "reports" / source.name, source.read_bytes())
        if skipped is not None:
            write_atomic(out / SKIPPED_FILE, skipped_text(skipped, stale_ids, outdated_pairs))
        else:
            _merge_skipped(shards, out, stale_ids, outdated_pairs)
        reports = finish_reports(out / "reports", [report for report, _ in merged.values()], overrides)
        notices = write_class_files(out, reports, rubric, options, overrides)
        write_manifest(out, reports, digest, skipped if skipped is not None else
                       list(dict.fromkeys(s for entry in skipped_lists if entry for s in entry)),
                       stale_ids, outdated_pairs)
    return MergeResult(tuple(sorted(reports, key=lambda r: r.student)), notices, left_out, tuple(warnings),
                       len(set(carried) - set(own)))


def _read_manifest(folder: Path) -> dict | None:
    """The manifest of an output folder; None when it has none (an older grader version)."""
    path = Path(folder) / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read {display_name(str(path))}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        manifest = {"exported": {str(k): str(v) for k, v in dict(data["exported"]).items()},
                    "stale": {str(s) for s in data["stale"]},
                    "outdated": {str(k): str(v) for k, v in dict(data["outdated"]).items()},
                    "skipped": [Skipped(str(p), str(r)) for p, r in data["skipped"]],
                    "rubric_sha256": str(data["rubric_sha256"]), "grader_version": str(data["grader_version"])}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{display_name(str(path))} is not a manifest this grader can read ({exc}); "
                         "grade that folder again") from None
    return manifest


def _grades_csv_students(folder: Path) -> set[str] | None:
    """The students of a folder's grades.csv (what its run exported), None without one."""
    import csv

    try:
        with (Path(folder) / "grades.csv").open(encoding="utf-8-sig", newline="") as handle:
            return {row["student"] for row in csv.DictReader(handle) if row.get("student")}
    except (OSError, KeyError, csv.Error, UnicodeDecodeError):
        return None


def _check_same_grading(taken: Sequence[tuple[Path, Sequence[Report]]], digest: str, rubric_path: Path) -> None:
    """Refuse shards graded with different rubrics or grader versions, or with a rubric other
    than the merge's own (its class files would mix two rubrics)."""
    for what, key in (("rubric", lambda r: r.rubric_sha256), ("grader version", lambda r: r.grader_version)):
        seen: dict[str, dict[Path, int]] = {}
        for shard, reports in taken:
            for report in reports:
                counts = seen.setdefault(key(report), {})
                counts[shard] = counts.get(shard, 0) + 1
        if len(seen) > 1:
            shown = "; ".join(
                f"{what} {(value[:12] if what == 'rubric' else value) or 'unknown'}: "
                + ", ".join(f"{display_name(str(shard))} ({count} report(s))" for shard, count in counts.items())
                for value, counts in sorted(seen.items()))
            raise InputError(f"cannot merge reports graded with different {what}s ({shown}); grade every "
                             f"shard again with the same {'--rubric' if what == 'rubric' else 'grader version'}, "
                             "then merge")
        if what == "rubric" and seen and next(iter(seen)) != digest:
            value, counts = next(iter(seen.items()))
            raise InputError(f"the shards ({', '.join(display_name(str(s)) for s in counts)}) were graded with "
                             f"rubric {value[:12] or 'unknown'}, not with --rubric {display_name(str(rubric_path))} "
                             f"({digest[:12]}); merge with the --rubric they were graded with")


def _merged_skipped(lists: Sequence) -> list[Skipped] | None:
    """The inputs not graded, as every shard lists them (each discovers the whole batch); None
    when a shard has no manifest or they disagree."""
    if not lists or any(entry is None for entry in lists) or any(entry != lists[0] for entry in lists):
        return None
    return list(lists[0])


def _merge_skipped(shards: Sequence[Path], out: Path, stale: Sequence[str] = (),
                   outdated: Sequence[tuple[str, str]] = ()) -> None:
    """skipped.txt of the merged folder when the shards' manifests do not agree on it: each
    shard's own in turn, then the reports the merge left out."""
    texts = []
    for shard in shards:
        try:
            texts.append((Path(shard), (Path(shard) / SKIPPED_FILE).read_text(encoding="utf-8")))
        except OSError:
            continue
    if len({text for _, text in texts}) == 1:
        text = texts[0][1]
    else:
        text = "".join(f"From {display_name(str(shard))}:\n{text}\n" for shard, text in texts)
    if stale or outdated:
        text += "Left out of this merge:\n" + skipped_text((), stale, outdated)
    if text:
        write_atomic(out / SKIPPED_FILE, text)


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)
