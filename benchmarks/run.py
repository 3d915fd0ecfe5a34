"""Benchmark: grade N varied submissions with the real CLI and the full sandbox.

    python benchmarks/run.py            # N = 1000, the figure the README quotes
    python benchmarks/run.py -n 200     # a quicker look
    python benchmarks/run.py -n 200 --dask local:2   # and the same batch on a local Dask cluster

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
import resource
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
    """Peak of the summed PSS of a process and all its descendants, read four times a second.

    Each reading walks ``/proc`` and every process's ``smaps_rollup`` (its page tables):
    read every 20 ms, as it once was, that slowed the measured grader itself by 18 % (121.0 s
    against 102.4 s unsampled for the same 1,000 files) while the floor ran unsampled. Every
    250 ms it costs nothing measurable (96.5 s against 97.1 s) and finds the same peak
    (367 against 370 MiB): the peak is the steady set of long-lived processes."""

    def __init__(self, root_pid: int, interval: float = 0.25):
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


class CpuAccount:
    """CPU seconds of a process and of every descendant, even those nobody waits for (the
    zygote lets its supervisors be reaped by the kernel, so their time never reaches a
    parent's ``RUSAGE_CHILDREN``): a cgroup-v1 ``cpuacct`` group of its own, where the machine
    has one and we may create groups (root). ``seconds`` is None elsewhere."""

    ROOT = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self, name: str):
        self.path = self.ROOT / f"adam-bench-{os.getpid()}-{name}"
        try:
            self.path.mkdir()
        except OSError:
            self.path = None

    def enter(self) -> None:
        """For ``preexec_fn``: move the new process into the group before it runs anything."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    @property
    def seconds(self) -> float | None:
        if self.path is None:
            return None
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        if self.path is not None:
            for _ in range(50):  # processes still leaving the group keep it busy a moment
                try:
                    self.path.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


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
sys.path.insert(0, os.path.join(sys.argv[2], "benchmarks"))
import numpy as np, sympy as sp
from grader.sandbox import zygote
from grader.sandbox.worker import load_submission
from own_code import call_every
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
            call_every(module, calls)
        except BaseException:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
print(time.monotonic() - started)
"""


def floor(files: list[Path], workers: int, calls_file: Path) -> tuple[float, float]:
    """Seconds to merely run the students' functions: a warm process forks once per file and
    calls every planned function (no sandbox, no judging, no reports), ``workers`` at once;
    and the CPU seconds that took (every process, warm-up included)."""
    chunks = [files[i::workers] for i in range(workers)]
    account = CpuAccount("floor")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    processes = [subprocess.Popen([PYTHON, "-c", FLOOR_RUNNER, str(calls_file), str(ROOT)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  preexec_fn=account.enter)
                 for _ in chunks]
    for process, chunk in zip(processes, chunks):
        process.stdin.write("\n".join(map(str, chunk)))
        process.stdin.close()
    for process in processes:
        process.wait()
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the floor waits for every fork
    cpu = account.seconds
    if cpu is None:
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    account.close()
    return elapsed, cpu


def dask_run(batch: Path, out: Path, address: str, plain_out: Path) -> dict:
    """Grade ``batch`` again with ``grade --dask ADDRESS``: wall time, throughput, same output?"""
    command = [PYTHON, "-m", "grader", "grade", str(batch), "--out", str(out), "--quiet", "--dask", address]
    started = time.monotonic()
    process = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"grade --dask {address} failed:\n{process.stderr.decode(errors='replace')}")

    def files(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    count = len(list(batch.iterdir()))
    ours, theirs = files(out), files(plain_out)
    differing = sorted(name for name in set(ours) | set(theirs) if ours.get(name) != theirs.get(name))
    return {"address": address, "seconds": round(elapsed, 2), "submissions_per_second": round(count / elapsed, 1),
            "same_output_as_plain_run": not differing, "differing_files": differing}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# Large wrong answers (the attack of "cost that grows with the attack"): each file returns
# expressions of thousands of nodes, every file a different one (so no verdict is cached).
LARGE = {
    "wide_sum": "\ndef adam_first_update(w1, g1, alpha, beta1, beta2, eps):\n    import sympy as sp\n"
                "    big = sp.Add(*[g1**(k % 7) * alpha / (k + {n}) for k in range(3000)], evaluate=False)\n"
                "    return {{'m1': big, 'v1': big, 'm_hat1': big, 'v_hat1': big, 'w2': big}}\n",
    "expanded_power": "\ndef adam_second_update(w1, g1, g2, alpha, beta1, beta2, eps):\n    import sympy as sp\n"
                      "    big = sp.expand((g1 + g2 + alpha + beta1 + {n}) ** 16)\n"
                      "    return {{'m2': big, 'v2': big, 'm_hat2': big, 'v_hat2': big, 'w3': big}}\n",
    "deep_nest": "\ndef adam_scaled_step(c, m_hat, v_hat, alpha, eps):\n    import sympy as sp\n"
                 "    e = m_hat\n    for k in range(400):\n        e = sp.sqrt(e**2 + v_hat + k + {n}, evaluate=False)\n"
                 "    return e * alpha\n",
}


def add_large(folder: Path, kinds: dict[str, str], share: float, seed: int = 7) -> None:
    """Turn ``share`` of the honest submissions into large wrong answers (in place)."""
    rng = random.Random(seed)
    reference = (ROOT / "reference" / "adam_vs_momentum.py").read_text(encoding="utf-8")
    honest = sorted(name for name, kind in kinds.items() if kind in MIX)
    for number, name in enumerate(rng.sample(honest, int(round(share * len(honest))))):
        label = sorted(LARGE)[number % len(LARGE)]
        text = reference + LARGE[label].format(n=number + 1)
        (folder / f"{name}.py").write_text(f"# large {number}\n{text}\n", encoding="utf-8")
        kinds[name] = f"large:{label}"


def run_measured(command: list[str], name: str, cwd: Path = ROOT) -> tuple[float, int, float | None, int, str]:
    """Run a command: (seconds, peak PSS bytes of its tree, CPU seconds of its tree, exit code, stderr)."""
    account = CpuAccount(name)
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=account.enter)
    sampler = MemorySampler(process.pid)
    sampler.start()
    _, stderr = process.communicate()
    elapsed = time.monotonic() - started
    sampler.stop()
    cpu = account.seconds
    account.close()
    return elapsed, sampler.peak, cpu, process.returncode, stderr.decode(errors="replace")


def _cold_runs(tmp: Path, repeats: int, label: str, env: dict) -> tuple[list[float], list[float]]:
    """``repeats`` cold runs of one submission each: the Gradescope path, then the CLI."""
    reference = (ROOT / "reference" / "adam_vs_momentum.py").read_bytes()
    gradescope, cli = [], []
    for run in range(repeats):
        root = tmp / f"cold-{label}{run}" / "autograder"
        (root / "submission").mkdir(parents=True)
        (root / "submission" / "adam_vs_momentum.py").write_bytes(reference)
        started = time.monotonic()
        subprocess.run([PYTHON, "-m", "grader.release.gradescope", "--root", str(root)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        gradescope.append(time.monotonic() - started)
        started = time.monotonic()
        subprocess.run([PYTHON, "-m", "grader", "grade", str(root / "submission"), "--out",
                        str(root.parent / "out"), "--quiet"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        cli.append(time.monotonic() - started)
    return gradescope, cli


def _min_median(values: list[float]) -> dict:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3)}


def cold_starts(tmp: Path, repeats: int) -> dict:
    """One submission from a cold start, ``repeats`` times each: the Gradescope path and the CLI,
    run from this checkout as it is, then with the grader's own modules compiled to bytecode
    beforehand (as ``pip install .`` leaves them, and so Gradescope's setup; an editable
    install compiles them at every start where ``PYTHONDONTWRITEBYTECODE`` is set, as on the
    project's machine). The bytecode files this writes into the checkout are removed after."""
    gradescope, cli = _cold_runs(tmp, repeats, "as-is", dict(os.environ))
    folders = [ROOT / "grader", ROOT / "reference"]
    before = {p for folder in folders for p in folder.rglob("*.pyc")}
    subprocess.run([PYTHON, "-m", "compileall", "-q", *map(str, folders)], check=True, stdout=subprocess.DEVNULL)
    try:
        compiled_gs, compiled_cli = _cold_runs(tmp, repeats, "compiled", dict(os.environ))
    finally:
        for path in {p for folder in folders for p in folder.rglob("*.pyc")} - before:
            path.unlink(missing_ok=True)
    return {"cold_runs": repeats,
            "cold_gradescope_seconds": _min_median(gradescope), "cold_cli_seconds": _min_median(cli),
            "cold_gradescope_compiled_seconds": _min_median(compiled_gs),
            "cold_cli_compiled_seconds": _min_median(compiled_cli)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="number of submissions (default 1000)")
    parser.add_argument("--naive-sample", type=int, default=60, help="submissions graded the naive way")
    parser.add_argument("--workers", type=int, default=None, help="passed to grade --workers")
    parser.add_argument("--processes", type=int, default=0,
                        help="passed to grade --processes (0, the default: one trusted process per worker)")
    parser.add_argument("--hostile-large", type=float, default=0.0, metavar="SHARE",
                        help="turn this share of the honest submissions into large wrong answers "
                             "(thousands of expression nodes each, every one different)")
    parser.add_argument("--cold", type=int, default=0, metavar="RUNS",
                        help="also time one submission from a cold start, RUNS times: the Gradescope "
                             "path and the CLI (summary and charts included)")
    parser.add_argument("--dask", metavar="ADDRESS", default=None,
                        help="also grade the batch with grade --dask ADDRESS (e.g. local:2) and compare")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    workers = args.workers or (os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="adam-bench-") as tmp:
        tmp = Path(tmp)
        batch = tmp / "submissions"
        batch.mkdir()
        kinds = generate(batch, args.n)
        if args.hostile_large:
            add_large(batch, kinds, args.hostile_large)
        out, timings = tmp / "out", tmp / "timings.csv"
        command = [PYTHON, "-m", "grader", "grade", str(batch), "--out", str(out), "--quiet",
                   "--workers", str(workers), "--processes", str(args.processes), "--timings", str(timings)]
        elapsed, peak, tree_cpu, code, stderr = run_measured(command, "grader")
        if code != 0:
            print(stderr, file=sys.stderr)
            return 1
        per_student = {line.split(",")[0]: float(line.split(",")[1]) for line in timings.read_text().splitlines()[1:]}
        per_submission = list(per_student.values())
        trusted = json.loads(timings.with_suffix(".cpu.json").read_text())
        reports = len(list((out / "reports").glob("*.json")))
        on_dask = dask_run(batch, tmp / "out-dask", args.dask, out) if args.dask else None

        sys.path.insert(0, str(ROOT))
        from grader.judging.inputs import draw_inputs
        from grader.judging.items import plan_calls

        calls_file = tmp / "calls.json"
        calls_file.write_text(json.dumps([[c.function, list(c.args)] for c in plan_calls(draw_inputs("naive"))]))
        sample_names = sorted(kinds)[:: max(1, len(kinds) // args.naive_sample)][: args.naive_sample]
        sample = [batch / f"{name}.py" for name in sample_names]
        naive_rate, naive_times = naive(sample, workers, calls_file, timeout=120)
        honest = [batch / f"{name}.py" for name, kind in sorted(kinds.items()) if not kind.startswith("hostile")]
        floor_seconds, floor_cpu = floor(honest, workers, calls_file)
        cold = cold_starts(tmp, args.cold) if args.cold else {}

    rate = args.n / elapsed
    n = args.n
    split = {}
    if tree_cpu is not None:
        sandbox_cpu = tree_cpu - trusted["trusted_cpu_seconds"] - floor_cpu
        split = {"grader_tree_cpu_seconds": round(tree_cpu, 2),
                 "trusted_cpu_ms_per_submission": round(1000 * trusted["trusted_cpu_seconds"] / n, 1),
                 "sandbox_cpu_ms_per_submission": round(1000 * sandbox_cpu / n, 1),
                 "student_cpu_ms_per_submission": round(1000 * floor_cpu / n, 1),
                 "cpu_ratio_to_floor": round(tree_cpu / floor_cpu, 3)}
    by_kind: dict[str, list[float]] = {}
    for name, seconds in per_student.items():
        by_kind.setdefault(kinds.get(name, "?").split(":")[0], []).append(seconds)
    honest_median = statistics.median(by_kind.get("correct", []) + by_kind.get("misconception", [])
                                      + by_kind.get("partial", []) or [0.0])
    figures = {
        "submissions": n, "reports": reports, "workers": workers, "cpu_count": os.cpu_count(),
        "trusted_processes": trusted["trusted_processes"],
        "seconds": round(elapsed, 2), "submissions_per_second": round(rate, 1),
        "median_seconds": round(statistics.median(per_submission), 4),
        "p95_seconds": round(percentile(per_submission, 0.95), 4),
        "honest_median_seconds": round(honest_median, 4),
        "peak_memory_mib": round(peak / 2**20, 1),
        "naive_sample": len(sample), "naive_submissions_per_second": round(naive_rate, 2),
        "naive_median_seconds": round(statistics.median(naive_times), 3),
        "speedup_vs_naive": round(rate / naive_rate, 1),
        "student_code_floor_seconds": round(floor_seconds, 2), "student_code_floor_files": len(honest),
        "student_code_floor_cpu_seconds": round(floor_cpu, 2),
        "ratio_to_floor": round(elapsed / floor_seconds, 3),
        "trusted_cpu_seconds": trusted["trusted_cpu_seconds"],
        "grader_process_cpu_ms_per_submission": round(1000 * trusted["grader_process_cpu_seconds"] / n, 2),
        **split,
        "kinds": {k: sum(1 for v in kinds.values() if v.split(":")[0] == k)
                  for k in sorted({v.split(":")[0] for v in kinds.values()})},
        **cold,
    }
    if "large" in by_kind:
        figures["large_median_seconds"] = round(statistics.median(by_kind["large"]), 4)
        figures["large_max_seconds"] = round(max(by_kind["large"]), 4)
        figures["large_to_honest_median"] = round(figures["large_median_seconds"] / honest_median, 2)
    print(f"Graded {n} submissions ({figures['kinds']}) with the sandbox on, {workers} workers, "
          f"{figures['trusted_processes']} trusted process(es):")
    print(f"  {elapsed:.1f} s in all, {rate:.1f} submissions/s; per submission median "
          f"{figures['median_seconds'] * 1000:.0f} ms, 95th percentile {figures['p95_seconds'] * 1000:.0f} ms")
    print(f"  peak memory (PSS of the grader, trusted processes, zygote and workers): {figures['peak_memory_mib']:.0f} MiB")
    print(f"Floor: merely running the students' own functions for the {len(honest)} non-hostile files "
          f"(warm fork per file, no sandbox, no judging, {workers} at once) takes {floor_seconds:.1f} s "
          f"({floor_cpu:.1f} s of CPU)")
    print(f"  ratio to the floor: {figures['ratio_to_floor']:.2f}x (target 1.15x, moonshot 1.05x)")
    if split:
        print(f"  CPU: {tree_cpu:.1f} s for the grader's whole tree, {split['cpu_ratio_to_floor']:.2f}x the floor's; "
              f"per submission: trusted side {split['trusted_cpu_ms_per_submission']:.1f} ms (hidden inputs, "
              f"templates, judging, reports), sandbox {split['sandbox_cpu_ms_per_submission']:.1f} ms (forks, "
              f"namespaces, limits, clean-up, the zygote's start, and the hostile files' capped runs), "
              f"students' code {split['student_cpu_ms_per_submission']:.1f} ms")
    else:
        print(f"  CPU: trusted side {1000 * trusted['trusted_cpu_seconds'] / n:.1f} ms per submission "
              "(the sandbox's share needs a cpuacct cgroup: run as root on Linux)")
    serial = figures["grader_process_cpu_ms_per_submission"]
    print(f"  the grader's own process (hands out work, collects, class files): {serial:.2f} ms of CPU per "
          f"submission, so with enough cores the batch tops out near {1000 / max(serial, 1e-3):.0f} submissions/s; "
          f"below that, each core adds about 1 / (trusted + sandbox + students' CPU per submission)")
    if "large" in by_kind:
        print(f"Large wrong answers ({figures['kinds']['large']}): median {figures['large_median_seconds'] * 1000:.0f} ms, "
              f"max {figures['large_max_seconds'] * 1000:.0f} ms, {figures['large_to_honest_median']:.1f}x the honest "
              f"median ({honest_median * 1000:.0f} ms)")
    print(f"Naive design on {len(sample)} of them (fresh python per submission, no sandbox): "
          f"{naive_rate:.2f} submissions/s, median {figures['naive_median_seconds']:.2f} s")
    print(f"  speed-up of the sandboxed zygote design: {figures['speedup_vs_naive']:.1f}x")
    if cold:
        def shown(key: str) -> str:
            return f"{cold[key]['min']:.2f} / {cold[key]['median']:.2f} s"

        print(f"Cold start, one submission, {args.cold} runs (min / median): Gradescope path "
              f"{shown('cold_gradescope_seconds')} (target 1.0 s); CLI with summary and charts "
              f"{shown('cold_cli_seconds')} (target 1.5 s)")
        print(f"  with the grader's modules compiled beforehand (as pip install . leaves them): Gradescope "
              f"path {shown('cold_gradescope_compiled_seconds')}; CLI {shown('cold_cli_compiled_seconds')}")
    if on_dask:
        figures["dask"] = on_dask
        print(f"On Dask ({on_dask['address']}): {on_dask['seconds']:.1f} s in all, "
              f"{on_dask['submissions_per_second']:.1f} submissions/s, against {rate:.1f} submissions/s "
              f"without ({workers} workers); same files: {on_dask['same_output_as_plain_run']}")
        if on_dask["differing_files"]:
            print(f"  files that differ ({len(on_dask['differing_files'])}): "
                  f"{', '.join(on_dask['differing_files'][:20])}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
