"""The README speaks for itself: every command it shows runs, every option exists, every file
it names is in the repository, and the Gradescope steps work as written."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = ROOT / "examples" / "submissions"
PREFIXES = ("python -m grader ", "adam-grader ", ".venv/bin/python -m grader ")
#: Modules the README runs with ``python -m`` besides the CLI, and the options they take.
MODULES = ("grader.release.gradescope", "grader.release.notebook", "grader.release.public")
#: Other commands the README shows with their options (the benchmark; pytest, with pytest-xdist's
#: options; Dask's scheduler and worker).
OTHER_COMMANDS = (("benchmarks/run.py",), ("-m", "pytest"), ("dask", "scheduler"), ("dask", "worker"))


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"^ *```[a-z]*\n(.*?)^ *```", text, flags=re.S | re.M)


def readme_commands() -> list[list[str]]:
    """Every grader command line of the README (code blocks and `inline code`), as argv."""
    lines = [line for block in _code_blocks(README) for line in block.splitlines()]
    lines += re.findall(r"`([^`\n]+)`", README)
    commands = []
    for line in lines:
        for part in re.split(r"&&|;", line):
            part = part.strip()
            for prefix in PREFIXES:
                if part.startswith(prefix):
                    argv = shlex.split(part[len(prefix):], comments=True)
                    if argv and argv not in commands:
                        commands.append(argv)
    return commands


def _subparsers():
    return build_parser()._subparsers._group_actions[0].choices


def test_the_readme_shows_every_command():
    shown = {argv[0] for argv in readme_commands()}
    assert shown >= set(_subparsers())


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda argv: " ".join(argv)[:60])
def test_every_readme_command_line_parses(argv):
    parser = build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"README command does not parse (exit {exc.code}): {' '.join(argv)}")


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "example" in capsys.readouterr().out


def _known_options() -> set[str]:
    options = {o for action in build_parser()._actions for o in action.option_strings}
    for sub in _subparsers().values():
        options |= {o for action in sub._actions for o in action.option_strings}
    return options


def test_every_option_the_readme_names_exists():
    known = _known_options()
    for module in MODULES:  # their own options, from their own --help
        proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True,
                              cwd=ROOT, timeout=120)
        assert proc.returncode == 0, (module, proc.stderr)
        known |= set(re.findall(r"--[a-z][a-z0-9-]*", proc.stdout))
    for command in OTHER_COMMANDS:  # the benchmark script and Dask's own commands, from their --help
        if command[0] == "dask" and shutil.which("dask", path=str(Path(sys.executable).parent)) is None:
            pytest.skip("the cluster extra is not installed: Dask's own options cannot be read")
        argv = ([str(Path(sys.executable).parent / "dask"), *command[1:]] if command[0] == "dask"
                else [sys.executable, *command])
        proc = subprocess.run([*argv, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 0, (command, proc.stderr)
        known |= set(re.findall(r"--[a-z][a-z0-9-]*", proc.stdout))
    conftest = (ROOT / "assignment" / "conftest.py").read_text(encoding="utf-8")
    known |= set(re.findall(r"addoption\(\s*\"(--[a-z-]+)\"", conftest))  # the students' pytest option
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", README))
    assert named - known == set()


def test_the_readme_refers_to_no_document_outside_the_repository():
    for target in re.findall(r"\]\(([^)#\s]+)\)", README):
        if not re.match(r"https?://", target):
            assert (ROOT / target).exists(), target
    tops = ("assignment/", "reference/", "grader/", "tests/", "examples/", "benchmarks/", ".ci/")
    for token in re.findall(r"`([^`\s]+)`", README):
        path = token.rstrip("/")
        if path.startswith(tops) and "<" not in path and "*" not in path:
            assert (ROOT / path).exists(), token
    for outside in (r"\bSPEC\b", r"\bissue \d+", r"developers' guide", r"STYLE\.md", r"/work/"):
        assert not re.search(outside, README), outside


# ---------------------------------------------------------------------------
# Running what the README says, on the examples
# ---------------------------------------------------------------------------

def _substituted(argv: list[str], subs: Path, out: Path) -> list[str]:
    result = []
    for token in argv:
        if token == "SUBMISSIONS...":
            result.append(str(subs))
        elif token == "DIR":
            result.append(str(out))
        else:
            result.append(token)
    return result


def test_the_instructor_commands_run_on_the_examples(tmp_path, capsys):
    subs = tmp_path / "submissions"
    subs.mkdir()
    shutil.copy(EXAMPLES / "alice_correct.py", subs / "alice.py")
    shutil.copy(EXAMPLES / "eli_syntax_error.py", subs / "eli.py")
    out = tmp_path / "DIR"
    wanted = [["grade", "SUBMISSIONS...", "--out", "DIR"],
              ["grade", "SUBMISSIONS...", "--out", "DIR", "--only", "alice"],
              ["override", "DIR", "alice", "1f", "1", "--why", "derivation accepted by hand"],
              ["overrides", "DIR"],
              ["override", "DIR", "alice", "1f", "--remove"]]
    commands = readme_commands()
    for argv in wanted:
        assert argv in commands, f"the README no longer shows {' '.join(argv)}"
        assert main(_substituted(argv, subs, out) + (["--workers", "1"] if argv[0] == "grade" else [])) == 0, argv
    printed = capsys.readouterr().out
    assert "derivation accepted by hand" in printed and "Summary:" in printed


def test_the_gradescope_local_test_works_as_written(tmp_path):
    block = next(b for b in _code_blocks(README) if "AUTOGRADER_ROOT" in b)
    script = block.replace("/tmp/ag", str(tmp_path / "ag"))
    script = script.replace('"$PWD/.venv/bin/python"', shlex.quote(sys.executable))
    script = script.replace("python -m grader", f"{shlex.quote(sys.executable)} -m grader")
    script = script.replace("autograder.zip", str(tmp_path / "autograder.zip"))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "ag" / "results" / "results.json").read_text())
    assert results["score"] == 15.0 and len(results["tests"]) == 21


def test_the_handout_states_the_file_size_limits_the_grader_applies():
    import re as _re

    from grader.engine.source import MAX_NOTEBOOK_BYTES, MAX_SOURCE_BYTES

    handout = " ".join((ROOT / "assignment" / "README.md").read_text(encoding="utf-8").split())
    stated = _re.search(r"a `\.py` file of at most ([\d,]+) bytes, or a notebook of at most ([\d,]+) bytes "
                        r"\(saved plots and tables included\) whose code cells hold at most ([\d,]+) bytes", handout)
    assert stated, "the handout no longer states the file size limits"
    assert tuple(int(n.replace(",", "")) for n in stated.groups()) == (MAX_SOURCE_BYTES, MAX_NOTEBOOK_BYTES,
                                                                       MAX_SOURCE_BYTES)


def test_the_handout_states_the_rubrics_time_limits():
    """The students' handout names the import, call and submission limits the grader applies."""
    import re as _re

    from grader.rubric import load_rubric

    limits = load_rubric().limits
    handout = " ".join((ROOT / "assignment" / "README.md").read_text(encoding="utf-8").split())
    stated = _re.search(r"(\d+) s to import your file, (\d+) s per function call, (\d+) s for the import "
                        r"and all the calls together", handout)
    assert stated, "the handout no longer states the time limits"
    assert tuple(float(n) for n in stated.groups()) == (limits.import_seconds, limits.call_seconds,
                                                        limits.submission_seconds)
    per_process = _re.search(r"limits for one process \((\d+) s of CPU time, (\d+) MiB of memory", handout)
    assert per_process, "the handout no longer states the limits of one process"
    assert tuple(int(n) for n in per_process.groups()) == (limits.worker_cpu_seconds, limits.worker_memory_mib)
