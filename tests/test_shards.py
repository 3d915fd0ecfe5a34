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


# --- merge takes from each shard only what that shard's run exported, and never mixes gradings

import csv  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402

import pytest  # noqa: E402

from grader.batch import MANIFEST_FILE, BatchOptions, grade_batch, merge_outputs  # noqa: E402
from grader.errors import InputError  # noqa: E402

REFERENCE = (ROOT / "reference" / "adam_vs_momentum.py").read_text()
STUBS = (ROOT / "assignment" / "adam_vs_momentum.py").read_text()


def run_shard(subs: Path, out: Path, shard, rubric: Path | None = None):
    options = BatchOptions(out=out, workers=2, progress=False, shard=shard,
                           **({"rubric_path": rubric} if rubric else {}))
    return grade_batch([subs], options, stream=io.StringIO())


def merge(shards, out: Path, rubric: Path | None = None):
    stream = io.StringIO()
    result = merge_outputs(shards, BatchOptions(out=out, **({"rubric_path": rubric} if rubric else {})),
                           stream=stream)
    return result, stream.getvalue()


def csv_students(path: Path, column: str = "student") -> list[str]:
    return [row[column] for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))]


def _three_students(root: Path) -> Path:
    """``root/subs`` with alice (correct), bob (the stubs) and carol (correct, another file)."""
    subs = root / "subs"
    subs.mkdir()
    (subs / "alice.py").write_text(REFERENCE)
    (subs / "bob.py").write_text(STUBS)
    (subs / "carol.py").write_text(REFERENCE + "\n# carol\n")
    return subs


@pytest.fixture(scope="module")
def regraded_shards(tmp_path_factory):
    """alice, bob and carol graded in two shards; alice's file is deleted and both shards are
    graded again (their runs leave alice's old report out of every export)."""
    root = tmp_path_factory.mktemp("shards")
    subs = _three_students(root)
    for n in (1, 2):
        run_shard(subs, root / f"s{n}", (n, 2))
    assert (root / "s1" / "reports" / "alice.json").is_file()
    (subs / "alice.py").unlink()
    for n in (1, 2):
        run_shard(subs, root / f"s{n}", (n, 2))
    return root


def test_merge_leaves_out_the_reports_the_shards_left_out(regraded_shards, tmp_path):
    root = regraded_shards
    result, warnings = merge([root / "s1", root / "s2"], tmp_path / "merged")
    merged = tmp_path / "merged"
    assert csv_students(merged / "grades.csv") == ["bob", "carol"]
    assert csv_students(merged / "moodle_import.csv", "Student ID") == ["bob", "carol"]
    assert sorted(p.name for p in (merged / "gradescope").iterdir()) == ["bob", "carol"]
    assert not (merged / "reports" / "alice.json").exists()
    assert [r.student for r in result.reports] == ["bob", "carol"]
    assert result.left_out == (("alice", "its input is not in this run"),)
    assert "left out of the merge" in warnings and "alice (its input is not in this run)" in warnings
    assert "reports/alice.json" in (merged / "skipped.txt").read_text()
    # the same class files as one run over the batch into the folder that held alice's report
    whole = tmp_path / "whole"
    shutil.copytree(root / "s1", whole)
    run_shard(root / "subs", whole, None)
    for name in ("grades.csv", "moodle_import.csv", "summary.md", "skipped.txt", MANIFEST_FILE,
                 "gradescope/bob/results.json", "gradescope/carol/results.json"):
        assert (merged / name).read_bytes() == (whole / name).read_bytes(), name


def test_merge_of_an_older_shard_folder_without_manifest_warns_and_uses_its_grades_csv(regraded_shards, tmp_path):
    shards = []
    for n in (1, 2):
        shutil.copytree(regraded_shards / f"s{n}", tmp_path / f"s{n}")
        (tmp_path / f"s{n}" / MANIFEST_FILE).unlink()
        shards.append(tmp_path / f"s{n}")
    result, warnings = merge(shards, tmp_path / "merged")
    assert [r.student for r in result.reports] == ["bob", "carol"]
    assert csv_students(tmp_path / "merged" / "grades.csv") == ["bob", "carol"]
    assert f"has no {MANIFEST_FILE}" in warnings and "alice" in warnings
    # and from the command line too
    shutil.rmtree(tmp_path / "merged")
    proc = subprocess.run([sys.executable, "-m", "grader", "merge", *map(str, shards), "--out",
                           str(tmp_path / "merged")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert f"WARNING: {tmp_path / 's1'} has no {MANIFEST_FILE}" in proc.stderr
    assert "Merged 2 report(s)" in proc.stdout


def test_merge_refuses_shards_graded_with_different_rubrics_or_grader_versions(regraded_shards, tmp_path):
    text = (ROOT / "grader" / "rubric.toml").read_text()
    at = text.index("follow_through = 0.5", text.index('id = "1c"'))
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(text[:at] + "follow_through = 0.25" + text[at + len("follow_through = 0.5"):])
    other = tmp_path / "s2-other-rubric"
    run_shard(regraded_shards / "subs", other, (2, 2), rubric)
    with pytest.raises(InputError) as error:
        merge([regraded_shards / "s1", other], tmp_path / "merged")
    message = str(error.value)
    assert "different rubrics" in message and str(regraded_shards / "s1") in message and str(other) in message
    from grader.batch import rubric_digest
    assert rubric_digest(rubric)[:12] in message and rubric_digest(ROOT / "grader" / "rubric.toml")[:12] in message
    assert not (tmp_path / "merged").exists()
    # one shard graded with another rubric than the merge's own --rubric
    with pytest.raises(InputError, match="merge with the --rubric they were graded with"):
        merge([other], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()
    result, _ = merge([other], tmp_path / "merged", rubric)
    assert [r.student for r in result.reports] == ["carol"]

    older = tmp_path / "s2-older"
    shutil.copytree(regraded_shards / "s2", older)
    for path in (older / "reports").glob("*.json"):
        data = json.loads(path.read_text())
        data["grader_version"] = "0.0.1"
        path.write_text(json.dumps(data))
    proc = subprocess.run([sys.executable, "-m", "grader", "merge", str(regraded_shards / "s1"), str(older),
                           "--out", str(tmp_path / "merged2")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 2 and "different grader versions" in proc.stderr
    assert "0.0.1" in proc.stderr and str(older) in proc.stderr
    assert not (tmp_path / "merged2").exists()


# --- overrides recorded in a shard are carried into the merged folder

from grader.cli import main  # noqa: E402
from grader.errors import OverrideError  # noqa: E402

WHY = "academic integrity: copied 1a"


@pytest.fixture(scope="module")
def overridden_shards(tmp_path_factory):
    """alice, bob and carol graded as one run (``whole``) and as two shards; alice's 1a is
    overridden to 0 in ``whole`` and in the shard that holds her (``s1``), then applied."""
    root = tmp_path_factory.mktemp("overridden")
    subs = _three_students(root)
    for out, shard in (("whole", None), ("s1", (1, 2)), ("s2", (2, 2))):
        run_shard(subs, root / out, shard)
    assert (root / "s1" / "reports" / "alice.json").is_file()
    for out in ("whole", "s1"):
        assert main(["override", str(root / out), "alice", "1a", "0", "--why", WHY]) == 0
        run_shard(subs, root / out, None if out == "whole" else (1, 2))
    return root


def test_merge_records_the_shards_overrides_so_later_runs_keep_them(overridden_shards, tmp_path, capsys):
    root, merged = overridden_shards, tmp_path / "merged"
    capsys.readouterr()
    assert main(["merge", str(root / "s1"), str(root / "s2"), "--out", str(merged)]) == 0
    assert f"Overrides: 1 of the shards' recorded in {merged / 'overrides.csv'}" in capsys.readouterr().out
    text = (merged / "overrides.csv").read_text(encoding="utf-8")
    assert text == (root / "s1" / "overrides.csv").read_text(encoding="utf-8")
    assert text.startswith("student,item,points,reason,sha256\nalice,1a,0,academic integrity: copied 1a,")
    assert tree(merged) == tree(root / "whole")  # the same folder as one run with the same override
    assert main(["overrides", str(merged)]) == 0
    listed = capsys.readouterr().out
    assert "1 override(s) in" in listed and "alice" in listed and WHY in listed
    # the ordinary grade command, rerun into the merged folder, keeps the override
    run_shard(root / "subs", merged, None)
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO((merged / "grades.csv").read_text()))}
    assert rows["alice"]["1a"] == "0" and rows["alice"]["total"] == "14"
    assert "Instructor adjustment" in (merged / "reports" / "alice.md").read_text(encoding="utf-8")
    assert tree(merged) == tree(root / "whole")


def test_merge_keeps_the_merged_folders_own_overrides_and_refuses_conflicting_shards(overridden_shards, tmp_path):
    root = overridden_shards
    merged = tmp_path / "merged"
    merged.mkdir()
    (merged / "overrides.csv").write_text("student,item,points,reason\nbob,1a,1,accepted by hand\n")
    merge([root / "s1", root / "s2"], merged)
    assert [(row["student"], row["reason"]) for row in csv.DictReader(io.StringIO(
        (merged / "overrides.csv").read_text()))] == [("alice", WHY), ("bob", "accepted by hand")]
    # the same item of the same student overridden differently in two shards: refused, nothing written
    s2 = tmp_path / "s2"
    shutil.copytree(root / "s2", s2)
    (s2 / "overrides.csv").write_text("student,item,points,reason\nalice,1a,0.5,regrade request\n")
    with pytest.raises(OverrideError, match=r"alice's item 1a is overridden differently in .*s1.* and .*s2.*"):
        merge([root / "s1", s2], tmp_path / "other")
    assert not (tmp_path / "other").exists()
