"""Microbenchmark of the sandbox's per-submission costs: where a worker's time goes.

    python benchmarks/spawn.py            # 40 workers, 200 calls
    python benchmarks/spawn.py --no-namespaces

It starts one sandbox (every layer this system grants, or the fallback without namespaces)
and measures, one worker slot at a time:

- a worker's spawn and close (the zygote forks a supervisor, which forks the worker; the
  worker builds its sandbox and says hello), and the same with the reference solution loaded,
  for each warm image (plain, and plotting with matplotlib imported);
- one call's round trip on a loaded worker (a cheap numeric function: the framing, the
  argument and answer encoding, the supervisor's end-of-call sweep);
- a bare fork of a plain interpreter and of one with numpy, sympy and matplotlib imported
  (what each of the two forks of a spawn costs on its own).

Nothing here is a test: the figures depend on the machine (the README quotes one run).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _per_item(seconds: float, count: int) -> str:
    return f"{seconds / count * 1000:.2f} ms"


def fork_cost(count: int) -> float:
    """Seconds per fork-and-reap of this process as it is now."""
    started = time.monotonic()
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    return (time.monotonic() - started) / count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=40, help="workers spawned per figure (default 40)")
    parser.add_argument("--calls", type=int, default=200, help="calls timed on one worker (default 200)")
    parser.add_argument("--no-namespaces", action="store_true", help="the fallback without Linux namespaces")
    args = parser.parse_args(argv)

    bare = fork_cost(30)
    from grader.engine.arguments import encode_argument
    from grader.rubric import load_rubric
    from grader.sandbox.config import IMAGES, image_for
    from grader.sandbox.manager import Sandbox

    source = (ROOT / "reference" / "adam_vs_momentum.py").read_text(encoding="utf-8")
    load = {"op": "load", "filename": "adam_vs_momentum.py", "source": source}
    spawns, loads = {}, {}
    with Sandbox(load_rubric().limits, namespaces=not args.no_namespaces) as sandbox:
        print(f"layers: {', '.join(sandbox.isolation.layers)}")
        # closed as the grader closes a worker after a submission's last call
        wait = "pid_namespace" not in sandbox.isolation.layers
        sandbox.spawn(0).close(wait=wait)  # the first spawn makes the slot's cgroups
        for image in IMAGES:
            started = time.monotonic()
            for _ in range(args.workers):
                sandbox.spawn(0, image).close(wait=wait)
            spawns[image] = time.monotonic() - started
            started = time.monotonic()
            for _ in range(args.workers):
                worker = sandbox.spawn(0, image)
                worker.send(load)
                assert worker.receive(30)["ok"]
                worker.close(wait=wait)
            loads[image] = time.monotonic() - started
        worker = sandbox.spawn(0, image_for(source))
        worker.send(load)
        worker.receive(30)
        arguments = [encode_argument(1.0), encode_argument(0.1), encode_argument(1e-8)]
        started = time.monotonic()
        for n in range(args.calls):
            worker.send({"op": "call", "id": n, "function": "adam_step_bound", "args": arguments})
            assert worker.receive(30)["ok"]
            worker.end_of_call()
        calls = time.monotonic() - started
        worker.close()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401
    import sympy  # noqa: F401
    warm = fork_cost(30)

    for image in IMAGES:
        print(f"{image} image: spawn and close a worker:                  {_per_item(spawns[image], args.workers)} "
              f"(wall, one slot)")
        print(f"{image} image: spawn, load the reference solution, close: {_per_item(loads[image], args.workers)}")
    print(f"one call's round trip:                     {_per_item(calls, args.calls)}")
    print(f"fork and reap a bare interpreter:          {bare * 1000:.2f} ms")
    print(f"fork and reap one with numpy, sympy, matplotlib: {warm * 1000:.2f} ms (a spawn forks twice)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
