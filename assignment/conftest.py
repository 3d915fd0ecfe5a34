"""Public checks for "Adam vs. SGD with momentum" (a pytest plugin).

Run ``pytest`` in this folder. Every rubric item gets one check, red or green, with a message
that says what is wrong (expected vs got at a public sample point, and the likely
misconception when one matches), and the run ends with a score preview by rubric item.

``pytest --submission adam_vs_momentum.ipynb`` checks the notebook instead of the .py file.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
RESULTS = pytest.StashKey[list]()


def pytest_addoption(parser):
    group = parser.getgroup("adam-vs-momentum")
    group.addoption("--submission", default=str(HERE / "adam_vs_momentum.py"),
                    help="the file to check: adam_vs_momentum.py (default) or the .ipynb notebook")
    group.addoption("--preview-json", default=None, help="also write the score preview as JSON to this file")


def pytest_configure(config):
    config.stash[RESULTS] = []


def load_submission(path: Path) -> types.ModuleType:
    """Import the student's file (code cells only, for a notebook) as a fresh module."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        from grader.engine.notebook import notebook_code

        text, _notes = notebook_code(text)
    module = types.ModuleType("student_adam_vs_momentum")
    module.__file__ = str(path)
    exec(compile(text, str(path), "exec"), module.__dict__)  # noqa: S102 - the student's own code
    return module


@pytest.fixture(scope="session")
def public_data() -> dict:
    return json.loads((HERE / "public_checks.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def student(request):
    path = Path(request.config.getoption("--submission")).resolve()
    try:
        return load_submission(path)
    except Exception as exc:  # noqa: BLE001 - any import problem becomes one clear message
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        return ImportProblem(f"importing {path.name} failed: {type(exc).__name__}: {exc}{where}")


class ImportProblem:
    """Stands in for a submission that could not be imported."""

    def __init__(self, message: str):
        self.message = message


@pytest.fixture
def record_check(request):
    return request.config.stash[RESULTS].append


def _points(x: float) -> str:
    return f"{x:g}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results = config.stash.get(RESULTS, [])
    if not results:
        return
    write = terminalreporter.write_line
    terminalreporter.section("score preview (public checks)")
    labels = {"passed": "passed", "failed": "FAILED", "not_implemented": "not implemented yet",
              "error": "ERROR", "format_ok": "format ok; graded on submission"}
    for r in results:
        shown = "?" if r.status == "format_ok" else _points(r.preview)
        label = f"{r.item} {r.title}"
        write(f"{label[:60]:<60} {shown:>5} / {_points(r.max_points):<4} {labels[r.status]}")
    write("")
    parts: dict[str, list] = {}
    for r in results:
        parts.setdefault(r.part, []).append(r)
    total = 0.0
    for part, rs in parts.items():
        earned = sum(r.preview for r in rs)
        total += earned
        write(f"Part {part:<55} {_points(earned):>5} / {_points(sum(r.max_points for r in rs))}")
    unknown = sum(r.max_points for r in results if r.status == "format_ok")
    write(f"{'Total (preview)':<60} {_points(total):>5} / {_points(sum(r.max_points for r in results))}"
          + (f"   (+ up to {_points(unknown)} for concept answers, graded on submission)" if unknown else ""))
    write("The final grade uses hidden inputs and more sample points: hard-coded answers lose "
          "their points, and a public pass is a good sign, not a promise.")
    target = config.getoption("--preview-json")
    if target:
        Path(target).write_text(json.dumps([
            {"item": r.item, "status": r.status, "preview": r.preview, "max_points": r.max_points,
             "messages": list(r.messages)} for r in results], indent=1), encoding="utf-8")
