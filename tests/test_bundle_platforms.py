"""The student bundle on every supported Python: a fresh virtual environment, the bundle's own
requirements.txt from the package registry, and the bundle's pytest on the reference solution.

The Pythons are the pyenv versions on this machine within the supported range
(``grader.release.bundle.PYTHON_RANGE``). By default the oldest and the newest run (CI time);
``BUNDLE_PYTHONS=all`` runs every one. Without any such Python the test skips and says why.
Nothing is cached by hand: each run builds its environments afresh.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.release.bundle import PYTHON_RANGE, release

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference" / "adam_vs_momentum.py"
PYENV_FOLDERS = (Path.home() / ".pyenv" / "versions", Path("/root/.pyenv/versions"))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def supported_pythons() -> list[tuple[str, Path]]:
    """(version, interpreter) of every pyenv CPython in the supported range, oldest first."""
    low, high = _version(PYTHON_RANGE[0]), _version(PYTHON_RANGE[1])
    found = {}
    for folder in PYENV_FOLDERS:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if not re.fullmatch(r"\d+\.\d+\.\d+", entry.name):
                continue
            python = entry / "bin" / "python3"
            if python.exists() and low <= _version(entry.name)[:2] <= high:
                found.setdefault(entry.name, python)
    return sorted(found.items(), key=lambda pair: _version(pair[0]))


def chosen_pythons() -> list[tuple[str, Path]]:
    found = supported_pythons()
    if os.environ.get("BUNDLE_PYTHONS") == "all" or len(found) <= 2:
        return found
    return [found[0], found[-1]]


PYTHONS = chosen_pythons()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("platforms") / "bundle"
    release(out)
    return out


@pytest.mark.skipif(not PYTHONS, reason=f"no pyenv Python {PYTHON_RANGE[0]}-{PYTHON_RANGE[1]} on this machine "
                                        f"(looked in {', '.join(str(p) for p in PYENV_FOLDERS)})")
@pytest.mark.parametrize("version,python", PYTHONS, ids=[v for v, _ in PYTHONS])
def test_bundle_passes_the_reference_on(version, python, bundle, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, timeout=600)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    install = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              "-r", str(bundle / "requirements.txt")], capture_output=True, text=True, timeout=1500)
    assert install.returncode == 0, install.stdout + install.stderr
    work = tmp_path / "bundle"
    shutil.copytree(bundle, work)
    shutil.copyfile(REFERENCE, work / "adam_vs_momentum.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    run = subprocess.run([str(bin_dir / "python"), "-m", "pytest", "-q"], cwd=work, capture_output=True,
                         text=True, timeout=900, env=env)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "21 passed" in output and "Not a grade" in output
    stated = subprocess.run([str(bin_dir / "python"), "-c", "import sys; print(sys.version.split()[0])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert stated == version


def test_requirements_and_handout_state_the_supported_range(bundle):
    text = (bundle / "requirements.txt").read_text()
    assert f"Python {PYTHON_RANGE[0]} to {PYTHON_RANGE[1]}" in text
    handout = (bundle / "README.md").read_text()
    assert f"Python {PYTHON_RANGE[0]} to {PYTHON_RANGE[1]}" in handout
    assert "python3 -m venv .venv" in handout and r".venv\Scripts\activate" in handout
