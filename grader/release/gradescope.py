"""The Gradescope autograder: the zip to upload, and what runs inside Gradescope's container.

Gradescope's "Autograder Specifications"
(https://gradescope-autograders.readthedocs.io/en/latest/specs/) ask for a zip with
``setup.sh`` and ``run_autograder`` at its root. Gradescope extracts it to
``/autograder/source``, runs ``setup.sh`` once as root while it builds the (Ubuntu) image,
copies ``run_autograder`` to ``/autograder/run_autograder`` and runs it once per submission
with the working directory ``/autograder``; the student's files are in
``/autograder/submission``, details about the submission in
``/autograder/submission_metadata.json``
(https://gradescope-autograders.readthedocs.io/en/latest/submission_metadata/), and the
result must be written to ``/autograder/results/results.json``.

:func:`build_bundle` writes the zip: the project source (``pyproject.toml``, ``README.md``,
``assignment/``, ``reference/``, ``grader/``; never ``tests/`` or ``examples/``) and the two
scripts. ``setup.sh`` installs Python 3.11+ and the package into its own virtualenv;
``run_autograder`` calls :func:`run` through ``python -m grader.release.gradescope --root``.

:func:`run` finds the submission, grades it with the real sandbox (:func:`grader.batch.grade_batch`
into a temporary folder) and writes ``results.json`` with the Gradescope exporter
(:func:`grader.outputs.gradescope.gradescope_results`). An ungradable submission (the
grader failed, not the student) gets no ``results.json`` and a non-zero exit, as the exporter
prescribes: Gradescope then shows "The autograder failed to execute correctly" instead of a
0 that looks like a grade, and the instructor can rerun it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import stat
import sys
import tempfile
import tomllib
import traceback
import zipfile
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Sequence, TextIO

from grader.errors import GraderError, SubmissionError

#: Where setup.sh installs the grader (outside /autograder, which the sandbox hides).
VENV = "/opt/adam-vs-momentum/venv"
#: The project's packages and top-level files that go into the zip.
PACKAGES = ("assignment", "reference", "grader")
TOP_FILES = ("pyproject.toml", "README.md")
SCRIPTS = ("setup.sh", "run_autograder")
#: Fixed member timestamps, so the same source gives the same zip.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
#: How many entries of a submission folder are looked at, at most.
MAX_SUBMISSION_ENTRIES = 10_000

SETUP_SH = f"""\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu).
# It installs Python 3.11 or newer and the grader, with its dependencies, into a virtualenv.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SOURCE=/autograder/source
VENV={VENV}

apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates
PYTHON=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    # Ubuntu 22.04 ships Python 3.10 and has 3.11 in universe; older releases need deadsnakes.
    if ! apt-get install -y --no-install-recommends python3.11 python3.11-venv; then
        apt-get install -y --no-install-recommends software-properties-common
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update
        apt-get install -y --no-install-recommends python3.11 python3.11-venv
    fi
    PYTHON=python3.11
fi
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
"$VENV/bin/python" -m pip install "$SOURCE"

# Student code runs as an unprivileged uid; where the container allows no mount namespace,
# file permissions are what keeps the reference solution and this source out of its reach.
REFERENCE_DIR="$("$VENV/bin/python" -c 'import os, reference; print(os.path.dirname(reference.__file__))')"
chmod -R go-rwx "$REFERENCE_DIR" "$SOURCE"
"$VENV/bin/python" -c 'import grader.release.gradescope, reference.adam_vs_momentum'
echo "autograder installed in $VENV"
"""

RUN_AUTOGRADER = f"""\
#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, in /autograder: it grades the file in
# /autograder/submission in the grader's sandbox and writes /autograder/results/results.json.
# For tests outside Gradescope: AUTOGRADER_ROOT replaces /autograder, and AUTOGRADER_PYTHON
# the Python that setup.sh installed (any Python that can import this grader).
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-{VENV}/bin/python}}"
cd /
exec "$PYTHON" -m grader.release.gradescope --root "$ROOT" --visibility {{visibility}}
"""


@dataclass(frozen=True)
class BundleResult:
    """What :func:`build_bundle` wrote."""

    out: Path
    #: Member names, in zip order.
    files: tuple[str, ...]
    size: int


def project_root() -> Path:
    """The source checkout this grader runs from (the folder holding ``pyproject.toml``)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise GraderError(f"{root} holds no pyproject.toml: the Gradescope bundle is built from the "
                          "project's source checkout, not from an installed grader")
    return root


def _skipped(relative: PurePosixPath) -> bool:
    return any(part.startswith(".") or part == "__pycache__" or part.endswith(".egg-info")
               for part in relative.parts) or relative.suffix in (".pyc", ".pyo") or relative.name.endswith("~")


def bundle_members(project: Path, visibility: str = "visible") -> dict[str, bytes]:
    """Every member of the zip (name -> content): the project source and the two scripts;
    ``visibility`` is when students see the tests (Gradescope's ``visible``, ``hidden``,
    ``after_due_date`` or ``after_published``)."""
    from grader.outputs.gradescope import VISIBILITIES

    if visibility not in VISIBILITIES:
        raise GraderError(f"the visibility must be one of {', '.join(VISIBILITIES)}, got {visibility!r}")
    members: dict[str, bytes] = {"setup.sh": SETUP_SH.encode(),
                                 "run_autograder": RUN_AUTOGRADER.replace("{visibility}", visibility).encode()}
    for name in TOP_FILES:
        path = project / name
        if not path.is_file():
            raise GraderError(f"{path} is missing; the Gradescope bundle installs the grader from it")
        members[name] = path.read_bytes()
    for package in PACKAGES:
        folder = project / package
        if not folder.is_dir():
            raise GraderError(f"{folder} is missing; the Gradescope bundle needs the {package!r} package")
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not _skipped(PurePosixPath(d)))
            for filename in sorted(filenames):
                path = Path(dirpath) / filename
                relative = PurePosixPath(path.relative_to(project).as_posix())
                if _skipped(relative) or path.is_symlink() or not path.is_file():
                    continue
                members[str(relative)] = path.read_bytes()
    _check_packaging(members)
    return members


def _check_packaging(members: dict[str, bytes]) -> None:
    """``pip install`` must install every package and data file that grading needs."""
    config = tomllib.loads(members["pyproject.toml"].decode("utf-8")).get("tool", {}).get("setuptools", {})
    listed = set(config.get("packages") or ())
    data = config.get("package-data") or {}
    missing = []
    for name in members:
        path = PurePosixPath(name)
        if len(path.parts) < 2 or path.parts[0] not in PACKAGES:
            continue
        package = ".".join(path.parts[:-1])
        if path.name == "__init__.py" and package not in listed:
            missing.append(f"package {package} is not listed in [tool.setuptools] packages")
        elif package.split(".")[0] == "grader" and path.suffix != ".py" and package in listed \
                and not any(fnmatch(path.name, pattern) for pattern in data.get(package, ())):
            missing.append(f"{name} is not matched by [tool.setuptools.package-data] {package}")
    if missing:
        raise GraderError("pyproject.toml would install an incomplete grader: " + "; ".join(missing))


def build_bundle(out: Path, *, project: Path | None = None, visibility: str = "visible") -> BundleResult:
    """Write the Gradescope autograder zip to ``out`` (atomically; an old zip is replaced)."""
    out = Path(out)
    if out.exists() and not out.is_file():
        raise GraderError(f"{out} exists and is not a file")
    members = bundle_members(project or project_root(), visibility)
    for forbidden in ("tests", "examples"):
        if any(PurePosixPath(name).parts[0] == forbidden for name in members):
            raise GraderError(f"the Gradescope bundle must not hold {forbidden}/")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in [*SCRIPTS, *sorted(n for n in members if n not in SCRIPTS)]:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # Unix, so that the permission bits below are honoured
            mode = 0o755 if name in SCRIPTS else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name])
    data = buffer.getvalue()
    from grader.outputs.reports import write_atomic

    write_atomic(out, data)
    with zipfile.ZipFile(out) as archive:
        names = tuple(archive.namelist())
        if archive.testzip() is not None:
            raise GraderError(f"{out} was written corrupt; try again")
    return BundleResult(out, names, len(data))


# ---------------------------------------------------------------------------
# Inside Gradescope's container
# ---------------------------------------------------------------------------

def student_of(metadata: Path) -> str:
    """The student id for the report: ``users[0].email``, else ``users[0].id``, else "submission"."""
    from grader.intake.submissions import student_id

    try:
        data = json.loads(Path(metadata).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "submission"
    users = data.get("users") if isinstance(data, dict) else None
    if isinstance(users, list) and users and isinstance(users[0], dict):
        for key in ("email", "id"):
            value = users[0].get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                return student_id(str(value).strip())
    return "submission"


def find_submission(folder: Path) -> tuple[Path, tuple[str, ...]]:
    """The file to grade in ``folder`` and notes about the choice; raises SubmissionError.

    The same rule as for every student's files (:func:`grader.intake.names.choose`):
    ``adam_vs_momentum.py`` (else ``.ipynb``; the notebook when the ``.py`` is the unchanged
    stub), the shallowest one if there are several; otherwise the only ``.py``/``.ipynb``
    file; otherwise the only ``.zip``. Hidden files, ``__MACOSX`` and links are ignored.
    """
    from grader.intake.names import also_submitted, choose
    from grader.intake.submissions import path_reader, walk_folder

    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"the submission folder {folder} does not exist")
    chosen, others, notes = choose(walk_folder(folder, MAX_SUBMISSION_ENTRIES),
                                   read=path_reader(lambda name: folder / name))
    return folder / chosen, notes + also_submitted(others)


def _no_submission_results(message: str, visibility: str = "visible") -> dict:
    """results.json when the student submitted nothing gradable (their problem: a real 0),
    shown when the graded submissions' results are (``visibility``)."""
    return {"score": 0.0, "output": f"**Nothing was graded**: {message}.", "output_format": "md",
            "visibility": visibility, "stdout_visibility": "hidden", "tests": []}


def run(root: Path, *, stream: TextIO | None = None, visibility: str = "visible") -> int:
    """Grade the submission under ``root`` (``/autograder`` on Gradescope) into results.json.

    Returns the exit status: 0 when ``results/results.json`` was written, 1 when the
    submission is ungradable because of the grader (no results.json, the reason on stdout).
    """
    from grader.batch import BatchOptions, grade_batch
    from grader.outputs.gradescope import UngradableSubmission, gradescope_results
    from grader.outputs.escaping import md_code, md_text, terminal_text
    from grader.outputs.reports import write_atomic

    stream = stream or sys.stdout
    root = Path(root)
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.unlink(missing_ok=True)
    student = student_of(root / "submission_metadata.json")
    try:
        chosen, notes = find_submission(root / "submission")
    except SubmissionError as exc:
        write_atomic(results, json.dumps(_no_submission_results(str(exc), visibility), indent=2) + "\n")
        print(f"{student}: nothing to grade: {terminal_text(exc)}", file=stream)
        return 0
    graded_name = chosen.relative_to(root / "submission").as_posix()
    print(f"{student}: grading {terminal_text(graded_name)}", file=stream)
    try:
        with tempfile.TemporaryDirectory(prefix="adam-vs-momentum-") as tmp:
            copy = Path(tmp) / "submission" / f"{student}{chosen.suffix.lower()}"
            copy.parent.mkdir()
            shutil.copyfile(chosen, copy)
            batch = grade_batch([copy], BatchOptions(out=Path(tmp) / "out", workers=1, progress=False,
                                                      class_exports=False))
            if len(batch.reports) != 1:
                raise GraderError(f"grading gave {len(batch.reports)} reports instead of one")
            report = batch.reports[0]
        data = gradescope_results(report, visibility=visibility)
    except UngradableSubmission as exc:
        print(f"UNGRADABLE, no results.json written: {exc}", file=stream)
        return 1
    except Exception as exc:  # noqa: BLE001 - any grader failure must not become a score
        print(f"UNGRADABLE, no results.json written: the grader failed ({type(exc).__name__}: {exc}). "
              "No score is recorded; rerun the autograder once the grader problem is fixed.", file=stream)
        traceback.print_exc(file=stream)
        return 1
    header = [f"Graded file: {md_code(graded_name)}", *(md_text(note) for note in notes)]
    data["output"] = "\n\n".join(header) + "\n\n" + data.get("output", "")
    write_atomic(results, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(f"{student}: {report.total:g} / {report.max_total:g}; wrote {results}", file=stream)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.release.gradescope",
                                     description="Grade one Gradescope submission (run by run_autograder).")
    parser.add_argument("--root", type=Path, default=Path("/autograder"),
                        help="Gradescope's autograder folder (default: /autograder)")
    from grader.outputs.gradescope import VISIBILITIES

    parser.add_argument("--visibility", default="visible", choices=VISIBILITIES,
                        help="when students see the tests (default: visible)")
    args = parser.parse_args(argv)
    return run(args.root, visibility=args.visibility)


if __name__ == "__main__":
    from grader.entry import run_as_program

    run_as_program(main)
