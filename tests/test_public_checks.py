"""The student's public checks: fresh data, green on the reference, clear on stubs and mistakes."""

import json
import shutil
import subprocess
import tempfile
import time
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
    return json.loads(preview.read_text())["items"], proc.stdout + proc.stderr


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
    assert "Public checks (preview)" in output and "hidden inputs" in output


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


# ---------------------------------------------------------------------------
# What a student sees locally is what the grader gives (issue 12)
# ---------------------------------------------------------------------------

def _assignment_copy(tmp_path: Path, **limits) -> Path:
    """The assignment folder with other time limits in its public data (as a release would ship)."""
    folder = tmp_path / "assignment copy"
    folder.mkdir()
    for path in ASSIGNMENT.iterdir():
        if path.is_file():
            shutil.copyfile(path, folder / path.name)
    data = json.loads((folder / "public_checks.json").read_text())
    data["limits"].update(limits)
    (folder / "public_checks.json").write_text(json.dumps(data))
    return folder


def _run_in(folder: Path, *args: str, timeout: float = 300) -> tuple[dict, str, int]:
    preview = Path(tempfile.mkdtemp(prefix="preview-")) / "preview.json"  # never inside the folder
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", f"--preview-json={preview}", *args],
                          cwd=folder, capture_output=True, text=True, timeout=timeout)
    data = json.loads(preview.read_text()) if preview.exists() else {}
    return data, proc.stdout + proc.stderr, proc.returncode


def _with_extra(tmp_path: Path, name: str, extra: str, before: str = "") -> Path:
    path = tmp_path / name
    path.write_text(before + REFERENCE.read_text() + "\n" + extra + "\n")
    return path


def test_public_data_ships_the_rubrics_limits():
    from grader.engine.localrun import Limits
    from grader.rubric import load_rubric

    limits = load_rubric().limits
    data = json.loads((ASSIGNMENT / "public_checks.json").read_text())
    assert data["limits"] == {"import_seconds": limits.import_seconds, "call_seconds": limits.call_seconds,
                              "submission_seconds": limits.submission_seconds,
                              "worker_cpu_seconds": limits.worker_cpu_seconds,
                              "worker_memory_mib": limits.worker_memory_mib}
    local = Limits.from_data(data)
    assert (local.cpu_seconds, local.memory_mib) == (limits.worker_cpu_seconds, limits.worker_memory_mib)
    # a data file of an earlier bundle, without the two, still reads (and sets neither)
    old = Limits.from_data({"limits": {k: data["limits"][k] for k in ("import_seconds", "call_seconds",
                                                                       "submission_seconds")}})
    assert (old.cpu_seconds, old.memory_mib) == (None, None)


def test_slow_import_fails_every_check_with_the_graders_words(tmp_path):
    from grader.engine.calls import import_timeout

    folder = _assignment_copy(tmp_path, import_seconds=2)
    slow = _with_extra(tmp_path, "slow.py", "import time\ntime.sleep(30)")
    started = time.monotonic()
    data, output, _ = _run_in(folder, f"--submission={slow}")
    assert time.monotonic() - started < 120
    assert {r["status"] for r in data["items"]} == {"error"}
    assert all(r["messages"] == [import_timeout(2)] for r in data["items"])  # the number is the data's


def test_a_run_that_takes_most_of_its_budget_is_warned_that_the_grader_calls_more(tmp_path):
    """The grader calls the functions about a quarter more often than the public checks: a
    file that used most of its budget here is told so in the preview, one that kept well
    within it is not (the reference)."""
    folder = _assignment_copy(tmp_path, submission_seconds=5)
    slow = _with_extra(tmp_path, "slow.py", "import time\ntime.sleep(3.5)")
    data, output, _ = _run_in(folder, f"--submission={slow}", timeout=240)
    assert any("budget here; the grader calls your functions about a quarter more often" in flag
               for flag in data["flags"]), data["flags"]
    assert "WARNING: your file took" in output


def test_an_endless_loop_costs_its_own_check_only(tmp_path):
    from grader.engine.calls import call_timeout

    folder = _assignment_copy(tmp_path, call_seconds=1)
    looping = _with_extra(tmp_path, "loop.py", "def adam_step_bound(m_hat, alpha, eps):\n    while True:\n        pass")
    data, output, code = _run_in(folder, f"--submission={looping}", timeout=240)
    by_item = {r["item"]: r for r in data["items"]}
    assert by_item["2.3.adam_step_bound"]["messages"] == [call_timeout("adam_step_bound", 1)]
    assert {r["status"] for i, r in by_item.items() if i != "2.3.adam_step_bound"} <= {"passed", "format_ok"}
    assert "1 failed, 20 passed" in output


def test_a_call_cut_short_by_the_submission_budget_names_the_budget(tmp_path):
    """As in the grader: once what is left of the submission's time is less than a call's own
    limit, a timeout names the budget, never a leftover fraction of a second."""
    from grader.engine.calls import call_timeout, submission_timeout

    folder = _assignment_copy(tmp_path, call_seconds=1.5, submission_seconds=2)
    looping = _with_extra(tmp_path, "loop.py", "def momentum_updates(grads, alpha, mu):\n    while True:\n        pass")
    data, _, _ = _run_in(folder, f"--submission={looping}", timeout=240)
    messages = {m for r in data["items"] for m in r["messages"] if "finish" in m or "used up" in m}
    assert messages == {call_timeout("momentum_updates", 1.5), submission_timeout(2)}, messages


def test_an_import_the_grader_does_not_provide_is_flagged_with_its_message(tmp_path):
    from grader.engine.provided import not_provided_message

    # json and numpy are provided; the project's own "grader" is not (it is not in the grader's worker)
    path = _with_extra(tmp_path, "extra_import.py", "import json\nimport grader.engine")
    line = len(path.read_text().splitlines())
    results, _ = run_public_checks(path, tmp_path)
    assert {r["status"] for r in results} == {"error"}
    assert results[0]["messages"] == [f"importing the submission failed: ModuleNotFoundError: "
                                      f"{not_provided_message('grader')} (line {line}, in <module>)"]


def test_reading_the_public_data_is_flagged(tmp_path):
    path = _with_extra(tmp_path, "reads_data.py", "import json, pathlib\n"
                       f"DATA = json.loads(open({str(ASSIGNMENT / 'public_checks.json')!r}).read())")
    data, output, _ = _run_in(ASSIGNMENT, f"--submission={path}")
    assert any("public_checks.json" in flag for flag in data["flags"])
    assert "WARNING: the submission opened public_checks.json" in output
    assert {r["status"] for r in data["items"]} == {"error"}  # the open fails, as it would in the grader


def test_missing_submission_is_one_usage_error(tmp_path):
    _, output, code = _run_in(ASSIGNMENT, f"--submission={tmp_path / 'missing.py'}")
    assert code == 4  # pytest's usage error
    assert output.count("there is no file") == 1 and "failed" not in output


def test_submission_outside_the_folder_with_a_space_in_its_path(tmp_path):
    folder = tmp_path / "my homework"
    folder.mkdir()
    shutil.copyfile(REFERENCE, folder / "adam vs momentum.py")
    data, output, code = _run_in(ASSIGNMENT, f"--submission={folder / 'adam vs momentum.py'}")
    assert code == 0, output
    assert "21 passed" in output


def test_deselected_items_are_listed_as_not_run(tmp_path):
    data, output, _ = _run_in(ASSIGNMENT, f"--submission={REFERENCE}", "-k", "1c")
    assert [r["item"] for r in data["items"]] == ["1c"]
    assert "1a" in data["not_run"] and len(data["not_run"]) == 20
    assert "Not run in this session (deselected): 1a, 1b, 1d" in output
    assert "Part 1                                                         1 / 6" in output


def test_preview_says_it_is_not_a_grade_and_cuts_titles_between_words():
    from grader.engine.preview import CANNOT_KNOW, preview, preview_lines
    from grader.engine.selfcheck import CheckResult

    items = json.loads((ASSIGNMENT / "public_checks.json").read_text())["items"]
    results = [CheckResult(i["id"], i["title"], i["part"], i["points"], "passed", i["points"], ()) for i in items]
    lines = preview_lines(preview(results, items))
    assert CANNOT_KNOW in lines and CANNOT_KNOW.startswith("Not a grade") and "hidden inputs" in CANNOT_KNOW
    words = {word for i in items for word in f"{i['id']} {i['title']}".split()}
    for line in lines[:len(items)]:
        label = line[:58].rstrip()
        for word in label.replace(" ...", "").split():
            assert word in words, f"{word!r} is cut in {line!r}"


def test_follow_through_and_partial_credit_show_in_the_preview(tmp_path):
    # w2 and w3 built from moments without bias correction: the grader's follow-through applies
    wrong = make_variant(tmp_path, "nobias_ft", {
        "return m, v, m / (1 - beta1**t), v / (1 - beta2**t)": "return m, v, m, v"})
    results, _ = run_public_checks(wrong, tmp_path)
    by_item = {r["item"]: r for r in results}
    assert by_item["1c"]["preview"] == pytest.approx(0.5)
    assert any("Follow-through credit" in m for m in by_item["1c"]["messages"])


def test_notebook_errors_name_the_code_cell_and_dropped_lines_are_shown_on_both_sides(tmp_path):
    import nbformat

    from grader.release.notebook import stubs_to_notebook

    notebook = stubs_to_notebook(REFERENCE.read_text())
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    number, cell = next((n, c) for n, c in enumerate(code_cells, start=1) if "def adam_step_bound" in c.source)
    cell.source = cell.source.replace("def adam_step_bound(m_hat, alpha, eps):",
                                      "def adam_step_bound(m_hat, alpha, eps):\n    raise ValueError('mine')")
    line = cell.source.split("\n").index("    raise ValueError('mine')") + 1
    code_cells[0].source = "from __future__ import annotations\n%matplotlib inline\n" + code_cells[0].source
    path = tmp_path / "nb_student.ipynb"
    path.write_text(nbformat.writes(notebook))
    expected = (f"adam_step_bound raised ValueError: mine (code cell {number}, line {line}, in adam_step_bound)")
    dropped = "code cell 1, line 2: dropped line magic `%matplotlib inline`"

    data, output, _ = _run_in(ASSIGNMENT, f"--submission={path}")
    by_item = {r["item"]: r for r in data["items"]}
    assert by_item["2.3.adam_step_bound"]["messages"] == [expected]
    assert by_item["1a"]["status"] == "passed"  # the later __future__ import did not break the file
    assert data["dropped_lines"] == [dropped] and dropped in output

    out = tmp_path / "graded"
    subprocess.run([sys.executable, "-m", "grader", "grade", str(path), "--out", str(out), "--quiet"],
                   check=True, capture_output=True, timeout=600)
    report = json.loads((out / "reports" / "nb_student.json").read_text())
    item = next(i for i in report["items"] if i["id"] == "2.3.adam_step_bound")
    assert expected in item["feedback"]
    assert any(dropped in note for note in report["notes"])


def _pyenv_pythons() -> list:
    """Every pyenv CPython 3.9-3.13 on this machine (the bundle's supported range)."""
    folder = Path.home() / ".pyenv" / "versions"
    found = []
    for entry in sorted(folder.iterdir()) if folder.is_dir() else ():
        parts = entry.name.split(".")
        if len(parts) == 3 and parts[0] == "3" and parts[1].isdigit() and 9 <= int(parts[1]) <= 13 \
                and (entry / "bin" / "python3").exists():
            found.append(entry / "bin" / "python3")
    return found


_PROVIDED_PROBE = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("provided", sys.argv[1])
provided = importlib.util.module_from_spec(spec)
spec.loader.exec_module(provided)
names = ["json", "os.path", "collections.abc", "math", "_thread", "sqlite3", "xml.etree", "numpy.linalg",
         "sympy", "__future__", "torch", "grader", "pandas", "sklearn"]
official = getattr(sys, "stdlib_module_names", None)
listed = provided._listed_standard_library()
missing = [] if official is None else sorted(
    name for name in official - listed if importlib.util.find_spec(name) is not None)
print(json.dumps({"provided": {n: provided.is_provided(n) for n in names}, "missing": missing}))
"""


@pytest.mark.skipif(not _pyenv_pythons(), reason="no pyenv Python 3.9-3.13 on this machine")
@pytest.mark.parametrize("python", _pyenv_pythons(), ids=lambda p: p.parent.parent.name)
def test_which_imports_are_provided_is_decided_on_every_supported_python(python):
    """grader.engine.provided runs in the bundle's child process, on Python 3.9 too (which has no
    sys.stdlib_module_names); where that list exists, the folder listing finds all of it."""
    proc = subprocess.run([str(python), "-I", "-c", _PROVIDED_PROBE, str(ROOT / "grader" / "engine" / "provided.py")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["provided"] == {
        "json": True, "os.path": True, "collections.abc": True, "math": True, "_thread": True, "sqlite3": True,
        "xml.etree": True, "numpy.linalg": True, "sympy": True, "__future__": True,
        "torch": False, "grader": False, "pandas": False, "sklearn": False}
    assert found["missing"] == []


def test_public_data_writes_each_template_value_once_and_rounded():
    """public_checks.json stays small: values to 12 significant digits (the tightest tolerance is
    1e-9 relative), each distinct template value once per entry, lists of numbers on one line."""
    text = (ASSIGNMENT / "public_checks.json").read_text(encoding="utf-8")
    assert len(text.encode()) < 700_000
    data = json.loads(text)
    holders = [entry for spec in data["symbolic"].values() for entry in spec["answers"].values()]
    holders += [case for spec in data["numeric"].values() for case in spec["cases"]]
    holders += [probe for spec in data["properties"].values() for probe in spec["probes"] if "misconceptions" in probe]
    assert all("template_values" in entry for entry in holders)
    for entry in holders:
        values = [json.dumps(v, sort_keys=True) for v in entry["template_values"]]
        assert len(values) == len(set(values))
        assert sorted(set(entry["misconceptions"].values())) == list(range(len(values)))
        assert not set(entry.get("differs", ())) & set(entry["misconceptions"])

    def floats(value):
        if type(value) is float:
            yield value
        elif isinstance(value, list):
            for v in value:
                yield from floats(v)
        elif isinstance(value, dict):
            for v in value.values():
                yield from floats(v)

    assert all(float(f"{x:.12g}") == x for entry in holders for x in floats([entry.get("expected", []),
                                                                              entry["template_values"]]))


def test_public_data_reads_back_every_template_with_its_values():
    from grader.engine.publicdata import load_public_data

    data = load_public_data(ASSIGNMENT / "public_checks.json")
    raw = json.loads((ASSIGNMENT / "public_checks.json").read_text(encoding="utf-8"))
    entry = data.symbolic["adam_first_update"]["answers"]["w2"]
    stored = raw["symbolic"]["adam_first_update"]["answers"]["w2"]
    assert set(entry["misconceptions"]) == set(stored["misconceptions"])
    for label, index in stored["misconceptions"].items():
        assert entry["misconceptions"][label] == stored["template_values"][index]
    assert "template_values" not in entry
    case = data.numeric["2.1.adam_updates"]["cases"][0]
    assert all(set(v) == {"shape", "data"} for v in case["misconceptions"].values())


def test_how_a_process_ended_is_worded_by_one_rule_for_both_sides():
    """``ended_status`` (the grader's supervisor and the student's run both call it): an exit
    code, a signal by name, and the CPU limit named only for a CPU-limit signal once the process
    had used the limit's share (:data:`CPU_LIMIT_SHARE`) of its time."""
    import signal as signals

    from grader.engine.calls import CPU_LIMIT_SHARE, ended_status

    assert ended_status(0) == "exit 0" and ended_status(3) == "exit 3"
    assert ended_status(-signals.SIGSEGV) == "signal SIGSEGV" and ended_status(-250) == "signal 250"
    at_limit = "stopped at its limit of 30 s of CPU time"
    for signal in (signals.SIGKILL, signals.SIGXCPU, signals.SIGPROF):
        assert ended_status(-signal, 30.0 * CPU_LIMIT_SHARE, 30) == at_limit
        assert ended_status(-signal, 30.0 * CPU_LIMIT_SHARE - 0.01, 30) == f"signal {signals.Signals(signal).name}"
    assert ended_status(-signals.SIGKILL, 29.0) == "signal SIGKILL"  # no limit known
    assert ended_status(-signals.SIGSEGV, 31.0, 30) == "signal SIGSEGV"  # not a CPU-limit signal
    assert ended_status(0, 31.0, 30) == "exit 0"


#: One import each, inside a function the grader calls: a package installed on both machines but
#: not provided (pytest), one installed on neither (pandas), support packages of the provided
#: ones (importable in the grader's worker) and one the grader does not have (six), and the
#: grader's own package (already loaded on both sides), named by an import statement, ``importlib.import_module`` and ``__import__``.
_IMPORTS_ONE_PER_FUNCTION = {
    "momentum_updates": "importlib.import_module('pytest')",
    "adam_updates": "__import__('pytest')",
    "momentum_scale_factor": "__import__('pandas')",
    "adam_scale_factor": "import PIL.Image",
    "adam_step_bound": "import dateutil.parser, kiwisolver, cycler, pyparsing",
    "adam_scaled_step": "import grader.engine",
    "momentum_constant_gradient_step": "importlib.import_module('grader.sandbox')",
    "adam_constant_gradient_step": "importlib.import_module('matplotlib.pyplot')",
    "adam_effective_learning_rates": "import six",
}


def _imports_source() -> str:
    functions = "".join(f"\n\ndef {name}(*args):\n    {statement}\n    return 1.0\n"
                        for name, statement in _IMPORTS_ONE_PER_FUNCTION.items())
    return "import importlib\n" + functions


def test_every_way_to_import_is_decided_alike_by_the_grader_and_the_public_run():
    """Each import is refused or allowed, in the same words, by the grader's worker and the
    student's run, whichever way the file names the module. (The public run once judged only
    import statements, so ``importlib.import_module`` and ``__import__`` of a package the grader
    refuses passed at home and cost the items in the grader; it refused the support packages
    pillow, dateutil, kiwisolver..., which the grader imports; and the grader let the file
    import its own, already loaded, ``grader`` package, which the public run refused.)"""
    from grader.engine.arguments import encode_argument
    from grader.engine.provided import not_provided_message
    from grader.engine.localrun import LocalRun, Limits
    from grader.intake.submissions import read_submission
    from grader.judging.items import Call
    from grader.rubric import load_rubric
    from grader.sandbox.client import run_calls
    from grader.sandbox.manager import Sandbox

    source = _imports_source()
    limits = load_rubric().limits
    calls = [Call(name, (encode_argument(1.0),)) for name in _IMPORTS_ONE_PER_FUNCTION]
    with Sandbox(limits) as sandbox:
        graded = run_calls(sandbox, 0, read_submission("importer", "importer.py", source.encode(), notebook=False),
                           calls, limits)
    grader_side = {call.function: (graded.outcomes[call.key].kind, graded.outcomes[call.key].detail)
                   for call in calls}
    run = LocalRun(source, "adam_vs_momentum.py", Limits(limits.import_seconds, limits.call_seconds,
                                                         limits.submission_seconds), bundle=ASSIGNMENT)
    try:
        local_side = {call.function: (lambda o: (o.kind, o.detail))(run.call(call.function, list(call.args)))
                      for call in calls}
    finally:
        run.close()
    lines = {name: 3 + 5 * index + 2 for index, name in enumerate(_IMPORTS_ONE_PER_FUNCTION)}

    def refused(function: str, module: str):
        return ("raised", f"{function} raised ModuleNotFoundError: {not_provided_message(module)} "
                          f"(line {lines[function]}, in {function})")

    assert grader_side == {
        "momentum_updates": refused("momentum_updates", "pytest"),
        "adam_updates": refused("adam_updates", "pytest"),
        "momentum_scale_factor": refused("momentum_scale_factor", "pandas"),
        "adam_scale_factor": ("value", ""),
        "adam_step_bound": ("value", ""),
        "adam_scaled_step": refused("adam_scaled_step", "grader"),
        "momentum_constant_gradient_step": refused("momentum_constant_gradient_step", "grader"),
        "adam_constant_gradient_step": ("value", ""),
        "adam_effective_learning_rates": refused("adam_effective_learning_rates", "six"),
    }
    assert local_side == grader_side


def test_an_import_by_name_at_import_time_is_flagged_by_the_public_checks(tmp_path):
    """``importlib.import_module`` of a package the grader does not provide, at import time: the
    student's pytest run fails every item with the grader's words, as the grader does."""
    from grader.engine.provided import not_provided_message

    path = _with_extra(tmp_path, "import_by_name.py", "import importlib\n_test = importlib.import_module('pytest')")
    line = len(path.read_text().splitlines())
    results, _ = run_public_checks(path, tmp_path)
    assert {r["status"] for r in results} == {"error"}
    assert results[0]["messages"] == [f"importing the submission failed: ModuleNotFoundError: "
                                      f"{not_provided_message('pytest')} (line {line}, in <module>)"]


def test_every_module_the_sandbox_makes_importable_is_allowed_by_the_one_rule():
    """The sandbox lets a worker import the provided packages and whatever they need (found
    from the installed distributions); each of those top-level names is allowed by
    grader.engine.provided's rule, which the student's run applies, so no import the grader
    accepts is refused at home, and none it refuses is allowed there. (A new requirement of a
    provided package fails here: add its import name to provided.SUPPORT_MODULES.)"""
    from grader.engine.provided import PROVIDED, SUPPORT_MODULES, is_provided
    from grader.sandbox.manager import importable_names, provided_paths

    importable = importable_names(provided_paths())
    assert [name for name in importable if not is_provided(name)] == []
    # and nothing more: a support name the grader cannot import would pass at home and fail there
    assert sorted(SUPPORT_MODULES - set(importable) - set(PROVIDED)) == []
    assert not any(is_provided(name) for name in ("grader", "reference", "assignment", "pytest", "pandas", "six"))
