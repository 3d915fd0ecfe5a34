"""Fixtures shared by the suite's modules: the batches more than one module grades, graded once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"


@pytest.fixture(scope="session")
def corpus_output(tmp_path_factory) -> Path:
    """The output folder of one CLI run over the whole grading corpus (``tests/corpus``), shared
    by the corpus tests and the parity tests."""
    out = tmp_path_factory.mktemp("corpus-grading")
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(CORPUS), "--out", str(out), "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    return out
