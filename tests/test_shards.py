"""--shard i/n and merge give the same output folder as one run over the whole batch."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def grade(args, cwd):
    subprocess.run([sys.executable, "-m", "grader", *args, "--quiet"] if args[0] == "grade"
                   else [sys.executable, "-m", "grader", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=600)


def tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_batch(folder: Path) -> Path:
    folder.mkdir()
    reference = (ROOT / "reference" / "adam_vs_momentum.py").read_text()
    stubs = (ROOT / "assignment" / "adam_vs_momentum.py").read_text()
    for n in range(3):
        (folder / f"good{n}.py").write_text(reference + f"\n# student {n}\n")
    (folder / "stub.py").write_text(stubs)
    (folder / "broken.py").write_text("def adam_first_update(:\n")
    (folder / "wrong.py").write_text(reference.replace(
        "return m, v, m / (1 - beta1**t), v / (1 - beta2**t)", "return m, v, m, v"))
    return folder


def test_sharded_batch_merges_into_the_same_output_as_one_run(tmp_path):
    batch = write_batch(tmp_path / "batch")
    grade(["grade", str(batch), "--out", str(tmp_path / "whole")], tmp_path)
    grade(["grade", str(batch), "--out", str(tmp_path / "s1"), "--shard", "1/2"], tmp_path)
    grade(["grade", str(batch), "--out", str(tmp_path / "s2"), "--shard", "2/2"], tmp_path)
    s1 = {p.stem for p in (tmp_path / "s1" / "reports").glob("*.json")}
    s2 = {p.stem for p in (tmp_path / "s2" / "reports").glob("*.json")}
    assert s1 and s2 and not s1 & s2 and len(s1 | s2) == 6
    grade(["merge", str(tmp_path / "s1"), str(tmp_path / "s2"), "--out", str(tmp_path / "merged")], tmp_path)
    whole, merged = tree(tmp_path / "whole"), tree(tmp_path / "merged")
    assert sorted(whole) == sorted(merged)
    different = [name for name in whole if whole[name] != merged[name]]
    assert different == []


def test_merge_refuses_a_folder_without_reports(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = subprocess.run([sys.executable, "-m", "grader", "merge", str(tmp_path / "empty"), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 2 and "no reports/ folder" in proc.stderr
