"""How the grader's commands end (grader/entry.py): their status and output as with
``sys.exit``, every exit handler run, the interpreter's teardown skipped."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = textwrap.dedent("""
    import atexit, sys
    from grader.entry import run_as_program

    class Teardown:
        def __init__(self, path):
            self.path = path

        def __del__(self, open=open):  # runs only when the interpreter frees its modules
            with open(self.path, "w") as handle:
                handle.write("freed")

    KEPT = Teardown(sys.argv[1] + ".teardown")

    def main():
        atexit.register(lambda: open(sys.argv[1] + ".atexit", "w").write("ran"))
        sys.stdout.write("buffered output, no newline")  # still in the buffer at exit
        how = sys.argv[2]
        if how == "raise":
            raise RuntimeError("boom")
        if how == "systemexit":
            raise SystemExit(4)
        if how == "message":
            sys.exit("a message")
        return int(how)

    run_as_program(main)
""")


def _run(tmp_path: Path, how: str, *, fast: bool = True) -> subprocess.CompletedProcess:
    program = PROGRAM if fast else PROGRAM.replace("run_as_program(main)", "sys.exit(main())")
    script = tmp_path / "program.py"
    script.write_text(program)
    return subprocess.run([sys.executable, str(script), str(tmp_path / "mark"), how], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("how, status", [("0", 0), ("3", 3), ("systemexit", 4), ("message", 1), ("raise", 1)])
def test_a_command_ends_with_its_status_its_output_and_its_exit_handlers(tmp_path, how, status):
    done = _run(tmp_path, how)
    assert done.returncode == status
    assert done.stdout == "buffered output, no newline"
    assert (tmp_path / "mark.atexit").read_text() == "ran"
    if how == "raise":
        assert "RuntimeError: boom" in done.stderr
    if how == "message":
        assert done.stderr.strip() == "a message"


def test_the_interpreters_teardown_is_skipped(tmp_path):
    _run(tmp_path, "0", fast=False)
    assert (tmp_path / "mark.teardown").exists()  # the probe works: a plain exit frees it
    (tmp_path / "mark.teardown").unlink()
    assert _run(tmp_path, "0").returncode == 0
    assert not (tmp_path / "mark.teardown").exists()


def test_every_entry_point_ends_this_way():
    assert "run_as_program" in (ROOT / "grader" / "__main__.py").read_text()
    gradescope = (ROOT / "grader" / "release" / "gradescope.py").read_text()
    assert 'if __name__ == "__main__":\n    from grader.entry import run_as_program' in gradescope
    assert 'adam-grader = "grader.cli:script"' in (ROOT / "pyproject.toml").read_text()


def test_a_reader_that_leaves_early_still_gets_the_commands_status(tmp_path):
    """``python -m grader --help | head -1``: the status is the command's, no traceback."""
    done = subprocess.run(f"{sys.executable} -m grader --help | head -c 20; exit ${{PIPESTATUS[0]}}",
                          shell=True, executable="/bin/bash", cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert "Traceback" not in done.stderr
    assert done.returncode in (0, 120)
