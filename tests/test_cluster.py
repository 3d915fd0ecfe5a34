"""A batch graded on a Dask cluster (``--dask local:N``) writes what one machine writes.

Skipped when distributed is not installed (it is the optional extra ``cluster``).
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from grader.cluster.client import check_report, parse_address, warn_hosts  # noqa: E402
from grader.errors import GraderError  # noqa: E402
from grader.intake.submissions import discover  # noqa: E402
from grader.rubric import DEFAULT_RUBRIC, load_rubric  # noqa: E402
from grader.sandbox.isolation import ALL_LAYERS  # noqa: E402
from grader.sandbox.manager import Isolation  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = (ROOT / "reference" / "adam_vs_momentum.py").read_text()
STUBS = (ROOT / "assignment" / "adam_vs_momentum.py").read_text()


def cli(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_batch(folder: Path, *, slow: int = 0) -> Path:
    """Correct, wrong, stub, broken, empty and looping submissions; ``slow`` more that take a
    second each to import (so that a worker can be caught grading one)."""
    folder.mkdir()
    for n in range(3):
        (folder / f"good{n}.py").write_text(REFERENCE + f"\n# student {n}\n")
    (folder / "stub.py").write_text(STUBS)
    (folder / "broken.py").write_text("def adam_first_update(:\n")
    (folder / "empty.py").write_bytes(b"")
    (folder / "wrong.py").write_text(REFERENCE.replace(
        "return m, v, m / (1 - beta1**t), v / (1 - beta2**t)", "return m, v, m, v"))
    (folder / "loops.py").write_text(REFERENCE.replace(
        "def momentum_updates(", "def momentum_updates(*a, **k):\n    while True:\n        pass\n\n\n"
                                 "def _unused(", 1))
    for n in range(slow):
        (folder / f"slow{n}.py").write_text("import time\ntime.sleep(1.0)\n" + REFERENCE + f"\n# slow {n}\n")
    return folder


def short_limits(batch: Path) -> Path:
    """The default rubric with shorter time limits, beside ``batch``: the looping submission
    then costs seconds, not a minute, in each of the runs below (every run uses it)."""
    text = DEFAULT_RUBRIC.read_text(encoding="utf-8")
    for key, value in (("import_seconds", "5"), ("call_seconds", "1"), ("submission_seconds", "8")):
        text, count = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
        assert count == 1, key
    path = batch.parent / "rubric-short.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def one_machine(tmp_path_factory) -> tuple[Path, Path]:
    """The batch, and its output graded on this machine as usual."""
    base = tmp_path_factory.mktemp("cluster")
    batch = write_batch(base / "batch", slow=6)
    proc = cli("grade", str(batch), "--out", str(base / "plain"), "--quiet", "--workers", "2",
               "--rubric", str(short_limits(batch)), cwd=base)
    assert proc.returncode == 0, proc.stderr
    return batch, base / "plain"


def test_a_local_cluster_writes_the_same_output_folder_as_one_machine(one_machine, tmp_path):
    batch, plain = one_machine
    proc = cli("grade", str(batch), "--out", str(tmp_path / "dask"), "--quiet", "--dask", "local:2",
               "--rubric", str(short_limits(batch)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "different isolation layers" not in proc.stderr  # one host
    expected, got = tree(plain), tree(tmp_path / "dask")
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if expected[name] != got[name]] == []
    loops = json.loads((plain / "reports" / "loops.json").read_text())
    statuses = {item["id"]: item["status"] for item in loops["items"]}
    assert statuses["2.1.momentum_updates"] == "timeout" and loops["total"] > 0  # it cost that item only

    # An interrupted client resumes as on one machine: what is written is kept, the rest graded.
    for student in ("good1", "slow3", "wrong"):
        for suffix in (".json", ".md"):
            (tmp_path / "dask" / "reports" / f"{student}{suffix}").unlink()
    proc = cli("grade", str(batch), "--out", str(tmp_path / "dask"), "--dask", "local:1",
               "--rubric", str(short_limits(batch)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"Graded 3 submission(s), reused {len(list(batch.iterdir())) - 3} unchanged" in proc.stdout
    assert tree(tmp_path / "dask") == expected


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    return children


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _busy_dask_worker(client_pid: int) -> tuple[int, int] | None:
    """(Dask worker pid, its zygote's pid) of a worker of this client grading a submission now."""
    children = _children()
    for worker in children.get(client_pid, []):
        if "spawn_main" not in _cmdline(worker):
            continue
        for zygote in children.get(worker, []):
            if "grader.sandbox.zygote" in _cmdline(zygote) and children.get(zygote):
                return worker, zygote
    return None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the Dask workers through /proc")
def test_a_worker_killed_mid_chunk_costs_nothing(one_machine, tmp_path):
    batch, plain = one_machine
    out = tmp_path / "dask"
    proc = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(batch), "--out", str(out), "--quiet",
                             "--dask", "local:2", "--rubric", str(short_limits(batch))], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    killed = None
    deadline = time.monotonic() + 600
    try:
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            # Once a first chunk is back, both workers are grading (their sandboxes started).
            found = _busy_dask_worker(proc.pid) if list(out.glob("reports/*.json")) else None
            if found:
                os.kill(found[0], signal.SIGKILL)
                killed = found
            time.sleep(0.02)
        stdout, stderr = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed, "no Dask worker was ever seen grading"
    assert proc.returncode == 0, stderr
    expected, got = tree(plain), tree(out)
    assert sorted(got) == sorted(expected)  # nothing lost, no report twice or under another name
    assert [name for name in expected if expected[name] != got[name]] == []  # none ungradable
    time.sleep(1)
    assert not Path(f"/proc/{killed[1]}/cmdline").exists() or not _cmdline(killed[1]), \
        "the killed worker's zygote outlived it"


def _report(one_machine, student: str) -> tuple[dict, object]:
    batch, plain = one_machine
    sub = next(s for s in discover([batch]) if s.student == student)
    return json.loads((plain / "reports" / f"{student}.json").read_text()), sub


def test_the_client_refuses_every_forged_or_foreign_report(one_machine):
    rubric = load_rubric(DEFAULT_RUBRIC)
    data, sub = _report(one_machine, "wrong")
    digest = data["rubric_sha256"]
    report = check_report(data, sub, rubric, digest)
    assert report.student == "wrong" and report.total == data["total"]

    def forged(change):
        copy = json.loads(json.dumps(data))
        change(copy)
        return copy

    first = lambda d: d["items"][0]  # noqa: E731
    cases = {
        "another student's name": lambda d: d.update(student="good0"),
        "another file": lambda d: d.update(sha256="0" * 64),
        "another grader version": lambda d: d.update(grader_version="0.0.1"),
        "another rubric": lambda d: d.update(rubric_sha256="f" * 64),
        "an extra field": lambda d: d.update(extra=1),
        "a missing field": lambda d: d.pop("notes"),
        "more points than the item has": lambda d: first(d).update(points=first(d)["max_points"] + 1),
        "a string for points": lambda d: first(d).update(points="1"),
        "raised maximum": lambda d: first(d).update(max_points=100),
        "an item missing": lambda d: d["items"].pop(),
        "an item renamed": lambda d: first(d).update(id="1z"),
        "an unknown status": lambda d: first(d).update(status="excellent"),
        "an unknown misconception": lambda d: first(d).update(misconceptions=["made_up"]),
        "an object in feedback": lambda d: first(d).update(feedback=[{"x": 1}]),
        "an unknown layer": lambda d: d["isolation"].append("magic"),
        "a part that does not add up": lambda d: d["parts"][0].update(points=d["parts"][0]["points"] + 0.5),
        "a total that does not add up": lambda d: d.update(total=d["total"] + 1),
        "an outcome that does not follow": lambda d: d.update(outcome={"kind": "graded", "reason": ""})
        if d["outcome"]["kind"] != "graded" else d.update(outcome={"kind": "not_run", "reason": "x"}),
        "an unknown outcome": lambda d: d["outcome"].update(kind="perfect"),
        "not a dict": lambda d: d.clear(),
    }
    for name, change in cases.items():
        with pytest.raises(ValueError):
            check_report(forged(change), sub, rubric, digest)
            pytest.fail(f"accepted a report with {name}")
    with pytest.raises(ValueError):
        check_report([data], sub, rubric, digest)


def test_hosts_with_different_layers_are_named_in_a_warning():
    full = Isolation(tuple(ALL_LAYERS), ())
    fewer = Isolation(tuple(layer for layer in ALL_LAYERS if layer not in ("no_network", "pid_namespace")),
                      ("no user namespaces",))
    stream = io.StringIO()
    warn_hosts({"node-a": full, "node-b": fewer}, stream)
    text = stream.getvalue()
    assert "different isolation layers" in text and "node-a: every layer" in text
    assert "node-b: missing no_network, pid_namespace" in text
    # the layers no host has are then announced as on one machine: one line, since the missing
    # two leave no grade exposed (the loud block is for modes that do)
    assert "here: no_network, pid_namespace" in text and "WITHOUT these isolation layers" not in text
    same = io.StringIO()
    warn_hosts({"node-a": full, "node-c": full}, same)
    assert same.getvalue() == ""


def test_addresses_are_checked_before_anything_starts(tmp_path):
    assert parse_address("local:3") == ("local", 3)
    assert parse_address("tcp://10.0.0.5:8786") == ("tcp://10.0.0.5:8786", None)
    for bad in ("local:0", "local:x", " "):
        with pytest.raises(GraderError):
            parse_address(bad)
    (tmp_path / "a.py").write_text(REFERENCE)
    proc = cli("grade", str(tmp_path / "a.py"), "--out", str(tmp_path / "out"), "--dask", "local:0", cwd=tmp_path)
    assert proc.returncode == 2 and "local:N needs" in proc.stderr, proc.stderr
    assert not (tmp_path / "out" / "reports").exists()
