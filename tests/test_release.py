"""The student bundle: exactly the expected files, no leak gets through, and it runs on its own."""

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli import main as cli_main
from grader.errors import GraderError
from grader.release.notebook import stubs_to_notebook
from grader.release.public import public_json
from grader.release.bundle import (BUNDLE_MARKER, BundleLeakError, ReleaseError, Secrets, Sources, bundle_files,
                            find_leaks, release)
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference" / "adam_vs_momentum.py"
ENGINE_FILES = sorted(f"grader/engine/{p.name}" for p in (ROOT / "grader" / "engine").glob("*.py"))
EXPECTED_FILES = sorted([
    "README.md", "adam_vs_momentum.ipynb", "adam_vs_momentum.py", "conftest.py", "public_checks.json",
    "pytest.ini", "requirements.txt", "test_adam_vs_momentum.py", "grader/__init__.py",
    *ENGINE_FILES])

# Runs the bundle's pytest in a Python where only the bundle can provide `grader`: the
# editable install of this repository is switched off, and the run fails unless `grader`
# is the bundle's and neither `reference` nor `assignment` can be imported at all.
STANDALONE = """
import importlib.util, os, sys
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.path_hooks[:] = [h for h in sys.path_hooks if "__editable__" not in getattr(h, "__module__", "")]
sys.path[:] = [p for p in sys.path if "__editable__" not in p]
sys.path_importer_cache.clear()
import grader
bundle = os.path.realpath(os.getcwd())
assert os.path.realpath(grader.__file__).startswith(bundle + os.sep), grader.__file__
for name in ("reference", "assignment"):
    assert importlib.util.find_spec(name) is None, name + " is importable"
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Sources:
    """The real sources, with public data freshly built from the working tree.

    Whether the committed assignment/public_checks.json is fresh is tests/test_public_checks'
    business; here the bundle is checked against the data it is supposed to hold.
    """
    assignment = tmp_path_factory.mktemp("assignment")
    for path in (ROOT / "assignment").iterdir():
        if path.is_file():
            shutil.copyfile(path, assignment / path.name)
    (assignment / "public_checks.json").write_text(public_json(load_rubric()), encoding="utf-8")
    located = Sources.locate()
    return Sources(assignment, located.grader, located.reference)


@pytest.fixture(scope="module")
def secrets(sources) -> Secrets:
    return Secrets.load(sources)


@pytest.fixture(scope="module")
def bundle(sources, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "bundle"
    release(out, sources=sources)
    return out


def _files(bundle: Path) -> list[str]:
    return sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------
# What the bundle holds
# ---------------------------------------------------------------------------

def test_bundle_holds_exactly_the_expected_files(bundle):
    assert _files(bundle) == EXPECTED_FILES
    assert not (bundle / "__init__.py").exists()
    for path in bundle.rglob("*"):
        if path.is_file() and path.name != "public_checks.json":
            assert path.stat().st_size <= 200_000, path


def test_bundle_copies_the_engine_and_the_stubs_unchanged(bundle, sources):
    for name in ENGINE_FILES:
        assert (bundle / name).read_bytes() == (ROOT / name).read_bytes()
    assert (bundle / "grader" / "engine" / "notebook.py").read_bytes() == (ROOT / "grader" / "engine" / "notebook.py").read_bytes()
    for name in ("adam_vs_momentum.py", "adam_vs_momentum.ipynb", "README.md", "conftest.py", "pytest.ini",
                 "test_adam_vs_momentum.py", "public_checks.json"):
        assert (bundle / name).read_bytes() == (sources.assignment / name).read_bytes(), name


def test_bundle_init_is_a_docstring_only(bundle):
    text = (bundle / "grader" / "__init__.py").read_text()
    tree = ast.parse(text)
    assert len(tree.body) == 1 and isinstance(tree.body[0].value, ast.Constant)
    docstring = ast.get_docstring(tree)
    assert BUNDLE_MARKER in docstring and "only the checking engine" in docstring
    assert "grading happens on the instructor's side" in " ".join(docstring.split())


def test_requirements_name_every_dependency_with_a_lower_bound(bundle):
    lines = [line.split("#")[0].strip() for line in (bundle / "requirements.txt").read_text().splitlines()]
    names = {line.split(">=")[0] for line in lines if line}
    assert {"numpy", "sympy", "nbformat", "pytest"} <= names
    assert all(">=" in line for line in lines if line)


# ---------------------------------------------------------------------------
# The leak checks, planted leaks first
# ---------------------------------------------------------------------------

@pytest.fixture
def files(sources) -> dict:
    return bundle_files(sources)


def test_clean_bundle_has_no_findings(files, secrets):
    assert find_leaks(files, secrets) == []


def test_reference_file_anywhere_is_a_leak(files, secrets):
    files["reference/adam_vs_momentum.py"] = REFERENCE.read_bytes()
    assert any("reference/adam_vs_momentum.py" in p and "instructor" in p for p in find_leaks(files, secrets))


def test_renamed_copy_of_the_reference_is_a_leak(files, secrets):
    files["grader/engine/helpers.py"] = REFERENCE.read_bytes()
    assert any(p.startswith("grader/engine/helpers.py: is a copy of reference/adam_vs_momentum.py")
               for p in find_leaks(files, secrets))


def test_reference_function_body_in_the_stubs_is_a_leak(files, secrets):
    stubs = files["adam_vs_momentum.py"].decode()
    stubs = stubs.replace('raise NotImplementedError("adam_step_bound")', "return alpha * abs(m_hat) / eps")
    files["adam_vs_momentum.py"] = stubs.encode()
    problems = find_leaks(files, secrets)
    assert any("adam_vs_momentum.py: holds code of reference/adam_vs_momentum.py:adam_step_bound" in p
               for p in problems)


def test_reference_body_reformatted_is_still_a_leak(files, secrets):
    stubs = files["adam_vs_momentum.py"].decode()
    body = '''grads = _check_grads( grads )
    _check_momentum_hyperparameters(alpha,mu)
    steps = np.empty_like(grads)
    u = np.zeros(grads.shape[1])
    for index, g in enumerate(grads):
        u = (mu * u) + g  # re-spaced
        steps[index] = -alpha*u
    return steps'''
    stubs = stubs.replace('raise NotImplementedError("momentum_updates")', body)
    files["adam_vs_momentum.py"] = stubs.encode()
    assert any("function momentum_updates has the body of reference/adam_vs_momentum.py:momentum_updates" in p
               for p in find_leaks(files, secrets))


def test_reference_formula_in_the_handout_is_a_leak(files, secrets):
    files["README.md"] += b"\nHint:\n\n    return -alpha * g * (1 - mu**t) / (1 - mu)\n"
    assert any(p.startswith("README.md: holds code of reference/adam_vs_momentum.py:momentum_constant_gradient_step")
               for p in find_leaks(files, secrets))


def test_reference_formula_under_another_name_is_a_leak(files, secrets):
    stubs = files["adam_vs_momentum.py"].decode()
    stubs = stubs.replace('raise NotImplementedError("adam_constant_gradient_step")',
                          "step = -alpha * m_hat / (_sqrt(v_hat) + eps)  # from the notes\n    return step")
    files["adam_vs_momentum.py"] = stubs.encode()
    assert any("holds code of reference/adam_vs_momentum.py:adam_step" in p for p in find_leaks(files, secrets))


def test_reference_in_a_notebook_code_cell_is_a_leak(files, secrets):
    import nbformat

    files["adam_vs_momentum.ipynb"] = nbformat.writes(stubs_to_notebook(REFERENCE.read_text())).encode()
    problems = find_leaks(files, secrets)
    assert sum(p.startswith("adam_vs_momentum.ipynb: ") for p in problems) >= 5


def test_misconception_template_formula_is_a_leak(files, secrets):
    templates = (ROOT / "grader" / "judging" / "misconceptions.py").read_text()
    line = next(line.strip() for line in templates.splitlines() if "sympy.Abs(m_hat) / sympy.sqrt(e)" in line)
    files["README.md"] += f"\n{line}\n".encode()
    assert any("holds code of grader/judging/misconceptions.py" in p for p in find_leaks(files, secrets))


@pytest.mark.parametrize("name", ["grader/judging/inputs.py", "grader/judging/items.py", "grader/judging/misconceptions.py",
                                  "grader/rubric.toml", "rubric.toml"])
def test_instructor_modules_never_ship(files, secrets, name):
    files[name] = b"# nothing secret in here\n"
    assert any(p.startswith(f"{name}: a file of the instructor's side") for p in find_leaks(files, secrets))


def test_concept_answer_dict_is_a_leak(files, secrets):
    from reference.adam_vs_momentum import concept_answers

    files["README.md"] += f"\n{concept_answers()!r}\n".encode()
    problems = find_leaks(files, secrets)
    assert sum("gives the correct concept answer" in p for p in problems) == len(concept_answers())


def test_concept_key_answer_pair_in_prose_is_a_leak(files, secrets):
    files["adam_vs_momentum.py"] += b"\n# 3b_spike_adam -> grows_far_less_than_the_spike\n"
    assert any("'3b_spike_adam -> grows_far_less_than_the_spike'" in p for p in find_leaks(files, secrets))


def test_concept_answer_in_json_is_a_leak(files, secrets):
    data = json.loads(files["public_checks.json"])
    data["concepts"]["3a_adam_adapts_through"]["answer"] = {"3a_adam_adapts_through": "second_moment_v_hat"}
    files["public_checks.json"] = json.dumps(data).encode()
    problems = find_leaks(files, secrets)
    assert any("holds the correct concept answer" in p for p in problems)


def test_listing_the_options_is_not_a_leak(files, secrets):
    # The correct option comes first here; a list of every option gives nothing away.
    files["README.md"] += (b"\n3a_momentum_per_parameter: no_one_global_alpha | yes_through_mu | "
                           b"yes_through_the_velocity_u\n"
                           b'"3b_sparse_momentum": "about_alpha_times_the_gradient_no_boost", '
                           b'"boosted_by_a_small_denominator", "exactly_the_dense_step"\n')
    assert find_leaks(files, secrets) == []


def test_expression_tree_in_public_data_is_a_leak(files, secrets):
    data = json.loads(files["public_checks.json"])
    data["symbolic"]["adam_step_bound"]["answers"][""]["tree"] = ["Mul", ["Symbol", "alpha"], ["Symbol", "eps"]]
    files["public_checks.json"] = json.dumps(data).encode()
    problems = find_leaks(files, secrets)
    assert any("holds expression trees" in p and "adam_step_bound" in p for p in problems)
    assert any("differs from a fresh build" in p for p in problems)


def test_changed_public_value_is_refused(files, secrets):
    data = json.loads(files["public_checks.json"])
    data["symbolic"]["adam_step_bound"]["answers"][""]["expected"][0] += 1e-3
    files["public_checks.json"] = json.dumps(data).encode()
    assert find_leaks(files, secrets) == [
        "public_checks.json: differs from a fresh build of the public data (values at public points only); "
        "run `python -m grader.release.public` and check the diff"]


def test_layout_rules(files, secrets):
    files["__init__.py"] = b""
    files["notes/extra.txt"] = b"x"
    files["README.md"] += b"x" * 200_001
    problems = find_leaks(files, secrets)
    assert "__init__.py: the bundle's root must not be a package" in problems
    assert "notes/extra.txt: not a file of the student bundle" in problems
    assert any(p.startswith("README.md:") and "200,000-byte limit" in p for p in problems)


def test_engine_import_from_the_instructor_side_is_refused(files, secrets):
    files["grader/engine/numeric.py"] += b"\nfrom ..judging.items import judge_items\nimport reference\n"
    problems = find_leaks(files, secrets)
    assert any("imports grader.judging.items" in p and "does not hold" in p for p in problems)
    assert any("imports reference" in p and "never ships" in p for p in problems)


# ---------------------------------------------------------------------------
# Refusing writes nothing
# ---------------------------------------------------------------------------

def _leaky(original):
    def build(sources):
        files = original(sources)
        files["grader/engine/solution.py"] = REFERENCE.read_bytes()
        return files
    return build


def test_release_refuses_a_leak_and_writes_nothing(sources, tmp_path, monkeypatch):
    import grader.release.bundle as module

    monkeypatch.setattr(module, "bundle_files", _leaky(module.bundle_files))
    with pytest.raises(BundleLeakError, match="is a copy of reference/adam_vs_momentum.py"):
        release(tmp_path / "bundle", sources=sources)
    assert list(tmp_path.iterdir()) == []


def test_leak_found_on_disk_removes_the_partial_output(sources, tmp_path, monkeypatch):
    import grader.release.bundle as module

    original = module.read_tree

    def read_tree(folder):
        (Path(folder) / "grader" / "engine" / "items.py").write_bytes(b"")  # appeared while writing
        return original(folder)

    monkeypatch.setattr(module, "read_tree", read_tree)
    with pytest.raises(BundleLeakError, match="grader/engine/items.py"):
        release(tmp_path / "bundle", sources=sources)
    assert list(tmp_path.iterdir()) == []


def test_cli_exits_2_with_the_reason(sources, tmp_path, monkeypatch, capsys):
    import grader.release.bundle as module

    monkeypatch.setattr(module.Sources, "locate", classmethod(lambda cls: sources))
    monkeypatch.setattr(module, "bundle_files", _leaky(module.bundle_files))
    assert cli_main(["release", "--out", str(tmp_path / "bundle")]) == 2
    assert "refusing to write the student bundle" in capsys.readouterr().err
    assert not (tmp_path / "bundle").exists()
    assert issubclass(BundleLeakError, GraderError)


def test_cli_prints_what_it_wrote(sources, tmp_path, monkeypatch, capsys):
    import grader.release.bundle as module

    monkeypatch.setattr(module.Sources, "locate", classmethod(lambda cls: sources))
    assert cli_main(["release", "--out", str(tmp_path / "bundle")]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in EXPECTED_FILES)


def test_refuses_a_folder_that_is_not_a_bundle(sources, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ReleaseError, match="not empty and does not hold a previous student bundle"):
        release(tmp_path, sources=sources)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_writes_into_an_empty_folder(sources, tmp_path):
    (tmp_path / "bundle").mkdir()
    result = release(tmp_path / "bundle", sources=sources)
    assert not result.replaced and _files(tmp_path / "bundle") == EXPECTED_FILES


def test_replaces_a_previous_bundle(sources, tmp_path):
    out = tmp_path / "bundle"
    release(out, sources=sources)
    (out / "adam_vs_momentum.py").write_text("# tried my solution here\n")
    (out / "grader" / "__pycache__").mkdir()
    (out / "grader" / "__pycache__" / "x.pyc").write_bytes(b"")
    result = release(out, sources=sources)
    assert result.replaced
    assert _files(out) == EXPECTED_FILES
    assert (out / "adam_vs_momentum.py").read_bytes() == (sources.assignment / "adam_vs_momentum.py").read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no staging or old folder left


def test_a_previous_bundle_with_extra_files_is_not_replaced(sources, tmp_path):
    out = tmp_path / "bundle"
    release(out, sources=sources)
    (out / "my_notes.md").write_text("keep me")
    with pytest.raises(ReleaseError):
        release(out, sources=sources)
    assert (out / "my_notes.md").read_text() == "keep me"


def test_stale_public_data_is_refused(sources, tmp_path):
    stale = tmp_path / "assignment"
    shutil.copytree(sources.assignment, stale)
    data = json.loads((stale / "public_checks.json").read_text())
    data["note"] = "edited by hand"
    (stale / "public_checks.json").write_text(json.dumps(data))
    with pytest.raises(BundleLeakError, match="differs from a fresh build"):
        release(tmp_path / "bundle", sources=Sources(stale, sources.grader, sources.reference))
    assert not (tmp_path / "bundle").exists()


# ---------------------------------------------------------------------------
# The bundle runs on its own
# ---------------------------------------------------------------------------

def _run_bundle(bundle: Path, tmp_path: Path, *args: str) -> tuple[list[dict], str]:
    preview = tmp_path / "preview.json"
    proc = subprocess.run([sys.executable, "-c", STANDALONE, "-q", f"--preview-json={preview}", *args],
                          cwd=bundle, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    assert "AssertionError" not in output and "is importable" not in output, output
    return json.loads(preview.read_text())["items"], output


def test_grader_resolves_inside_the_bundle(bundle):
    proc = subprocess.run([sys.executable, "-c", "import grader; print(grader.__file__)"], cwd=bundle,
                          capture_output=True, text=True, timeout=60)
    assert Path(proc.stdout.strip()).resolve() == (bundle / "grader" / "__init__.py").resolve()


def test_standalone_bundle_fails_every_stub_as_not_implemented(bundle, tmp_path):
    results, output = _run_bundle(bundle, tmp_path)
    assert len(results) == 21
    assert {r["status"] for r in results} == {"not_implemented"}
    assert all("not implemented yet" in r["messages"][0] for r in results)
    assert "21 failed" in output and "Public checks (preview)" in output


def test_standalone_bundle_passes_the_reference(bundle, tmp_path):
    work = tmp_path / "bundle"
    shutil.copytree(bundle, work)
    shutil.copyfile(REFERENCE, work / "adam_vs_momentum.py")
    results, output = _run_bundle(work, tmp_path)
    assert len(results) == 21
    assert {r["status"] for r in results} <= {"passed", "format_ok"}
    assert "21 passed" in output and "Public checks (preview)" in output
