"""Finding and reading submissions: files, folders, notebooks and zip archives.

Nothing here runs student code, and nothing is ever written next to a submission. Every
problem with one file becomes a precise message for that student (:attr:`Submission.error`)
and never stops the batch.
"""

from __future__ import annotations

import hashlib
import io
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

from .notebooks import NotebookError, notebook_code

MAX_BYTES = 1_000_000
SOURCE_SUFFIXES = (".py", ".ipynb")
MAX_ZIP_MEMBERS = 5_000
MAX_ZIP_TOTAL = 200_000_000
MAX_ZIP_RATIO = 200
PREFERRED_NAME = "adam_vs_momentum"


@dataclass(frozen=True)
class Submission:
    """One student's submission, read and checked, ready to run (or with its error)."""

    student: str
    #: Where it came from, for reports ("alice.py", "batch.zip:bob/adam_vs_momentum.py").
    origin: str
    sha256: str
    content: bytes
    #: Python source to run (None when the submission cannot run; see ``error``).
    source: str | None
    error: str | None = None
    notes: tuple[str, ...] = ()
    #: The file name the worker gives the source.
    filename: str = "adam_vs_momentum.py"


def student_id(name: str) -> str:
    """A safe student id from a file name: its stem, restricted to [A-Za-z0-9._-]."""
    stem = PurePosixPath(name).name
    for suffix in SOURCE_SUFFIXES + (".zip",):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "student"
    return cleaned[:100]


def read_submission(student: str, origin: str, content: bytes, *, notebook: bool) -> Submission:
    """Check one file's bytes and turn them into runnable source, or a precise error."""
    digest = hashlib.sha256(content).hexdigest()

    def failed(message: str, notes: tuple[str, ...] = ()) -> Submission:
        return Submission(student, origin, digest, content, None, message, notes)

    if len(content) == 0:
        return failed("the file is empty")
    if len(content) > MAX_BYTES:
        return failed(f"the file is {len(content):,} bytes; the limit is {MAX_BYTES:,} bytes")
    if b"\0" in content:
        return failed("the file is binary (it contains NUL bytes), not Python source or a notebook")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return failed(f"the file is not UTF-8 text (byte 0x{content[exc.start]:02x} at offset "
                      f"{exc.start} cannot be decoded); save it as UTF-8")
    notes: tuple[str, ...] = ()
    if notebook:
        try:
            text, notes = notebook_code(text)
        except NotebookError as exc:
            return failed(f"the notebook cannot be read: {exc}")
        if not text.strip():
            return failed("the notebook has no code cells", notes)
    if text.startswith("\ufeff"):
        text = text[1:]
    return Submission(student, origin, digest, content, text, None, notes)


def _is_notebook(name: str) -> bool:
    return name.lower().endswith(".ipynb")


def discover(paths: Iterable[Path]) -> list[Submission]:
    """Every submission under the given files and folders, with unique student ids.

    A folder contributes its ``.py``, ``.ipynb`` and ``.zip`` files (not recursively). A zip
    holding one source file, or an ``adam_vs_momentum.py``/``.ipynb`` anywhere, is one
    student's submission named after the zip; any other zip (an LMS download of many
    students) gives one submission per source file. Duplicate ids get a suffix and a note,
    so nothing is lost.
    """
    found: list[Submission] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_file() and not child.is_symlink() and child.suffix.lower() in SOURCE_SUFFIXES + (".zip",):
                    found.extend(_from_file(child))
        elif path.exists():
            found.extend(_from_file(path))
        else:
            found.append(Submission(student_id(path.name), str(path), "", b"", None,
                                    f"no such file: {path}"))
    return _unique(found)


def _from_file(path: Path) -> Iterator[Submission]:
    student = student_id(path.name)
    try:
        if path.is_symlink():
            raise OSError("symbolic links are not followed")
        size = path.stat().st_size
        if size > MAX_BYTES and path.suffix.lower() != ".zip":
            yield Submission(student, path.name, "", b"", None,
                             f"the file is {size:,} bytes; the limit is {MAX_BYTES:,} bytes")
            return
        with open(path, "rb") as handle:
            content = handle.read(MAX_ZIP_TOTAL if path.suffix.lower() == ".zip" else MAX_BYTES + 1)
    except OSError as exc:
        yield Submission(student, path.name, "", b"", None, f"cannot read the file: {exc.strerror or exc}")
        return
    if path.suffix.lower() == ".zip":
        yield from read_zip(path.name, content)
    else:
        yield read_submission(student, path.name, content, notebook=_is_notebook(path.name))


def read_zip(name: str, content: bytes, *, student_of=student_id) -> Iterator[Submission]:
    """Submissions inside a zip archive, read in memory and never extracted to disk.

    Refuses path traversal, absolute names, links, encrypted members, archives with too
    many members and members that expand beyond the size limit or an implausible ratio.
    ``student_of`` turns a member's name into a student id (Canvas archives use their own).
    """
    zip_student = student_id(name)

    def failed(message: str) -> Submission:
        return Submission(zip_student, name, hashlib.sha256(content).hexdigest(), content, None, message)

    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield failed(f"the zip archive cannot be read: {exc}")
        return
    if len(members) > MAX_ZIP_MEMBERS:
        yield failed(f"the zip archive holds {len(members)} entries; the limit is {MAX_ZIP_MEMBERS}")
        return
    if sum(m.file_size for m in members) > MAX_ZIP_TOTAL:
        yield failed("the zip archive expands to more than 200 MB")
        return
    problems, candidates = [], []
    for member in members:
        member_name = member.filename
        parts = PurePosixPath(member_name.replace("\\", "/")).parts
        mode = member.external_attr >> 16
        if member_name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", member_name):
            problems.append(f"{member_name!r} points outside the archive (path traversal); skipped")
        elif stat.S_ISLNK(mode):
            problems.append(f"{member_name!r} is a symbolic link; skipped")
        elif member.is_dir() or parts[:1] == ("__MACOSX",) or PurePosixPath(member_name).name.startswith("."):
            continue
        elif member.flag_bits & 0x1:
            problems.append(f"{member_name!r} is encrypted; skipped")
        elif member_name.lower().endswith(SOURCE_SUFFIXES):
            if member.file_size > MAX_BYTES:
                problems.append(f"{member_name!r} expands to {member.file_size:,} bytes; the limit is "
                                f"{MAX_BYTES:,}; skipped")
            elif member.compress_size and member.file_size / member.compress_size > MAX_ZIP_RATIO:
                problems.append(f"{member_name!r} expands {member.file_size // member.compress_size}-fold "
                                "(a zip bomb?); skipped")
            else:
                candidates.append(member)
    if not candidates:
        yield failed("the zip archive holds no .py or .ipynb file"
                     + (": " + "; ".join(problems) if problems else ""))
        return
    preferred = sorted((m for m in candidates if PurePosixPath(m.filename).stem == PREFERRED_NAME),
                       key=lambda m: (m.filename.count("/"), not m.filename.endswith(".py"), m.filename))
    if preferred or len(candidates) == 1:  # one student's archive
        chosen = (preferred or candidates)[0]
        notes = tuple(problems)
        if len(candidates) > 1:
            notes += (f"the archive holds several source files; graded {chosen.filename!r}",)
        yield _member(archive, chosen, zip_student, f"{name}:{chosen.filename}", notes)
        return
    for member in candidates:
        yield _member(archive, member, student_of(PurePosixPath(member.filename).name),
                      f"{name}:{member.filename}", tuple(problems))


def _member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, student: str, origin: str,
            notes: tuple[str, ...]) -> Submission:
    try:
        with archive.open(member) as handle:
            data = handle.read(MAX_BYTES + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError) as exc:
        return Submission(student, origin, "", b"", None, f"cannot read {member.filename!r} from the zip: {exc}")
    sub = read_submission(student, origin, data, notebook=_is_notebook(member.filename))
    return Submission(sub.student, sub.origin, sub.sha256, sub.content, sub.source, sub.error,
                      notes + sub.notes, sub.filename)


def _unique(submissions: list[Submission]) -> list[Submission]:
    """Give every submission a distinct id; later duplicates get -2, -3, ... and a note."""
    seen: dict[str, str] = {}
    out = []
    for sub in submissions:
        student = sub.student
        if student in seen:
            n = 2
            while f"{student}-{n}" in seen:
                n += 1
            new_id = f"{student}-{n}"
            note = (f"student id {student!r} is also used by {seen[student]}; this submission is "
                    f"reported as {new_id!r}")
            sub = Submission(new_id, sub.origin, sub.sha256, sub.content, sub.source, sub.error,
                             sub.notes + (note,), sub.filename)
        seen[sub.student] = sub.origin
        out.append(sub)
    return out
