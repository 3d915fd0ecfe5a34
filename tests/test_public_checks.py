"""The student's public checks: fresh data, green on the reference, clear on stubs and mistakes."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignment"
REFERENCE = ROOT / "reference" / "adam_vs_momentum.py"


def run_public_checks(submission: Path, tmp_path: Path) -> tuple[list[dict], str]:
    preview = tmp_path / f"{submission.stem}-preview.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", f"--submission={submission}", f"--preview-json={preview}"],
        cwd=ASSIGNMENT, capture_output=True, text=True, timeout=300)
    return json.loads(preview.read_text()), proc.stdout + proc.stderr


def make_variant(tmp_path: Path, name: str, replacements: dict) -> Path:
    text = REFERENCE.read_text()
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return path


def test_public_data_file_is_up_to_date():
    proc = subprocess.run([sys.executable, "-m", "grader.release.public", "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_public_data_holds_values_not_formulas():
    data = json.loads((ASSIGNMENT / "public_checks.json").read_text())
    text = json.dumps(data)
    assert "Symbol" not in text and "Pow" not in text  # no expression trees, only numbers
    assert set(data["concepts"]["3a_smaller_effective_step"]) == {"question", "options"}


def test_reference_passes_every_public_check(tmp_path):
    results, output = run_public_checks(REFERENCE, tmp_path)
    assert {r["status"] for r in results if "concepts" not in r["item"]} == {"passed"}
    assert {r["status"] for r in results if "concepts" in r["item"]} == {"format_ok"}
    assert sum(r["preview"] for r in results) == pytest.approx(13.0)
    assert "score preview" in output and "21 passed" in output


def test_stubs_fail_with_not_implemented_and_no_traceback(tmp_path):
    results, output = run_public_checks(ASSIGNMENT / "adam_vs_momentum.py", tmp_path)
    assert len(results) == 21
    assert {r["status"] for r in results} == {"not_implemented"}
    assert all("not implemented yet" in r["messages"][0] for r in results)
    assert "Traceback" not in output and "raise NotImplementedError" not in output
    assert "Total (preview)" in output and "hidden inputs" in output


def test_wrong_answer_shows_expected_and_got_and_names_the_misconception(tmp_path):
    wrong = make_variant(tmp_path, "eps_inside", {
        "return -alpha * m_hat / (_sqrt(v_hat) + eps)": "return -alpha * m_hat / _sqrt(v_hat + eps)"})
    results, output = run_public_checks(wrong, tmp_path)
    by_item = {r["item"]: r for r in results}
    w2 = by_item["1c"]
    assert w2["status"] == "failed"
    assert "expected" in w2["messages"][0] and "got" in w2["messages"][0]
    assert any("eps inside the square root" in m for m in w2["messages"])
    assert by_item["1a"]["status"] == "passed"


def test_notebook_submission_is_checked_like_the_py(tmp_path):
    import nbformat

    from grader.release.notebook import stubs_to_notebook

    notebook = tmp_path / "solution.ipynb"
    notebook.write_text(nbformat.writes(stubs_to_notebook(REFERENCE.read_text())))
    results, _ = run_public_checks(notebook, tmp_path)
    assert sum(r["preview"] for r in results) == pytest.approx(13.0)


def test_syntax_error_is_one_clear_message(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def adam_first_update(:\n")
    results, output = run_public_checks(broken, tmp_path)
    assert {r["status"] for r in results} == {"error"}
    assert "SyntaxError" in results[0]["messages"][0] and "line 1" in results[0]["messages"][0]


def test_grader_and_public_checks_name_the_same_misconception(tmp_path):
    wrong = make_variant(tmp_path, "nobias", {
        "return m, v, m / (1 - beta1**t), v / (1 - beta2**t)": "return m, v, m, v"})
    results, _ = run_public_checks(wrong, tmp_path)
    public_named = {r["item"]: r["messages"] for r in results}
    assert any("No bias correction" in m for m in public_named["1b"])
    out = tmp_path / "graded"
    subprocess.run([sys.executable, "-m", "grader", "grade", str(wrong), "--out", str(out), "--quiet"],
                   check=True, capture_output=True, timeout=300)
    report = json.loads((out / "reports" / "nobias.json").read_text())
    item_1b = next(i for i in report["items"] if i["id"] == "1b")
    assert "no_bias_correction" in item_1b["misconceptions"]
