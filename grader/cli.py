"""The command line: each command parses its arguments and calls one library function."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader import __version__
from grader.errors import GraderError
from grader.rubric import DEFAULT_RUBRIC


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError("--shard takes I/N, e.g. 1/4") from None
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError("--shard I/N needs 1 <= I <= N")
    return index, count


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


def _cmd_merge(args) -> int:
    from grader.batch import BatchOptions, merge_outputs

    reports = merge_outputs(args.shards, BatchOptions(out=args.out, rubric_path=args.rubric,
                                                      exports=_exports(args)))
    print(f"Merged {len(reports)} report(s) from {len(args.shards)} folder(s) into {args.out}.")
    return 0


def _add_export_options(parser) -> None:
    parser.add_argument("--canvas-gradebook", type=Path, help="gradebook CSV exported from Canvas")
    parser.add_argument("--canvas-column", default=None,
                        help='the assignment column to fill: its full name "Title (id)", its id or a '
                             'title prefix (default: the one column whose title starts with "Adam vs")')
    parser.add_argument("--moodle-identifier", choices=("email", "idnumber", "username"),
                        help="key the Moodle grade import by this user field (default: the grader's "
                             "student ids)")
    parser.add_argument("--moodle-roster", type=Path,
                        help="CSV with columns student_id,<identifier> mapping student ids to Moodle "
                             "identifiers")


def _cmd_grade(args) -> int:
    from grader.batch import BatchOptions, grade_batch

    exports = _exports(args)
    options = BatchOptions(out=args.out, workers=args.workers, rubric_path=args.rubric,
                           only=tuple(args.only or ()), shard=args.shard, progress=not args.quiet,
                           namespaces=not args.no_namespaces, exports=exports, timings=args.timings,
                           processes=args.processes)
    result = grade_batch(args.submissions, options)
    print(f"Graded {result.graded} submission(s), reused {result.reused} unchanged report(s) "
          f"in {result.seconds:.1f} s; reports in {args.out / 'reports'}, class CSV in "
          f"{args.out / 'grades.csv'}.")
    for report in result.reports:
        if not args.quiet:
            print(f"  {report.student:<30} {report.total:>6g} / {report.max_total:g}")
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

    result = build_bundle(args.out)
    print(f"Wrote the Gradescope autograder {result.out} ({len(result.files)} files, "
          f"{result.size:,} bytes); upload it as the assignment's autograder.")
    for path in result.files:
        print(f"  {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader",
                                     description="Autograder for 'Adam vs. SGD with momentum'.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grade", help="grade submissions (.py, .ipynb, .zip or folders of them)")
    g.add_argument("submissions", nargs="+", type=Path)
    g.add_argument("--out", type=Path, required=True, help="output folder")
    g.add_argument("--workers", type=int, default=None, help="parallel workers (default: CPU count)")
    g.add_argument("--processes", type=int, default=0, metavar="N",
                   help="trusted processes that judge and write reports (default 0: one per worker; "
                        "1: all in the grader's own process)")
    g.add_argument("--rubric", type=Path, default=DEFAULT_RUBRIC, help="rubric TOML file")
    g.add_argument("--only", action="append", metavar="STUDENT",
                   help="regrade only this student (repeatable); other reports stay as they are")
    g.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                   help="grade the I-th of N deterministic slices of the batch")
    _add_export_options(g)
    g.add_argument("--no-namespaces", action="store_true",
                   help="do not use Linux namespaces (fewer isolation layers; for debugging)")
    g.add_argument("--quiet", action="store_true", help="no progress bar, no per-student lines")
    g.add_argument("--timings", type=Path, default=None,
                   help="write each submission's grading time (seconds) to this CSV (benchmarks)")
    g.set_defaults(func=_cmd_grade)

    m = sub.add_parser("merge", help="combine the output folders of --shard runs")
    m.add_argument("shards", nargs="+", type=Path, help="output folders of grade --shard i/n")
    m.add_argument("--out", type=Path, required=True, help="output folder of the merged batch")
    m.add_argument("--rubric", type=Path, default=DEFAULT_RUBRIC, help="rubric TOML file")
    _add_export_options(m)
    m.set_defaults(func=_cmd_merge)

    r = sub.add_parser("release", help="write the student bundle (stubs, handout, public checks, "
                                       "checking engine), proven to hold no reference code or hidden values")
    r.add_argument("--out", type=Path, required=True,
                   help="bundle folder: new, empty, or holding a previous bundle (replaced)")
    r.set_defaults(func=_cmd_release)

    z = sub.add_parser("gradescope-bundle", help="build the Gradescope autograder zip (setup.sh, run_autograder)")
    z.add_argument("--out", type=Path, required=True, help="the zip file to write, e.g. autograder.zip")
    z.set_defaults(func=_cmd_gradescope_bundle)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
