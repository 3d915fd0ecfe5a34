"""The command line: each command parses its arguments and calls one library function."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import GraderError
from .rubric import DEFAULT_RUBRIC


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError("--shard takes I/N, e.g. 1/4") from None
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError("--shard I/N needs 1 <= I <= N")
    return index, count


def _cmd_grade(args) -> int:
    from .batch import BatchOptions, grade_batch

    exports = {}
    if args.canvas_gradebook:
        exports["canvas"] = {"gradebook": args.canvas_gradebook, "column": args.canvas_column}
    if args.moodle_identifier:
        exports["moodle"] = {"identifier": args.moodle_identifier, "roster": args.moodle_roster}
    options = BatchOptions(out=args.out, workers=args.workers, rubric_path=args.rubric,
                           only=tuple(args.only or ()), shard=args.shard, progress=not args.quiet,
                           namespaces=not args.no_namespaces, exports=exports)
    result = grade_batch(args.submissions, options)
    print(f"Graded {result.graded} submission(s), reused {result.reused} unchanged report(s) "
          f"in {result.seconds:.1f} s; reports in {args.out / 'reports'}, class CSV in "
          f"{args.out / 'grades.csv'}.")
    for report in result.reports:
        if not args.quiet:
            print(f"  {report.student:<30} {report.total:>6g} / {report.max_total:g}")
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
    g.add_argument("--rubric", type=Path, default=DEFAULT_RUBRIC, help="rubric TOML file")
    g.add_argument("--only", action="append", metavar="STUDENT",
                   help="regrade only this student (repeatable); other reports stay as they are")
    g.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                   help="grade the I-th of N deterministic slices of the batch")
    g.add_argument("--canvas-gradebook", type=Path, help="gradebook CSV exported from Canvas")
    g.add_argument("--canvas-column", default=None, help="the assignment column in that gradebook")
    g.add_argument("--moodle-identifier", choices=("email", "idnumber", "username"),
                   help="write a Moodle grade import keyed by this identifier")
    g.add_argument("--moodle-roster", type=Path, help="CSV mapping student ids to Moodle identifiers")
    g.add_argument("--no-namespaces", action="store_true",
                   help="do not use Linux namespaces (fewer isolation layers; for debugging)")
    g.add_argument("--quiet", action="store_true", help="no progress bar, no per-student lines")
    g.set_defaults(func=_cmd_grade)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "workers", 1) is None:
        from .batch import default_workers
        args.workers = default_workers()
    try:
        return args.func(args)
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
