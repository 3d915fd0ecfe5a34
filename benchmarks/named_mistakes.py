"""How many wrong answers of the grading corpus get a named mistake.

A *wrong answer* is a rubric item, in one corpus file, that the student answered (status
``failed`` or ``partial``, not ``not_attempted``/``error``/``timeout``) and that earns less
than its points. It is *named* when the report names at least one catalogued mistake on it.

    python -m grader grade tests/corpus --out OUT --quiet
    python benchmarks/named_mistakes.py OUT            # all corpus files
    python benchmarks/named_mistakes.py OUT --prefix r # only the real-world patterns (r..)

Prints the counts, then one line per wrong answer left unnamed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def count(reports: Path, prefix: str = "") -> tuple[int, int, list[str]]:
    """(wrong answers, named ones, the unnamed ones as "student item")."""
    wrong = named = 0
    unnamed = []
    for path in sorted(reports.glob("*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        if not report["student"].startswith(prefix):
            continue
        for item in report["items"]:
            if item["status"] in ("failed", "partial") and item["points"] < item["max_points"]:
                wrong += 1
                if item["misconceptions"]:
                    named += 1
                else:
                    unnamed.append(f"{report['student']} {item['id']}")
    return wrong, named, unnamed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the --out folder of a grading run")
    parser.add_argument("--prefix", default="", help="only students whose id starts with this")
    args = parser.parse_args(argv)
    wrong, named, unnamed = count(args.out / "reports", args.prefix)
    print(f"{named} of {wrong} wrong answers name a mistake")
    for line in unnamed:
        print("  unnamed:", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
