"""``python -m grader``: see :mod:`grader.cli` (the process ends without the interpreter's
teardown: :mod:`grader.entry`)."""

from grader.cli import main
from grader.entry import run_as_program

run_as_program(lambda: main(prog="python -m grader"))
