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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PlatformRun:
    """What the bundle did on one Python: the install, its pytest, the version it reported."""

    installed: bool
    install_output: str
    returncode: int = -1
    output: str = ""
    stated: str = ""


def run_bundle(python: Path, bundle: Path, folder: Path) -> PlatformRun:
    """A fresh virtual environment of ``python`` in ``folder``, the bundle's requirements, then
    the bundle's pytest on the reference solution."""
    venv = folder / "venv"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, timeout=600)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    install = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              "-r", str(bundle / "requirements.txt")], capture_output=True, text=True, timeout=1500)
    if install.returncode != 0:
        return PlatformRun(False, install.stdout + install.stderr)
    work = folder / "bundle"
    shutil.copytree(bundle, work)
    shutil.copyfile(REFERENCE, work / "adam_vs_momentum.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    run = subprocess.run([str(bin_dir / "python"), "-m", "pytest", "-q"], cwd=work, capture_output=True,
                         text=True, timeout=900, env=env)
    stated = subprocess.run([str(bin_dir / "python"), "-c", "import sys; print(sys.version.split()[0])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    return PlatformRun(True, "", run.returncode, run.stdout + run.stderr, stated)


@pytest.fixture(scope="module")
def platform_runs(bundle, tmp_path_factory) -> dict[str, PlatformRun]:
    """Every chosen Python's run, side by side (each is mostly waiting on pip and imports)."""
    folders = {version: tmp_path_factory.mktemp(f"python-{version}") for version, _ in PYTHONS}
    with ThreadPoolExecutor(max_workers=max(1, len(PYTHONS))) as pool:
        futures = {version: pool.submit(run_bundle, python, bundle, folders[version]) for version, python in PYTHONS}
        return {version: future.result() for version, future in futures.items()}


@pytest.mark.skipif(not PYTHONS, reason=f"no pyenv Python {PYTHON_RANGE[0]}-{PYTHON_RANGE[1]} on this machine "
                                        f"(looked in {', '.join(str(p) for p in PYENV_FOLDERS)})")
@pytest.mark.parametrize("version", [v for v, _ in PYTHONS])
def test_bundle_passes_the_reference_on(version, platform_runs):
    run = platform_runs[version]
    assert run.installed, run.install_output
    assert run.returncode == 0, run.output
    assert "21 passed" in run.output and "Not a grade" in run.output
    assert run.stated == version


def test_requirements_and_handout_state_the_supported_range(bundle):
    text = (bundle / "requirements.txt").read_text()
    assert f"Python {PYTHON_RANGE[0]} to {PYTHON_RANGE[1]}" in text
    handout = (bundle / "README.md").read_text()
    assert f"Python {PYTHON_RANGE[0]} to {PYTHON_RANGE[1]}" in handout
    assert "python3 -m venv .venv" in handout and r".venv\Scripts\activate" in handout
