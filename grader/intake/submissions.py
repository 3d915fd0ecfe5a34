"""Finding and reading submissions: files, folders, notebooks and zip archives.

Nothing here runs student code, and nothing is ever written next to a submission. Every
problem with one input becomes a precise message for that student (:attr:`Submission.error`)
or, for what is not a submission at all, a :class:`Skipped` entry with its reason; neither
ever stops the batch. What is a submission, and whose (SPEC section 6):

- a ``.py`` or ``.ipynb`` file is one submission, named after the file (or the Canvas user id
  in a Canvas download file name);
- a ``.zip`` archive, or a folder inside a folder given to the grader, is one student's
  submission named after the archive or folder; the file graded inside it is chosen by
  :func:`grader.intake.names.choose` (given each file's bytes, so that an unchanged stub
  next to a worked notebook is not what is graded), and ids never come from inside it;
- an archive holds several students only when it is given on the command line and either
  the instructor says so (``class_archive``) or it is Canvas's own "Download Submissions"
  archive, recognised as a whole (every file at the top level, every ``.py``, ``.ipynb`` and
  ``.zip`` named by Canvas's convention, :func:`grader.intake.names.canvas_file`) and given only
  next to other such archives or Canvas-named files (next to a student's zip, folder or file, as
  in ``grade subs/*``, a student could have laid out their zip that way: it is then that
  student's one submission, with a note). Then no member may claim an id that another input
  already has;
- a file next to the submissions (in a folder or a class archive) that is not graded (a PDF, a
  Canvas text entry or URL) is listed as skipped with its reason, and in the report of the
  Canvas student it belongs to; a file inside one student's zip or folder that is not graded is
  listed in that student's report.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import lzma
import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator, Sequence

from grader.engine.source import MAX_SOURCE_BYTES, byte_limit, read_source, too_large
from grader.errors import InputError, SubmissionError
from grader.intake.names import (ARCHIVE_SUFFIX, MAX_LISTED, PREFERRED_NAME, SOURCE_SUFFIXES, also_submitted,
                                 canvas_download_student, canvas_file, canvas_file_name, choose, display_name,
                                 file_student_id, student_id, suffix_of)

__all__ = ["DEFAULT_LIMITS", "Intake", "IntakeLimits", "MAX_BYTES", "PREFERRED_NAME", "SOURCE_SUFFIXES",
           "Skipped", "Submission", "discover", "find_submissions", "read_submission", "read_zip",
           "student_id", "walk_folder"]

MAX_BYTES = MAX_SOURCE_BYTES  # a .py file (a notebook: engine.source.MAX_NOTEBOOK_BYTES)
MAX_ZIP_TOTAL = 200_000_000
MAX_ZIP_RATIO = 200
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".7z", ".rar")
_IGNORED_FOLDERS = ("__MACOSX", "__pycache__")
#: Why a file next to the submissions, that is not a Canvas text entry or URL, is not graded.
_NOT_A_SUBMISSION = "not a .py, .ipynb or .zip file, nor a folder of one student's files"
#: What reading a damaged archive member can raise (bad CRC, truncated or corrupt deflate,
#: bzip2 or LZMA streams, unsupported compression methods).
_MEMBER_ERRORS = (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError, zlib.error,
                  lzma.LZMAError, NotImplementedError)


@dataclass(frozen=True)
class IntakeLimits:
    """Caps that keep one input from becoming thousands of submissions or hours of work."""

    #: Entries of one student's zip archive.
    archive_entries: int = 1_000
    #: Entries of an archive holding a whole class (an LMS download).
    class_archive_entries: int = 20_000
    #: Files looked at in one student's folder.
    folder_files: int = 1_000
    #: Submissions in one batch (more is an error before grading starts).
    batch_submissions: int = 5_000


DEFAULT_LIMITS = IntakeLimits()


@dataclass(frozen=True)
class Submission:
    """One student's submission, read and checked, ready to run (or with its error)."""

    student: str
    #: Where it came from, for reports ("alice.py", "batch.zip:bob/adam_vs_momentum.py"), as
    #: one line of printable text.
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


@dataclass(frozen=True)
class Skipped:
    """An input path (or archive member) that is not graded, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Intake:
    """What the inputs hold: the submissions (unique ids) and everything not graded."""

    submissions: tuple[Submission, ...]
    skipped: tuple[Skipped, ...] = ()


# ---------------------------------------------------------------------------
# One file's bytes
# ---------------------------------------------------------------------------

def read_submission(student: str, origin: str, content: bytes, *, notebook: bool) -> Submission:
    """Check one file's bytes and turn them into runnable source, or a precise error."""
    digest = hashlib.sha256(content).hexdigest()
    origin = display_name(origin, 300)

    def failed(message: str, notes: tuple[str, ...] = ()) -> Submission:
        return Submission(student, origin, digest, content, None, message, notes)

    read = read_source(content, notebook=notebook)
    if read.error is not None:
        return failed(read.error, read.notes)
    return Submission(student, origin, digest, content, read.code, None, read.notes)


def _is_notebook(name: str) -> bool:
    return suffix_of(name) == ".ipynb"


def _unreadable(student: str, origin: str, message: str, content: bytes = b"") -> Submission:
    digest = hashlib.sha256(content).hexdigest() if content else ""
    return Submission(student, display_name(origin, 300), digest, content, None, message)


def _read_regular_file(path: Path, limit: int) -> bytes:
    """Up to ``limit`` bytes of a regular file; never follows a link, never blocks on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if path.is_symlink():
            raise OSError("it is a symbolic link, and links are not followed") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("it is not a regular file")
        return handle.read(limit)


def _file_bytes(path: Path, limit: int, kind: str) -> bytes:
    """The bytes of an input file, or SubmissionError saying precisely why not (``kind``: "zip
    archive", "file" or "notebook")."""
    try:
        if path.is_symlink():
            raise OSError("it is a symbolic link, and links are not followed")
        size = path.stat().st_size
        if size > limit:
            raise SubmissionError(too_large(size, kind == "notebook") if kind != "zip archive" else
                                  f"the {kind} is {size:,} bytes; the limit is {limit:,} bytes")
        return _read_regular_file(path, limit + 1)
    except OSError as exc:
        raise SubmissionError(f"cannot read the file: {exc.strerror or exc}") from None


def _from_file(path: Path, student: str, origin: str, limits: IntakeLimits) -> Submission:
    """One submission from one file (a source file or a student's zip)."""
    is_zip, notebook = suffix_of(path.name) == ARCHIVE_SUFFIX, _is_notebook(path.name)
    try:
        content = _file_bytes(path, MAX_ZIP_TOTAL if is_zip else byte_limit(notebook),
                              "zip archive" if is_zip else "notebook" if notebook else "file")
    except SubmissionError as exc:
        return _unreadable(student, origin, str(exc))
    if is_zip:
        return _student_zip(student, origin, content, limits)
    return read_submission(student, origin, content, notebook=notebook)


def path_reader(paths: Callable[[str], Path]) -> Callable[[str], bytes | None]:
    """For :func:`choose`: a chosen name's bytes (``paths``: a name -> its file), or None when
    it cannot be read (the file is then read again, and its own message given, if graded)."""
    def read(name: str) -> bytes | None:
        try:
            return _read_regular_file(Path(paths(name)), MAX_BYTES + 1)
        except OSError:
            return None
    return read


def _member_reader(archive: zipfile.ZipFile, by_name: dict[str, zipfile.ZipInfo]) -> Callable[[str], bytes | None]:
    """For :func:`choose`: a member's bytes by its name in ``by_name``, or None when unreadable."""
    def read(name: str) -> bytes | None:
        try:
            with archive.open(by_name[name]) as handle:
                return handle.read(MAX_BYTES + 1)
        except _MEMBER_ERRORS:
            return None
    return read


# ---------------------------------------------------------------------------
# Zip archives (read in memory, never extracted)
# ---------------------------------------------------------------------------

def _open_zip(content: bytes, max_entries: int) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The archive and its entries, or SubmissionError (unreadable, too many or duplicate entries)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise SubmissionError(f"the zip archive cannot be read: {exc}") from None
    if len(members) > max_entries:
        raise SubmissionError(f"the zip archive holds {len(members):,} entries; the limit is {max_entries:,}")
    if sum(m.file_size for m in members) > MAX_ZIP_TOTAL:
        raise SubmissionError("the zip archive expands to more than 200 MB")
    seen: dict[str, int] = {}
    for member in members:
        key = _member_name(member).rstrip("/")
        seen[key] = seen.get(key, 0) + 1
    duplicates = [name for name, count in seen.items() if count > 1]
    if duplicates:
        listed = ", ".join(repr(display_name(n)) for n in duplicates[:10])
        raise SubmissionError(f"the zip archive holds several entries with the same name ({listed}); "
                              "unzip tools would keep only one of them, so the archive is not graded. "
                              "Make a new zip with one file of each name")
    return archive, members


def _member_name(member: zipfile.ZipInfo) -> str:
    """A member's path with "/" between its parts, however the zip tool wrote them (Windows'
    own "Compress-Archive" of PowerShell 5 writes ``hw3\\adam_vs_momentum.py``)."""
    return PurePosixPath(member.filename.replace("\\", "/")).as_posix()


def _outside_or_link(member: zipfile.ZipInfo) -> str | None:
    """Why ``member`` may never be read, whatever its name: it points outside the archive, or it
    is a symbolic link. (One rule for every member: a source file or a student's own zip.)"""
    name = member.filename
    if name.startswith(("/", "\\")) or ".." in _parts(name) or re.match(r"^[A-Za-z]:", name):
        return "points outside the archive (path traversal); skipped"
    if stat.S_ISLNK(member.external_attr >> 16):
        return "is a symbolic link; skipped"
    return None


def _encrypted(member: zipfile.ZipInfo) -> bool:
    return bool(member.flag_bits & 0x1)


def _oversized(member: zipfile.ZipInfo, limit: int) -> str | None:
    """Why ``member`` is too large to read (beyond ``limit`` bytes, or a zip bomb's ratio)."""
    if member.file_size > limit:
        return f"expands to {member.file_size:,} bytes; the limit is {limit:,}; skipped"
    if member.compress_size and member.file_size / member.compress_size > MAX_ZIP_RATIO:
        return f"expands {member.file_size // member.compress_size}-fold (a zip bomb?); skipped"
    return None


def _parts(name: str) -> tuple[str, ...]:
    return PurePosixPath(name.replace("\\", "/")).parts


def _candidates(members: Sequence[zipfile.ZipInfo]) -> tuple[list[zipfile.ZipInfo], list[str]]:
    """The members that could be graded, and a problem note for every refused one."""
    problems, candidates = [], []
    for member in members:
        name = _member_name(member)
        shown = repr(display_name(member.filename))
        parts = _parts(name)
        unsafe = _outside_or_link(member)
        if unsafe:
            problems.append(f"{shown} {unsafe}")
        elif member.is_dir() or (parts[:1] and parts[0] in _IGNORED_FOLDERS) or PurePosixPath(name).name.startswith("."):
            continue
        elif _encrypted(member):
            problems.append(f"{shown} is encrypted; skipped")
        elif name.lower().rstrip().endswith(_ARCHIVE_SUFFIXES):
            oversized = _oversized(member, MAX_ZIP_TOTAL) if len(parts) == 1 else None
            problems.append(f"{shown} {oversized}" if oversized else f"{shown} is an archive inside the "
                            "archive; it is not opened (submit the file itself)")
        elif suffix_of(name) in SOURCE_SUFFIXES:
            oversized = _oversized(member, byte_limit(_is_notebook(name)))
            if oversized:
                problems.append(f"{shown} {oversized}")
            else:
                candidates.append(member)
    return candidates, problems


def _is_other_file(member: zipfile.ZipInfo) -> bool:
    """A plain file of an archive that :func:`_candidates` neither takes nor refuses (a PDF, a
    picture, a text file): not graded, but listed, never dropped unseen. Hidden files and
    ``__MACOSX`` are not."""
    name = _member_name(member)
    return (not member.is_dir() and not any(part.startswith(".") or part in _IGNORED_FOLDERS for part in _parts(name))
            and _outside_or_link(member) is None and not _encrypted(member)
            and not name.lower().rstrip().endswith(_ARCHIVE_SUFFIXES) and suffix_of(name) not in SOURCE_SUFFIXES)


def _not_graded_reason(name: str) -> str:
    """Why a file next to the submissions (in a folder, or at the top of a class archive) that is
    not a submission is not graded: a Canvas text entry or URL submission says so."""
    found = canvas_file(name)
    if found is None or found.kind == "upload":
        return _NOT_A_SUBMISSION
    what = "a text entry" if found.kind == "text" else "a URL"
    return (f"{what} submission on Canvas (student {found.student!r}), not graded: only uploaded .py, "
            ".ipynb or .zip files are")


def _keep(files: dict, name: str, full_name: str, value) -> None:
    """Add one of a student's files under its own name, or under its full name when another
    of theirs has that own name already (Canvas may keep two attachments of one name), so that
    it is chosen or listed as also submitted, never dropped unseen."""
    files[full_name if name in files else name] = value


def _is_student_zip_member(member: zipfile.ZipInfo) -> bool:
    """A plain ``.zip`` file at the top level of a class archive (one student's upload), that
    passes the same safety rules as any member (:func:`_outside_or_link`, :func:`_oversized`)."""
    name = member.filename
    return (len(_parts(name)) == 1 and suffix_of(name) == ARCHIVE_SUFFIX and not member.is_dir()
            and not name.startswith(".") and _outside_or_link(member) is None and not _encrypted(member)
            and _oversized(member, MAX_ZIP_TOTAL) is None)


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, student: str, origin: str,
                 notes: tuple[str, ...]) -> Submission:
    try:
        with archive.open(member) as handle:
            data = handle.read(byte_limit(_is_notebook(member.filename)) + 1)
    except _MEMBER_ERRORS as exc:
        return dataclasses.replace(
            _unreadable(student, origin, f"cannot read {display_name(member.filename)!r} from the zip "
                                         f"(the archive is damaged): {type(exc).__name__}: {exc}"),
            notes=notes)
    sub = read_submission(student, origin, data, notebook=_is_notebook(member.filename))
    return dataclasses.replace(sub, notes=notes + sub.notes)


def _student_zip(student: str, name: str, content: bytes, limits: IntakeLimits) -> Submission:
    """A student's zip archive: exactly one submission, with that student's id."""
    try:
        archive, members = _open_zip(content, limits.archive_entries)
    except SubmissionError as exc:
        return _unreadable(student, name, str(exc), content)
    candidates, problems = _candidates(members)
    by_name = {_member_name(m): m for m in candidates}
    listed = set(by_name.values()) | {m for m in members if _is_other_file(m)}
    names = [_member_name(m) for m in members if m in listed]  # the other files: in the report
    try:
        chosen, others, chose = choose(names, archives=False, read=_member_reader(archive, by_name))
    except SubmissionError as exc:
        message = "the zip archive holds no .py or .ipynb file" if not candidates else str(exc)
        if problems:
            message += ": " + "; ".join(problems)
        return _unreadable(student, name, message, content)
    notes = tuple(problems) + chose + also_submitted(others)
    return _read_member(archive, by_name[chosen], student, f"{name}:{chosen}", notes)


def read_zip(name: str, content: bytes, *, limits: IntakeLimits = DEFAULT_LIMITS) -> Iterator[Submission]:
    """The one submission in a student's zip archive (named after the archive)."""
    yield _student_zip(file_student_id(name), name, content, limits)


def _visible_files(members: Sequence[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    return [m for m in members if not m.is_dir() and not PurePosixPath(_member_name(m)).name.startswith(".")
            and _parts(m.filename)[:1] != ("__MACOSX",)]


def _is_canvas_named(member: zipfile.ZipInfo) -> bool:
    return len(_parts(member.filename)) == 1 and canvas_file(member.filename) is not None


def _not_canvas(files: Sequence[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    """The files that keep an archive from being Canvas's download: any file below the top level,
    and any ``.py``, ``.ipynb`` or ``.zip`` file not named by Canvas's convention (it could be
    graded, and would be nobody's). Other top-level files (a PDF added by hand) are listed."""
    return [m for m in files if len(_parts(m.filename)) > 1
            or (not _is_canvas_named(m) and suffix_of(m.filename) in SOURCE_SUFFIXES + (ARCHIVE_SUFFIX,))]


def is_canvas_download(members: Sequence[zipfile.ZipInfo]) -> bool:
    """Whether an archive is Canvas's own "Download Submissions" zip, judged as a whole: every
    file at the top level, at least one and every ``.py``, ``.ipynb`` and ``.zip`` among them
    named by Canvas's convention (:func:`grader.intake.names.canvas_file`: an upload, a text
    entry or a URL, of a user id or anonymous)."""
    files = _visible_files(members)
    return any(_is_canvas_named(m) for m in files) and not _not_canvas(files)


def _canvas_like_note(name: str, members: Sequence[zipfile.ZipInfo]) -> str | None:
    """The note for a zip whose files are mostly named like Canvas's download but that is not one
    (:func:`is_canvas_download`), so is graded as one student's zip; None for any other zip."""
    files = _visible_files(members)
    named, others = sum(_is_canvas_named(m) for m in files), _not_canvas(files)
    if not others or 2 * named <= len(files):
        return None
    listed = ", ".join(repr(display_name(m.filename)) for m in others[:MAX_LISTED])
    more = f" and {len(others) - MAX_LISTED} more" if len(others) > MAX_LISTED else ""
    return (f"{display_name(name)} is laid out like Canvas's \"Download Submissions\" zip ({named} of its "
            f"{len(files)} files are named the Canvas way) but also holds {listed}{more}, which Canvas does not "
            "write, so it is graded as one student's zip, not as the class; if it holds the whole class, "
            "grade it with --class-archive")


def _class_zip(path: Path, name: str, limits: IntakeLimits, explicit: bool
               ) -> tuple[list[Submission], list[Skipped]] | str | None:
    """The submissions of a class archive and what it holds that is not graded, or None when
    ``path`` is one student's archive, or the note for its report when it is one student's
    archive that looks like Canvas's download but for some files (:func:`_canvas_like_note`)."""
    if canvas_download_student(name) and not explicit:  # one student's file of a Canvas download
        return None
    try:
        content = _file_bytes(path, MAX_ZIP_TOTAL, "zip archive")
        archive, members = _open_zip(content, limits.class_archive_entries)
    except SubmissionError:
        if not explicit:
            return None
        raise
    canvas = is_canvas_download(members)
    if not (canvas or explicit):
        return _canvas_like_note(name, members)
    # A student's own zip among the class's files (Canvas keeps an uploaded zip as one file,
    # kai_1002_1_hw.zip): that student's submission, opened one level down by the student-zip
    # rule (whose caps apply; an archive inside it is not opened).
    student_zips = {m.filename: m for m in members if _is_student_zip_member(m)}
    candidates, problems = _candidates([m for m in members if m.filename not in student_zips])
    skipped = [Skipped(display_name(name), problem) for problem in problems]
    groups: dict[str, dict[str, zipfile.ZipInfo]] = {}
    for member in candidates:
        parts = _parts(member.filename)
        if len(parts) > 1:  # a folder per student
            key, shown = student_id(parts[0]), "/".join(parts[1:])
        else:  # a file per student, Canvas-named or named after the student
            key, shown = file_student_id(parts[0]), canvas_file_name(parts[0]) or parts[0]
        _keep(groups.setdefault(key, {}), shown, parts[-1], member)
    #: Canvas student -> their top-level files that are not graded (also listed as skipped).
    extras: dict[str, list[str]] = {}
    for member in members:
        if member.filename in student_zips or not _is_other_file(member):
            continue
        parts = _parts(member.filename)
        if len(parts) > 1:  # in a student's folder: listed with that student's submission
            _keep(groups.setdefault(student_id(parts[0]), {}), "/".join(parts[1:]), parts[-1], member)
            continue
        skipped.append(Skipped(display_name(f"{name}:{member.filename}"), _not_graded_reason(parts[0])))
        owner = canvas_file(parts[0])
        if owner is not None:
            extras.setdefault(owner.student, []).append(owner.file or parts[0])
    found = []
    zipped: dict[str, list[zipfile.ZipInfo]] = {}
    for member in student_zips.values():
        zipped.setdefault(file_student_id(member.filename), []).append(member)
    for student, inner in sorted(zipped.items()):
        if student in groups:  # a source file of theirs is graded; the zip is listed with it
            skipped += [Skipped(display_name(f"{name}:{m.filename}"), f"an archive next to a source file of "
                                f"student {student!r}, which is graded instead") for m in inner]
            continue
        if len(inner) > 1:
            found.append(_unreadable(student, f"{name}:{student}", "several zip archives were submitted ("
                                     + ", ".join(repr(display_name(m.filename)) for m in inner)
                                     + "); submit one zip or your adam_vs_momentum.py"))
            continue
        member, origin = inner[0], f"{name}:{inner[0].filename}"
        try:
            with archive.open(member) as handle:
                data = handle.read(MAX_ZIP_TOTAL + 1)
        except _MEMBER_ERRORS as exc:
            found.append(_unreadable(student, origin, f"cannot read {display_name(member.filename)!r} from the "
                                     f"zip (the archive is damaged): {type(exc).__name__}: {exc}"))
            continue
        sub = _student_zip(student, origin, data, limits)
        found.append(dataclasses.replace(sub, location=display_name(origin),
                                         notes=sub.notes + also_submitted(extras.get(student, ()))))
    for student, by_name in sorted(groups.items()):
        try:
            chosen, others, chose = choose(list(by_name), archives=False, read=_member_reader(archive, by_name))
        except SubmissionError as exc:
            found.append(_unreadable(student, f"{name}:{student}", str(exc)))
            continue
        member = by_name[chosen].filename
        notes = chose + also_submitted(others + tuple(extras.get(student, ())))
        sub = _read_member(archive, by_name[chosen], student, f"{name}:{member}", notes)
        found.append(dataclasses.replace(sub, location=display_name(f"{name}:{member}")))
    return found, skipped


# ---------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------

def walk_folder(folder: Path, limit: int, *, every_file: bool = False) -> list[str]:
    """Relative POSIX paths of the files in one student's folder that could be the submission
    (``.py``, ``.ipynb``, ``.zip``; with ``every_file``, every other file too, to be listed),
    without hidden files, ``__MACOSX`` or links; SubmissionError past ``limit`` entries."""
    found, seen = [], 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _IGNORED_FOLDERS
                             and not (Path(dirpath) / d).is_symlink())
        for filename in sorted(filenames):
            seen += 1
            if seen > limit:
                raise SubmissionError(f"the submission holds more than {limit:,} files")
            path = Path(dirpath) / filename
            if filename.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            if every_file or suffix_of(filename) in SOURCE_SUFFIXES + (ARCHIVE_SUFFIX,):
                found.append(path.relative_to(folder).as_posix())
    return found


def _from_folder(folder: Path, student: str, origin: str, limits: IntakeLimits) -> Submission:
    """A folder holding one student's files: one submission, by the same rule as a zip."""
    try:
        names = walk_folder(folder, limits.folder_files, every_file=True)  # the others: in the report
        chosen, others, chose = choose(names, read=path_reader(lambda name: folder / name))
    except SubmissionError as exc:
        return _unreadable(student, origin, str(exc))
    sub = _from_file(folder / chosen, student, f"{origin}/{chosen}", limits)
    return dataclasses.replace(sub, notes=chose + also_submitted(others) + sub.notes)


# ---------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------

def _safe(read, student: str, origin: str) -> Submission:
    """``read()``, or that student's precise message when reading raised anything at all."""
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - one input never stops the batch
        return _unreadable(student, origin, f"the grader could not read this input "
                                            f"({type(exc).__name__}: {display_name(str(exc))})")


def _scan_folder(folder: Path, limits: IntakeLimits) -> tuple[list[Submission], list[Skipped]]:
    """The submissions in a folder given to the grader: each file, and each subfolder as one
    student's submission; everything else is listed as skipped with its reason."""
    found, skipped = [], []
    #: Canvas user id -> {the student's own file name: the file}: a download unzipped by hand
    #: holds each student's files side by side, and they are one submission, as in the zip.
    canvas: dict[str, dict[str, Path]] = {}
    #: Canvas student -> their files that are not graded (listed as skipped, and in their report).
    extras: dict[str, list[str]] = {}
    try:
        children = sorted(folder.iterdir())
    except OSError as exc:
        raise InputError(f"cannot read the folder {folder}: {exc.strerror or exc}") from None
    for child in children:
        shown = display_name(f"{folder.name}/{child.name}")
        name = child.name
        if name.startswith("."):
            skipped.append(Skipped(shown, "hidden file or folder (its name starts with a dot)"))
        elif name.endswith("~"):
            skipped.append(Skipped(shown, "editor backup file (its name ends with ~)"))
        elif child.is_symlink() and child.is_dir():
            skipped.append(Skipped(shown, "a symbolic link to a folder (links are not followed; give the "
                                          "folder itself)"))
        elif child.is_dir():
            if name in _IGNORED_FOLDERS:
                skipped.append(Skipped(shown, f"{name} holds no submissions"))
                continue
            student = student_id(name)
            found.append(dataclasses.replace(
                _safe(lambda: _from_folder(child, student, name, limits), student, name), location=shown))
        elif suffix_of(name) in SOURCE_SUFFIXES + (ARCHIVE_SUFFIX,) and canvas_download_student(name):
            _keep(canvas.setdefault(canvas_download_student(name), {}), canvas_file_name(name), name, child)
        elif suffix_of(name) in SOURCE_SUFFIXES + (ARCHIVE_SUFFIX,):
            student = file_student_id(name)
            found.append(dataclasses.replace(
                _safe(lambda: _from_file(child, student, name, limits), student, name), location=shown))
        else:
            skipped.append(Skipped(shown, _not_graded_reason(name)))
            owner = canvas_file(name)
            if owner is not None:
                extras.setdefault(owner.student, []).append(owner.file or name)
    for student, files in sorted(canvas.items()):
        found.append(_canvas_files(folder, student, files, limits, tuple(extras.get(student, ()))))
    return found, skipped


def _canvas_files(folder: Path, student: str, files: dict[str, Path], limits: IntakeLimits,
                  extras: tuple[str, ...] = ()) -> Submission:
    """The one submission of a Canvas user among the files of an unzipped Canvas download
    (``files``: their own file names, ``adam_vs_momentum.py`` or ``plots.py``, to the files),
    chosen by the rule of a zip (:func:`choose`); the others, and ``extras`` (their files that
    cannot be graded, a PDF), are listed with it."""
    def read() -> Submission:
        try:
            chosen, others, chose = choose(list(files), read=path_reader(files.__getitem__))
        except SubmissionError as exc:
            names = ", ".join(sorted(path.name for path in files.values()))
            return _unreadable(student, display_name(f"{folder.name}: {names}"), str(exc))
        path = files[chosen]
        sub = _from_file(path, student, path.name, limits)
        return dataclasses.replace(sub, notes=chose + also_submitted(others + extras) + sub.notes,
                                   location=display_name(f"{folder.name}/{path.name}"))

    first = sorted(files.values())[0]
    sub = _safe(read, student, first.name)
    return sub if sub.location else dataclasses.replace(sub, location=display_name(f"{folder.name}/{first.name}"))


def find_submissions(paths: Iterable[Path], *, class_archive: bool = False,
                     limits: IntakeLimits = DEFAULT_LIMITS) -> Intake:
    """Every submission under the given files and folders, with unique ids, and what was skipped.

    A path that does not exist is an :class:`InputError` (before anything is graded). A
    folder contributes its ``.py``, ``.ipynb`` and ``.zip`` files and, as one submission
    each, its subfolders. Duplicate ids among ordinary inputs get a suffix and a note, so
    nothing is lost; a class archive's member never takes an id another input has.
    """
    paths = [Path(p) for p in paths]
    missing = [p for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        raise InputError("no such file or folder: " + ", ".join(display_name(str(p)) for p in missing))
    singles: list[Submission] = []
    classes: list[Submission] = []
    skipped: list[Skipped] = []
    #: Zips recognised as Canvas's download by their layout alone (no --class-archive).
    recognised: list[tuple[Path, list[Submission], list[Skipped]]] = []
    students_folders = _students_folders(paths)
    for path in paths:
        name = path.name
        if path in students_folders:
            student = student_id(path.resolve().name)
            shown = display_name(path.resolve().name)
            singles.append(dataclasses.replace(
                _safe(lambda: _from_folder(path, student, shown, limits), student, shown), location=shown))
            continue
        if path.is_dir() and not path.is_symlink():
            found, skips = _scan_folder(path, limits)
            singles += found
            skipped += skips
            continue
        if suffix_of(name) == ARCHIVE_SUFFIX and not path.is_symlink():
            try:
                members = _class_zip(path, name, limits, class_archive)
            except SubmissionError as exc:
                skipped.append(Skipped(display_name(str(path)), f"class archive not graded: {exc}"))
                continue
            except Exception as exc:  # noqa: BLE001 - one input never stops the batch
                members = None if not class_archive else ([], [Skipped(display_name(str(path)),
                                                                      f"class archive not graded: {exc}")])
            if isinstance(members, str):  # one student's zip, laid out like Canvas's but for some files:
                sub = _single_file(path, limits)  # said in its report and at the end of the run
                singles.append(dataclasses.replace(sub, notes=sub.notes + (members,)))
                skipped.append(Skipped(display_name(str(path)), members))
                continue
            if members is not None and not class_archive:
                recognised.append((path, members[0], members[1]))
                continue
            if members is not None:
                classes += members[0]
                skipped += members[1]
                continue
        singles.append(_single_file(path, limits))
    downloads = {path for path, _, _ in recognised}
    # Canvas's download holds a class only next to what belongs with it: other such downloads
    # and Canvas-named files (late submissions from the same download). Next to a student's
    # zip, folder or file (``grade subs/*``), a zip laid out that way may be a student's own,
    # crafted to create or take other students' grades: it is that student's one submission.
    if all(p in downloads or (p.is_file() and canvas_download_student(p.name)) for p in paths):
        for _, found, skips in recognised:
            classes += found
            skipped += skips
    else:
        for path, _, _ in recognised:
            note = (f"{display_name(path.name)} is laid out like Canvas's \"Download Submissions\" zip but was "
                    "given next to students' own files, so it is graded as one student's zip; if it holds "
                    "the whole class, grade it on its own or with --class-archive")
            sub = _single_file(path, limits)
            singles.append(dataclasses.replace(sub, notes=sub.notes + (note,)))
    submissions, refused = _unique(singles, classes)
    skipped += refused
    if len(submissions) > limits.batch_submissions:
        raise InputError(f"the inputs hold {len(submissions):,} submissions; the limit is "
                         f"{limits.batch_submissions:,} per batch (is an archive of many small files "
                         "among them?). Grade fewer at a time, or raise the limit with --max-submissions")
    return Intake(tuple(submissions), tuple(skipped))


def _holds_the_expected_file(folder: Path) -> bool:
    return any((folder / f"{PREFERRED_NAME}{suffix}").is_file() for suffix in SOURCE_SUFFIXES)


def _students_folders(paths: Sequence[Path]) -> set[Path]:
    """Folders named on the command line that are each one student's folder, not a folder of
    submissions: ``grade subs/*`` over a folder per student names every student's folder. When
    two or more sibling folders are given and most of them hold ``adam_vs_momentum.py`` (or
    ``.ipynb``) directly, each of those siblings is one student's submission named after the
    folder, so no file inside one can take (or create) another student's id. A folder given on
    its own, or folders that mostly do not hold that file (``grade section1/ section2/``), are
    folders of submissions."""
    by_parent: dict[Path, list[Path]] = {}
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            by_parent.setdefault(path.resolve().parent, []).append(path)
    found: set[Path] = set()
    for group in by_parent.values():
        if len(group) >= 2 and 2 * sum(_holds_the_expected_file(p) for p in group) > len(group):
            found.update(group)
    return found


def _single_file(path: Path, limits: IntakeLimits) -> Submission:
    """One student's submission from a file given on the command line."""
    name = path.name
    student = file_student_id(name)
    return dataclasses.replace(_safe(lambda: _from_file(path, student, name, limits), student, name),
                               location=display_name(name))


def discover(paths: Iterable[Path], **options) -> list[Submission]:
    """The submissions of :func:`find_submissions` (without the skipped inputs)."""
    return list(find_submissions(paths, **options).submissions)


def _unique(singles: list[Submission], classes: list[Submission]) -> tuple[list[Submission], list[Skipped]]:
    """Distinct ids: later duplicates among ordinary inputs get -2, -3, ... and a note; a class
    archive's member whose id is taken is refused (listed), never renamed or merged."""
    seen: dict[str, str] = {}  # lower-cased id -> where: report files must not collide on
    out = []                   # case-insensitive file systems (Alice.json, alice.json)
    for sub in singles:
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
    refused = []
    for sub in classes:
        if sub.student.lower() in seen:
            refused.append(Skipped(sub.location or sub.origin,
                                   f"claims student id {sub.student!r}, which {seen[sub.student.lower()]} "
                                   "already has; not graded"))
            continue
        seen[sub.student.lower()] = sub.location or sub.origin
        out.append(sub)
    return out, refused
