"""The students' own code alone, per file: what no grader can go below for that file.

    python benchmarks/own_code.py FILE.py [FILE.py ...]

Loads each file in this (warm) process as the worker does and calls every function the grader
plans for it, with no sandbox and no judging, then prints the seconds its import and its calls
took, and the functions that took more than 50 ms. Compare with ``grade --timings`` for the
same files to see the grader's own share of a slow file (the large wrong answers of
``benchmarks/run.py --hostile-large``, for example).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def call_every(module, calls) -> dict[str, float]:
    """Call each ``(function, encoded arguments)`` of ``calls`` on ``module`` and encode its
    answer as the worker would (errors and wrong answers included: they took their time too);
    returns the seconds each function took in all. The floor of ``benchmarks/run.py`` runs
    this too."""
    from grader.engine.arguments import decode_argument
    from grader.engine.wire import encode_value

    seconds: dict[str, float] = {}
    for function, args in calls:
        began = time.monotonic()
        try:
            json.dumps(encode_value(getattr(module, function)(*[decode_argument(a) for a in args])))
        except BaseException:  # noqa: BLE001 - a wrong or missing answer still took its time
            pass
        seconds[function] = seconds.get(function, 0.0) + time.monotonic() - began
    return seconds


def main(argv=None) -> int:
    files = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not files or any(p.name in ("-h", "--help") for p in files):
        print(__doc__.strip())
        return 0 if files else 2
    from grader.judging.inputs import draw_inputs
    from grader.judging.items import plan_calls
    from grader.sandbox import zygote
    from grader.sandbox.worker import load_submission

    zygote._warm_up()  # as warm as a worker
    for path in files:
        calls = plan_calls(draw_inputs(path.stem))
        with tempfile.TemporaryDirectory() as workdir:
            started = time.monotonic()
            try:
                module = load_submission(path.read_text(encoding="utf-8", errors="replace"),
                                         "adam_vs_momentum.py", Path(workdir))
            except BaseException as exc:  # noqa: BLE001 - the file's own failure
                print(f"{path.name}: import failed ({type(exc).__name__})")
                continue
            imported = time.monotonic()
            slow = call_every(module, [(call.function, call.args) for call in calls])
            done = time.monotonic()
        shown = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in slow.items() if seconds > 0.05)
        print(f"{path.name}: import {imported - started:.2f} s, calls {done - imported:.2f} s"
              + (f" ({shown})" if shown else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
