"""The command line: each command parses its arguments and calls one library function."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grader import __version__
from grader.errors import GraderError
from grader.outputs.gradescope import VISIBILITIES
from grader.rubric import DEFAULT_RUBRIC



def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError("--shard takes I/N, e.g. 1/4") from None
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError("--shard I/N needs 1 <= I <= N")
    return index, count


def _dask_address(text: str) -> str:
    from grader.cluster.client import parse_address

    try:
        parse_address(text)
    except GraderError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _exports(args) -> dict:
    """Export options shared by ``grade`` and ``merge``, checked before any grading starts."""
    from grader.outputs import validate_exports

    if args.canvas_column and not args.canvas_gradebook:
        raise GraderError("--canvas-column needs --canvas-gradebook (the gradebook CSV exported from Canvas)")
    if args.moodle_roster and not args.moodle_identifier:
        raise GraderError("--moodle-roster needs --moodle-identifier (email, idnumber or username)")
    exports = {}
    if args.canvas_gradebook:
        exports["canvas"] = {"gradebook": args.canvas_gradebook, "column": args.canvas_column}
    if args.moodle_identifier:
        exports["moodle"] = {"identifier": args.moodle_identifier, "roster": args.moodle_roster}
    validate_exports(exports)  # an unreadable gradebook or roster fails now, not after grading
    return exports


def _add_export_options(parser) -> None:
    parser.add_argument("--canvas-gradebook", type=Path, metavar="CSV", help="gradebook CSV exported from Canvas")
    parser.add_argument("--canvas-column", default=None, metavar="COLUMN",
                        help='the assignment column to fill: its full name "Title (id)", its id or a '
                             'title prefix (default: the one column whose title starts with "Adam vs")')
    parser.add_argument("--moodle-identifier", choices=("email", "idnumber", "username"),
                        help="key the Moodle grade import by this user field (default: the grader's "
                             "student ids)")
    parser.add_argument("--moodle-roster", type=Path, metavar="CSV",
                        help="CSV with columns student_id,<identifier> mapping student ids to Moodle "
                             "identifiers")


def _cmd_grade(args) -> int:
    from grader.batch import BatchOptions, grade_batch
    from grader.intake.submissions import IntakeLimits

    exports = _exports(args)
    if args.gradescope_visibility:
        exports["gradescope"] = {"visibility": args.gradescope_visibility}
    options = BatchOptions(out=args.out, workers=args.workers, rubric_path=args.rubric,
                           only=tuple(args.only or ()), shard=args.shard, progress=not args.quiet,
                           namespaces=not args.no_namespaces, exports=exports, timings=args.timings,
                           processes=args.processes, overrides=args.overrides, dask=args.dask,
                           class_archive=args.class_archive,
                           limits=IntakeLimits() if args.max_submissions is None
                           else IntakeLimits(batch_submissions=args.max_submissions))
    result = grade_batch(args.submissions, options)
    print(f"Graded {result.graded} submission(s), reused {result.reused} unchanged report(s) "
          f"in {result.seconds:.1f} s.")
    if not args.quiet:
        for report in result.reports:
            adjusted = sum(1 for item in report.items if item.adjustment is not None)
            note = f"  ({adjusted} instructor adjustment(s))" if adjusted else ""
            print(f"  {report.student:<30} {report.total:>6g} / {report.max_total:g}{note}")
    _print_outputs(args.out, result.notices)
    return 0


def _print_outputs(out: Path, notices) -> None:
    """Where every file of the run is, and how many LMS rows were matched."""
    print(f"Reports:  {out / 'reports'}/<student>.md and .json")
    print(f"Class:    {out / 'grades.csv'}")
    print(f"Summary:  {out / 'summary.html'} (also summary.md, charts/)")
    for notice in notices:
        if notice.status:
            print(notice.status)
    for notice in notices:
        if notice.source == "overrides":
            print(f"WARNING: {notice.title}: " + "; ".join(notice.lines))


def _cmd_merge(args) -> int:
    from grader.batch import BatchOptions, merge_outputs

    result = merge_outputs(args.shards, BatchOptions(out=args.out, rubric_path=args.rubric,
                                                     exports=_exports(args), overrides=args.overrides))
    print(f"Merged {len(result.reports)} report(s) from {len(args.shards)} folder(s) into {args.out}.")
    if result.carried:
        print(f"Overrides: {result.carried} of the shards' recorded in {args.out / 'overrides.csv'} "
              "(later runs into it keep them)")
    _print_outputs(args.out, result.notices)
    return 0


def _cmd_override(args) -> int:
    from grader import overrides as ov
    from grader.outputs.reports import load_reports, write_atomic
    from grader.rubric import load_rubric

    rubric = load_rubric(args.rubric)
    path = ov.overrides_path(args.target)
    current = ov.read_overrides(path, rubric)
    reports = {r.student: r for r in load_reports(args.target / "reports")} if args.target.is_dir() else {}
    if args.remove:
        if args.points is not None:
            raise ov.OverrideError("give either POINTS or --remove, not both")
        new = ov.without_override(current, args.student, args.item)
        done = f"Removed the override of {args.student}'s item {args.item}"
    else:
        if args.points is None or not args.why:
            raise ov.OverrideError('an override needs POINTS and a reason: --why "..."')
        # the submission it is made for: a resubmission later leaves it unapplied (and listed)
        sha = reports[args.student].sha256.lower() if args.student in reports else ""
        override = ov.check(ov.Override(args.student, args.item, ov.parse_points(args.points), args.why, sha),
                            rubric)
        if reports and args.student not in reports:
            known = ", ".join(sorted(reports)[:20]) + (", ..." if len(reports) > 20 else "")
            raise ov.OverrideError(f"{args.target} has no report of student {args.student!r} (students: {known})")
        new = ov.with_override(current, override)
        item = reports[args.student].items if args.student in reports else ()
        automatic = next((ov.automatic_item(i) for i in item if i.id == args.item), None)
        was = (f"; the grader gave {automatic.points:g} / {automatic.max_points:g} ({automatic.status})"
               if automatic else "")
        done = f"{args.student} {args.item}: {override.points:g} / {rubric.item(args.item).points:g}{was}"
        if sha:
            done += (f". Made for the submission {reports[args.student].submission} (sha256 {sha[:12]}): "
                     "it is not applied if the student resubmits")
        else:
            done += (". No report to take the submission from: it applies to whatever "
                     f"{args.student} submits")
    write_atomic(path, ov.overrides_text(new, rubric))
    print(f"{done}. Recorded in {path}.")
    print("Rerun your grade (or merge) command to apply it to the reports and every export; "
          "unchanged submissions are not graded again.")
    return 0


def _cmd_overrides(args) -> int:
    from grader import overrides as ov
    from grader.outputs.reports import load_reports
    from grader.rubric import load_rubric

    rubric = load_rubric(args.rubric)
    path = ov.overrides_path(args.target)
    current = ov.read_overrides(path, rubric)
    if not current:
        print(f"No overrides in {path}.")
        return 0
    reports = {r.student: r for r in load_reports(args.target / "reports")} if args.target.is_dir() else {}
    rows = [("student", "item", "automatic", "override", "reason")]
    for o in current:
        items = {i.id: ov.automatic_item(i) for i in reports[o.student].items} if o.student in reports else {}
        auto = f"{items[o.item].points:g} ({items[o.item].status})" if o.item in items else "no report"
        reason = o.reason
        if o.student in reports and not ov.made_for(o, reports[o.student]):
            reason += (f" [not applied: the submission changed since the override was made (made for sha256 "
                       f"{o.sha256[:12]}, now {reports[o.student].sha256[:12]}); re-check it and run "
                       "`grader override` again]")
        rows.append((o.student, o.item, auto, f"{o.points:g} / {rubric.item(o.item).points:g}", reason))
    widths = [max(len(row[n]) for row in rows) for n in range(4)]
    print(f"{len(current)} override(s) in {path}:")
    for row in rows:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    return 0


def _cmd_release(args) -> int:
    from grader.release.bundle import release

    result = release(args.out)
    print(f"{'Replaced the previous' if result.replaced else 'Wrote the'} student bundle in {result.out} "
          f"({len(result.files)} files, checked: no reference code, no hidden values):")
    for path, size in result.files:
        print(f"  {path:<40} {size:>9,} bytes")
    return 0


def _cmd_gradescope_bundle(args) -> int:
    from grader.release.gradescope import build_bundle

    result = build_bundle(args.out, visibility=args.visibility)
    print(f"Wrote the Gradescope autograder {result.out} (setup.sh, run_autograder and the grader: "
          f"{len(result.files)} files, {result.size:,} bytes; tests {args.visibility}). "
          "In Gradescope: a Programming Assignment worth 15 points, "
          "upload this zip as its autograder; students upload adam_vs_momentum.py. "
          "The README's \"Gradescope\" section has every step.")
    return 0


_GRADE_EXAMPLES = """\
examples:
  {prog} grade submissions/ --out out
  {prog} grade canvas_download.zip --out out --canvas-gradebook gradebook.csv
  {prog} grade submissions/ --out out --moodle-identifier email --moodle-roster participants.csv
  {prog} grade submissions/ --out out --only alice        regrade one student
  {prog} grade submissions/ --out out --overrides course/overrides.csv
"""

_OVERRIDE_EXAMPLES = """\
examples:
  {prog} override out alice 1f 1 --why "derivation accepted by hand"
  {prog} override out bob 2.3.adam_step_bound 0 --why "academic integrity decision"
  {prog} override out alice 1f --remove
  {prog} override course/overrides.csv alice 1f 1 --why "regrade request"
Then rerun the grade command: the override shows in the report and in every export.
"""

_TOP_EXAMPLES = """\
examples:
  {prog} grade submissions/ --out out          grade, write reports, grades.csv, summary, LMS files
  {prog} override out alice 1f 1 --why "..."   change one item of one student, with a reason
  {prog} overrides out                         list the overrides
  {prog} release --out bundle                  the student bundle
  {prog} gradescope-bundle --out autograder.zip
Run "{prog} COMMAND --help" for each command's options.
"""


def build_parser(prog: str = "adam-grader") -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog=prog, description="Autograder for 'Adam vs. SGD with momentum'.",
                                     epilog=_TOP_EXAMPLES.format(prog=prog), formatter_class=raw)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("grade", help="grade submissions (.py, .ipynb, .zip or folders of them)",
                       description="Grade submissions into an output folder: one report per student, "
                                   "grades.csv, the summary and the LMS files.",
                       epilog=_GRADE_EXAMPLES.format(prog=prog), formatter_class=raw)
    g.add_argument("submissions", nargs="+", type=Path, metavar="SUBMISSION",
                   help="a student's .py or .ipynb file, a .zip (one student's, or an LMS download of "
                        "many), or a folder of them; the student id is the file's name")
    g.add_argument("--out", type=Path, required=True, help="output folder")
    g.add_argument("--workers", type=int, default=None, metavar="N", help="parallel workers (default: CPU count)")
    g.add_argument("--processes", type=int, default=0, metavar="N",
                   help="trusted processes that judge and write reports (default 0: one per worker; "
                        "1: all in the grader's own process)")
    g.add_argument("--rubric", type=Path, default=DEFAULT_RUBRIC, metavar="TOML", help="rubric TOML file")
    g.add_argument("--only", action="append", metavar="STUDENT",
                   help="regrade only this student (repeatable); other reports stay as they are")
    g.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                   help="grade the I-th of N deterministic slices of the batch")
    g.add_argument("--overrides", type=Path, default=None, metavar="FILE",
                   help="instructor overrides kept outside the output folder (student,item,points,reason "
                        "CSV), applied with OUT/overrides.csv")
    _add_export_options(g)
    g.add_argument("--gradescope-visibility", choices=VISIBILITIES, default=None,
                   help="visibility of the tests in the gradescope/<student>/results.json previews "
                        "(default: visible)")
    g.add_argument("--class-archive", action="store_true",
                   help="each zip named on the command line holds a whole class (one submission per "
                        "top-level folder or file); without it a zip is one student's submission, "
                        "except Canvas's own download zip, which is recognised")
    g.add_argument("--max-submissions", type=int, default=None, metavar="N",
                   help="refuse a batch of more than N submissions (default 5,000)")
    g.add_argument("--no-namespaces", action="store_true",
                   help="do not use Linux namespaces (fewer isolation layers; for debugging)")
    g.add_argument("--quiet", action="store_true", help="no progress bar, no per-student lines")
    g.add_argument("--dask", metavar="ADDRESS", type=_dask_address, default=None,
                   help="grade on the Dask scheduler at ADDRESS (tcp://host:8786), or on a new local "
                        "cluster of N worker processes (local:N); needs pip install '.[cluster]'")
    g.add_argument("--timings", type=Path, default=None, metavar="CSV",
                   help="write each submission's grading time (seconds) to this CSV (benchmarks)")
    g.set_defaults(func=_cmd_grade)

    m = sub.add_parser("merge", help="combine the output folders of --shard runs",
                       epilog=f"example:\n  {prog} merge shard1 shard2 --out out", formatter_class=raw)
    m.add_argument("shards", nargs="+", type=Path, metavar="SHARD",
                   help="output folders of grade --shard i/n")
    m.add_argument("--out", type=Path, required=True, help="output folder of the merged batch")
    m.add_argument("--rubric", type=Path, default=DEFAULT_RUBRIC, metavar="TOML", help="rubric TOML file")
    m.add_argument("--overrides", type=Path, default=None, metavar="FILE",
                   help="instructor overrides kept outside the output folders")
    _add_export_options(m)
    m.set_defaults(func=_cmd_merge)

    o = sub.add_parser("override", help="change one item's points for one student, with a reason",
                       description="Record an instructor override (a regrade request, an accepted "
                                   "derivation, an academic-integrity decision) in OUT/overrides.csv.",
                       epilog=_OVERRIDE_EXAMPLES.format(prog=prog), formatter_class=raw)
    o.add_argument("target", type=Path, metavar="OUT",
                   help="the output folder (its overrides.csv), or an overrides .csv file kept elsewhere")
    o.add_argument("student", metavar="STUDENT", help="the student id, as in reports/<student>.json")
    o.add_argument("item", metavar="ITEM", help="the rubric item id, e.g. 1f or 2.3.adam_step_bound")
    o.add_argument("points", nargs="?", default=None, metavar="POINTS",
                   help="the item's new points, from 0 to the item's maximum")
    o.add_argument("--why", default=None, help="the reason (shown to the student); required")
    o.add_argument("--remove", action="store_true", help="remove this override instead")
    o.add_argument("--rubric", type=Path, default=DEFAULT_RUBRIC, metavar="TOML", help="rubric TOML file")
    o.set_defaults(func=_cmd_override)

    ls = sub.add_parser("overrides", help="list the instructor overrides of an output folder",
                        epilog=f"example:\n  {prog} overrides out", formatter_class=raw)
    ls.add_argument("target", type=Path, metavar="OUT",
                    help="the output folder (its overrides.csv), or an overrides .csv file")
    ls.add_argument("--rubric", type=Path, default=DEFAULT_RUBRIC, metavar="TOML", help="rubric TOML file")
    ls.set_defaults(func=_cmd_overrides)

    r = sub.add_parser("release", help="write the student bundle (stubs, handout, public checks, "
                                       "checking engine), proven to hold no reference code or hidden values",
                       epilog=f"example:\n  {prog} release --out bundle", formatter_class=raw)
    r.add_argument("--out", type=Path, required=True,
                   help="bundle folder: new, empty, or holding a previous bundle (replaced)")
    r.set_defaults(func=_cmd_release)

    z = sub.add_parser("gradescope-bundle", help="build the Gradescope autograder zip (setup.sh, run_autograder)",
                       epilog=f"example:\n  {prog} gradescope-bundle --out autograder.zip --visibility after_due_date",
                       formatter_class=raw)
    z.add_argument("--out", type=Path, required=True, help="the zip file to write, e.g. autograder.zip")
    z.add_argument("--visibility", choices=VISIBILITIES, default="visible",
                   help="when students see each test's result and feedback on Gradescope (default: visible)")
    z.set_defaults(func=_cmd_gradescope_bundle)
    return parser


def main(argv=None, prog: str = "adam-grader") -> int:
    """The ``adam-grader`` command (``python -m grader`` passes its own ``prog``)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if getattr(args, "dask", None) and (args.workers is not None or args.processes):
        parser.error("--workers and --processes do not apply with --dask: each Dask worker process "
                     "grades one submission at a time in its own sandbox; start one Dask worker process "
                     "per core instead (local:N, or dask worker ADDRESS --nworkers N --nthreads 1)")
    if getattr(args, "workers", 1) is None:
        from grader.batch import default_workers
        args.workers = default_workers()
    try:
        return args.func(args)
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # ``... | head``: the reader left; what was written is kept, no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit would fail again
        return 1


def script() -> None:
    """The installed ``adam-grader`` script: :func:`main`, ending the process without the
    interpreter's teardown (:mod:`grader.entry`)."""
    from grader.entry import run_as_program

    run_as_program(main)
