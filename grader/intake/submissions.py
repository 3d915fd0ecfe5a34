"""Finding and reading submissions: files, folders, notebooks and zip archives.

Nothing here runs student code, and nothing is ever written next to a submission. Every
problem with one file becomes a precise message for that student (:attr:`Submission.error`)
and never stops the batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator


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
    #: Where it was found, relative to the folder given on the command line ("dup1/alice.py");
    #: only for messages that must tell two files of the same name apart.
    location: str = ""


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
        from grader.engine.notebook import NotebookError, notebook_code  # nbformat: only for notebooks

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
        if path.is_dir() and not path.is_symlink():
            for child in sorted(path.iterdir()):
                if child.suffix.lower() in SOURCE_SUFFIXES + (".zip",) and not child.is_dir():
                    found.extend(_located(_from_file(child), f"{path.name}/{child.name}"))
        elif path.exists() or path.is_symlink():
            found.extend(_located(_from_file(path), path.name))
        else:
            found.append(Submission(student_id(path.name), str(path), "", b"", None,
                                    f"no such file: {path}"))
    return _unique(found)


def _located(submissions: Iterable[Submission], location: str) -> Iterator[Submission]:
    for sub in submissions:
        where = location if sub.origin == PurePosixPath(location).name else f"{location}:{sub.origin.split(':', 1)[-1]}"
        yield dataclasses.replace(sub, location=where)


def _read_regular_file(path: Path, limit: int) -> bytes:
    """Up to ``limit`` bytes of a regular file; never follows a link, never blocks on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if path.is_symlink():
            raise OSError("it is a symbolic link, and links are not followed") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("it is not a regular file")
        return handle.read(limit)


def _from_file(path: Path) -> Iterator[Submission]:
    student = student_id(path.name)
    is_zip = path.suffix.lower() == ".zip"
    try:
        if path.is_symlink():
            raise OSError("it is a symbolic link, and links are not followed")
        size = path.stat().st_size
        limit = MAX_ZIP_TOTAL if is_zip else MAX_BYTES
        if size > limit:
            kind = "zip archive" if is_zip else "file"
            yield Submission(student, path.name, "", b"", None,
                             f"the {kind} is {size:,} bytes; the limit is {limit:,} bytes")
            return
        content = _read_regular_file(path, limit + 1)
    except OSError as exc:
        yield Submission(student, path.name, "", b"", None, f"cannot read the file: {exc.strerror or exc}")
        return
    if is_zip:
        yield from read_zip(path.name, content, student_of=lms_student_id)
    else:
        yield read_submission(student, path.name, content, notebook=_is_notebook(path.name))


def lms_student_id(name: str) -> str:
    """The student id of one file of an LMS download: the Canvas user id where the name follows
    Canvas's "Download Submissions" convention (so the Canvas export matches it), else the stem."""
    from grader.outputs.canvas import canvas_student_of

    return canvas_student_of(name) or student_id(name)


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
        elif member_name.lower().endswith((".zip", ".tar", ".tar.gz", ".tgz", ".7z", ".rar")):
            problems.append(f"{member_name!r} is an archive inside the archive; it is not opened "
                            "(submit the file itself)")
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
    def ranked(members):
        return sorted(members, key=lambda m: (m.filename.count("/"), not m.filename.endswith(".py"), m.filename))

    preferred = ranked(m for m in candidates if PurePosixPath(m.filename).stem == PREFERRED_NAME)
    folders: dict[str, list] = {}
    for member in preferred:
        parts = PurePosixPath(member.filename).parts
        folders.setdefault(parts[0] if len(parts) > 1 else "", []).append(member)
    if len(folders) > 1 and "" not in folders:  # one folder per student, each with its own file
        for folder, members in sorted(folders.items()):
            chosen = ranked(members)[0]
            notes = tuple(problems)
            others = [m.filename for m in candidates if m.filename.startswith(folder + "/") and m is not chosen]
            if others:
                notes += (f"the folder also holds {', '.join(repr(o) for o in others)}; graded {chosen.filename!r}",)
            yield _member(archive, chosen, student_id(folder), f"{name}:{chosen.filename}", notes)
        return
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
    seen: dict[str, str] = {}  # lower-cased id -> origin: report files must not collide on
    out = []                   # case-insensitive file systems (Alice.json, alice.json)
    for sub in submissions:
        student = sub.student
        if student.lower() in seen:
            n = 2
            while f"{student}-{n}".lower() in seen:
                n += 1
            new_id = f"{student}-{n}"
            note = (f"student id {student!r} is also used by {seen[student.lower()]}; this submission "
                    f"({sub.location or sub.origin}) is reported as {new_id!r}")
            sub = dataclasses.replace(sub, student=new_id, notes=sub.notes + (note,))
        seen[sub.student.lower()] = sub.location or sub.origin
        out.append(sub)
    return out
