"""Benchmark: grade N varied submissions with the real CLI and the full sandbox.

    python benchmarks/run.py            # N = 1000, the figure the README quotes
    python benchmarks/run.py -n 200     # a quicker look

It writes N textually different submissions into a temporary folder (45 % correct answers in
many equivalent forms, 35 % misconceptions, 17 % partial or wrongly typed work, all taken
from the test corpus, plus stubs; 2 % broken files; 1 % hostile ones), grades them with ``python -m grader grade`` (sandbox on, default
workers), and reports submissions per second, the median and 95th-percentile time per
submission and the peak memory (proportional set size, summed over the grader, the zygote
and every worker, sampled every 20 ms). In the same run it grades a sample with the naive
design (one fresh Python process per submission that imports numpy and sympy, loads the
file and calls its functions, no sandbox) and reports the ratio of the two throughputs. Last, it measures the floor that no grader
can go below: the time to merely run the students' own functions once (a warm process
forking once per file, no sandbox, no judging), which shows how much of the total is the
students' code itself (sympy's assumption system and ``simplify`` dominate it).

Nothing here is a test: the figures depend on the machine. The README gives the figures of
one run on the project's 2-core machine and this command.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# A few hostile behaviours, appended to a correct solution so that the honest functions keep
# their points. Each is cheap for the grader by design of the sandbox (or bounded by limits).
HOSTILE = {
    "exit_at_import": "\nimport os\nos._exit(3)\n",
    "sleep_in_bound": "\nimport time\n_orig = adam_step_bound\ndef adam_step_bound(m_hat, alpha, eps):\n"
                      "    time.sleep(60)\n",
    "loop_in_scale": "\ndef momentum_scale_factor(c):\n    while True:\n        pass\n",
    "stdin_read": "\nimport sys\ndef adam_scale_factor(c):\n    return sys.stdin.read()\n",
    "print_flood": "\ndef momentum_scale_factor(c):\n    print('x' * 10_000_000)\n    return c\n",
    "fork_bomb": "\nimport os\ndef adam_scale_factor(c):\n    for _ in range(200):\n        try:\n"
                 "            os.fork()\n        except OSError:\n            break\n    return c\n",
    "memory_bomb": "\ndef adam_step_bound(m_hat, alpha, eps):\n    b = bytearray(4 * 1024**3)\n"
                   "    return b\n",
    "rigged_eq": "\nclass Always(float):\n    def __eq__(self, other):\n        return True\n"
                 "def momentum_scale_factor(c):\n    return Always(1.0)\n",
}
BROKEN = {
    "syntax.py": b"def adam_first_update(:\n",
    "empty.py": b"",
    "binary.py": b"\x7fELF\x00\x00\x01binary",
    "latin1.py": "# caf\xe9\n".encode("latin-1"),
}


#: Share of each kind of submission in the generated batch (the rest: broken and hostile files).
MIX = {"correct": 0.45, "misconception": 0.35, "partial": 0.17}


def templates() -> dict[str, list[str]]:
    """Source texts by kind: the test corpus (c*, m*, e* files), the stubs and the reference."""
    corpus = ROOT / "tests" / "corpus"
    kinds = {"c": "correct", "m": "misconception", "e": "partial"}
    pool: dict[str, list[str]] = {kind: [] for kind in MIX}
    for path in sorted(corpus.glob("*.py")) if corpus.is_dir() else []:
        pool[kinds.get(path.name[0], "partial")].append(path.read_text(encoding="utf-8"))
    reference = (ROOT / "reference" / "adam_vs_momentum.py").read_text(encoding="utf-8")
    pool["correct"].append(reference)
    pool["misconception"].append(reference.replace(
        "return m, v, m / (1 - beta1**t), v / (1 - beta2**t)", "return m, v, m, v"))
    pool["partial"].append((ROOT / "assignment" / "adam_vs_momentum.py").read_text(encoding="utf-8"))
    return pool


def generate(folder: Path, n: int, seed: int = 2026) -> dict[str, str]:
    """Write n textually different submissions; returns student id -> kind."""
    rng = random.Random(seed)
    pool = templates()
    reference = (ROOT / "reference" / "adam_vs_momentum.py").read_text(encoding="utf-8")
    kinds = {}
    hostile_count = max(1, n // 100)
    broken_count = max(1, n // 50)
    for index in range(n):
        name = f"student{index:05d}"
        if index < hostile_count:
            kind = sorted(HOSTILE)[index % len(HOSTILE)]
            text = reference + HOSTILE[kind]
            kinds[name] = f"hostile:{kind}"
        elif index < hostile_count + broken_count:
            label = sorted(BROKEN)[index % len(BROKEN)]
            (folder / f"{name}.py").write_bytes(BROKEN[label])
            kinds[name] = f"broken:{label}"
            continue
        else:
            kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
            text = rng.choice(pool[kind])
            kinds[name] = kind
        # Every file differs: a comment and a harmless module constant of its own.
        text = f"# submission {index} ({rng.random():.12f})\n{text}\n_SUBMISSION_TAG = {index}\n"
        (folder / f"{name}.py").write_text(text, encoding="utf-8")
    return kinds


class MemorySampler(threading.Thread):
    """Peak of the summed PSS of a process and all its descendants."""

    def __init__(self, root_pid: int, interval: float = 0.02):
        super().__init__(daemon=True)
        self.root_pid, self.interval, self.peak = root_pid, interval, 0
        self._halt = threading.Event()

    @staticmethod
    def _children() -> dict[int, list[int]]:
        tree: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                tree.setdefault(ppid, []).append(int(entry))
        return tree

    def _total(self) -> int:
        tree, stack, total = self._children(), [self.root_pid], 0
        while stack:
            pid = stack.pop()
            stack.extend(tree.get(pid, []))
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
                            break
            except OSError:
                pass
        return total

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, self._total())
            time.sleep(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


NAIVE_RUNNER = r"""
import json, sys, importlib.util
import numpy as np, sympy as sp
sys.path.insert(0, sys.argv[3])
from grader.engine.symbols import make_symbol
calls = json.load(open(sys.argv[2]))
spec = importlib.util.spec_from_file_location("adam_vs_momentum", sys.argv[1])
module = importlib.util.module_from_spec(spec)
try:
    spec.loader.exec_module(module)
except BaseException:
    sys.exit(0)
def arg(a):
    (k, v), = a.items()
    if k == "sym": return make_symbol(v)
    if k == "array": return np.array(v["data"], dtype=float).reshape(v["shape"])
    return v
for function, args in calls:
    try:
        getattr(module, function)(*[arg(a) for a in args])
    except BaseException:
        pass
"""


def naive(files: list[Path], workers: int, calls_file: Path, timeout: float) -> tuple[float, list[float]]:
    """Throughput of the naive design over ``files`` (same parallelism), and per-file times."""
    def one(path: Path) -> float:
        started = time.monotonic()
        try:
            subprocess.run([PYTHON, "-c", NAIVE_RUNNER, str(path), str(calls_file), str(ROOT)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        return time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        times = list(pool.map(one, files))
    return len(files) / (time.monotonic() - started), times


FLOOR_RUNNER = r"""
import json, os, signal, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import numpy as np, sympy as sp
from grader.sandbox import zygote
from grader.sandbox.worker import decode_argument, load_submission
from grader.engine.wire import encode_value
zygote._warm_up()
calls = json.load(open(sys.argv[1]))
files = sys.stdin.read().split()
workdir = Path(os.environ.get("TMPDIR", "/tmp"))
started = time.monotonic()
for path in files:
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1); os.dup2(1, 2)
        signal.alarm(10)
        try:
            module = load_submission(Path(path).read_text(errors="replace"), "adam_vs_momentum.py", workdir)
            for function, args in calls:
                try:
                    json.dumps(encode_value(getattr(module, function)(*[decode_argument(a) for a in args])))
                except BaseException:
                    pass
        except BaseException:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
print(time.monotonic() - started)
"""


def floor(files: list[Path], workers: int, calls_file: Path) -> float:
    """Seconds to merely run the students' functions: a warm process forks once per file and
    calls every planned function (no sandbox, no judging, no reports), ``workers`` at once."""
    chunks = [files[i::workers] for i in range(workers)]
    started = time.monotonic()
    processes = [subprocess.Popen([PYTHON, "-c", FLOOR_RUNNER, str(calls_file), str(ROOT)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                 for _ in chunks]
    for process, chunk in zip(processes, chunks):
        process.stdin.write("\n".join(map(str, chunk)))
        process.stdin.close()
    for process in processes:
        process.wait()
    return time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="number of submissions (default 1000)")
    parser.add_argument("--naive-sample", type=int, default=60, help="submissions graded the naive way")
    parser.add_argument("--workers", type=int, default=None, help="passed to grade --workers")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    workers = args.workers or (os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="adam-bench-") as tmp:
        tmp = Path(tmp)
        batch = tmp / "submissions"
        batch.mkdir()
        kinds = generate(batch, args.n)
        out, timings = tmp / "out", tmp / "timings.csv"
        command = [PYTHON, "-m", "grader", "grade", str(batch), "--out", str(out), "--quiet",
                   "--workers", str(workers), "--timings", str(timings)]
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sampler = MemorySampler(process.pid)
        sampler.start()
        stdout, stderr = process.communicate()
        elapsed = time.monotonic() - started
        sampler.stop()
        if process.returncode != 0:
            print(stderr.decode(errors="replace"), file=sys.stderr)
            return 1
        per_submission = [float(line.split(",")[1]) for line in timings.read_text().splitlines()[1:]]
        reports = len(list((out / "reports").glob("*.json")))

        sys.path.insert(0, str(ROOT))
        from grader.judging.inputs import draw_inputs
        from grader.judging.items import plan_calls

        calls_file = tmp / "calls.json"
        calls_file.write_text(json.dumps([[c.function, list(c.args)] for c in plan_calls(draw_inputs("naive"))]))
        sample_names = sorted(kinds)[:: max(1, len(kinds) // args.naive_sample)][: args.naive_sample]
        sample = [batch / f"{name}.py" for name in sample_names]
        naive_rate, naive_times = naive(sample, workers, calls_file, timeout=120)
        honest = [batch / f"{name}.py" for name, kind in sorted(kinds.items()) if not kind.startswith("hostile")]
        floor_seconds = floor(honest, workers, calls_file)

    rate = args.n / elapsed
    figures = {
        "submissions": args.n, "reports": reports, "workers": workers, "cpu_count": os.cpu_count(),
        "seconds": round(elapsed, 2), "submissions_per_second": round(rate, 1),
        "median_seconds": round(statistics.median(per_submission), 4),
        "p95_seconds": round(percentile(per_submission, 0.95), 4),
        "peak_memory_mib": round(sampler.peak / 2**20, 1),
        "naive_sample": len(sample), "naive_submissions_per_second": round(naive_rate, 2),
        "naive_median_seconds": round(statistics.median(naive_times), 3),
        "speedup_vs_naive": round(rate / naive_rate, 1),
        "student_code_floor_seconds": round(floor_seconds, 1), "student_code_floor_files": len(honest),
        "kinds": {k: sum(1 for v in kinds.values() if v.split(":")[0] == k)
                  for k in sorted({v.split(":")[0] for v in kinds.values()})},
    }
    print(f"Graded {args.n} submissions ({figures['kinds']}) with the sandbox on, {workers} workers:")
    print(f"  {elapsed:.1f} s in all, {rate:.1f} submissions/s; per submission median "
          f"{figures['median_seconds'] * 1000:.0f} ms, 95th percentile {figures['p95_seconds'] * 1000:.0f} ms")
    print(f"  peak memory (PSS of the grader, zygote and workers): {figures['peak_memory_mib']:.0f} MiB")
    print(f"Naive design on {len(sample)} of them (fresh python per submission, no sandbox): "
          f"{naive_rate:.2f} submissions/s, median {figures['naive_median_seconds']:.2f} s")
    print(f"  speed-up of the sandboxed zygote design: {figures['speedup_vs_naive']:.1f}x")
    print(f"Floor: merely running the students' own functions for the {len(honest)} non-hostile files "
          f"(warm fork per file, no sandbox, no judging, {workers} at once) takes {floor_seconds:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
