"""Public checks for "Adam vs. SGD with momentum" (a pytest plugin).

Run ``pytest`` in this folder. Every rubric item gets one check, red or green, with a message
that says what is wrong (expected vs got at a public sample point, and the likely
misconception when one matches), and the run ends with a score preview by rubric item.

``pytest --submission=adam_vs_momentum.ipynb`` checks the notebook instead of the .py file
(write ``--submission=PATH`` with ``=``: any path, spaces included, inside this folder or not).

Your file never runs inside pytest: it runs in a separate Python process, in an empty
folder, under the grader's time limits (read from ``public_checks.json``), so an endless
loop costs one check, never the whole run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
RESULTS = pytest.StashKey[list]()
SUBMISSION = pytest.StashKey[Path]()
#: The name the grader gives every submission's code (a notebook's code cells included).
GRADED_NAME = "adam_vs_momentum.py"


def pytest_addoption(parser):
    group = parser.getgroup("adam-vs-momentum")
    group.addoption("--submission", default=str(HERE / "adam_vs_momentum.py"),
                    help="the file to check: adam_vs_momentum.py (default) or the .ipynb notebook; "
                         "write --submission=PATH")
    group.addoption("--preview-json", default=None, help="also write the score preview as JSON to this file")


def pytest_configure(config):
    if sys.version_info < (3, 9):
        raise pytest.UsageError(f"the public checks need Python 3.9 to 3.13; this is Python "
                                f"{sys.version.split()[0]}: install a newer Python (see README.md)")
    config.stash[RESULTS] = []
    config.stash[DESELECTED] = set()
    option = config.getoption("--submission", default=None)
    if option is None:
        return
    path = Path(option).expanduser()
    if not path.is_absolute():
        path = Path(config.invocation_params.dir) / path
    if not path.is_file():
        raise pytest.UsageError(f"--submission: there is no file {path}; give the path of your "
                                "adam_vs_momentum.py or .ipynb, as --submission=PATH")
    config.stash[SUBMISSION] = path.resolve()


def _read(path: Path):
    """``(code, dropped lines, locate, why it cannot run)`` of a submission, as the grader reads it."""
    from grader.engine.source import read_source

    read = read_source(path.read_bytes(), notebook=path.suffix.lower() == ".ipynb")
    return read.code, read.notes, read.where, read.error


class Unreadable:
    """Stands in for a submission that cannot be run: every call gives the same reason."""

    flags: tuple = ()

    def __init__(self, reason: str):
        self.reason = reason

    def call(self, function, args):
        from grader.engine.calls import Outcome

        return Outcome("not_loaded", detail=self.reason)

    def close(self):
        pass


@pytest.fixture(scope="session")
def public_data() -> dict:
    return json.loads((HERE / "public_checks.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def student(request, public_data):
    """The submission, run in a child process under the grader's limits."""
    from grader.engine.localrun import Limits, LocalRun

    path = request.config.stash[SUBMISSION]
    source, notes, locate, reason = _read(path)
    request.config.stash[NOTES] = notes
    run = Unreadable(reason) if reason else LocalRun(source, GRADED_NAME, Limits.from_data(public_data),
                                                      bundle=HERE, locate=locate)
    request.config.stash[RUN] = run
    yield run
    run.close()


NOTES = pytest.StashKey[tuple]()
RUN = pytest.StashKey[object]()
DESELECTED = pytest.StashKey[set]()


def pytest_deselected(items):
    """Items left out by ``-k`` / ``-m``: the preview says they were not run."""
    for item in items:
        spec = getattr(item, "callspec", None)
        if spec is not None and "item" in spec.params and item.config is not None:
            param = spec.params["item"]
            item.config.stash[DESELECTED].add(param["id"] if isinstance(param, dict) else param.id)


@pytest.fixture
def record_check(request):
    return request.config.stash[RESULTS].append


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results = config.stash.get(RESULTS, [])
    if not results:
        return
    from grader.engine.preview import preview, preview_lines

    data = json.loads((HERE / "public_checks.json").read_text(encoding="utf-8"))
    run = config.stash.get(RUN, None)
    from grader.engine.localrun import budget_note

    note = budget_note(getattr(run, "used", 0.0), float(data["limits"]["submission_seconds"]))
    summary = preview(results, data["items"], dropped=config.stash.get(NOTES, ()),
                      flags=tuple(getattr(run, "flags", ())) + ((note,) if note else ()),
                      deselected=config.stash.get(DESELECTED, set()))
    terminalreporter.section("score preview (public checks) - not a grade")
    for line in preview_lines(summary):
        terminalreporter.write_line(line)
    target = config.getoption("--preview-json")
    if target:
        Path(target).write_text(json.dumps(summary.as_json(), indent=1), encoding="utf-8")
