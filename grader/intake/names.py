"""Names at intake: student ids from file names, LMS download conventions, which file to grade.

One rule chooses the file to grade among a student's files, wherever they come from (a zip,
a folder of one student's files, a Canvas download, a Gradescope upload): :func:`choose`
(:func:`choose_source` without its notes).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Callable, Sequence

from grader.errors import SubmissionError

SOURCE_SUFFIXES = (".py", ".ipynb")
ARCHIVE_SUFFIX = ".zip"
PREFERRED_NAME = "adam_vs_momentum"
#: Shown after a list of names that was cut short.
MAX_LISTED = 10


def display_name(name: str, limit: int = 200) -> str:
    """A file name as one line of printable text: newlines and control characters collapse to a
    space, bytes that are not valid UTF-8 show as U+FFFD, and it is at most ``limit`` long.

    Student-chosen names land in reports, CSV files and the terminal; they must never add lines
    or terminal escapes there.
    """
    text = str(name).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def suffix_of(name: str) -> str:
    """The lower-cased suffix of a file name, ignoring trailing white space (``"bob.py "``)."""
    return PurePosixPath(str(name).rstrip()).suffix.lower()


#: Letters that have an ASCII base but no Unicode decomposition to it.
_ASCII_LETTERS = {"Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Œ": "OE", "œ": "oe", "ß": "ss", "ẞ": "SS",
                  "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Þ": "Th", "þ": "th", "Ł": "L", "ł": "l",
                  "Ħ": "H", "ħ": "h", "Ŧ": "T", "ŧ": "t", "Ŋ": "N", "ŋ": "n", "ı": "i", "ĸ": "k"}
_HASH_CHARS = 8


def _ascii_letters(text: str) -> tuple[str, bool]:
    """``text`` with every letter or digit that has an ASCII base replaced by it (NFKD, combining
    marks dropped: ``José`` -> ``Jose``, ``Ærø`` -> ``AEro``), and whether a letter or digit had
    none (``李``, ``Ж``: replaced by a space, like any other character outside the id alphabet)."""
    out, lost = [], False
    for char in text:
        if char.isascii():
            out.append(char)
            continue
        if char in _ASCII_LETTERS:
            out.append(_ASCII_LETTERS[char])
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        base = "".join(_ASCII_LETTERS.get(c, c) for c in base)
        if base and base.isascii():
            out.append(base)
        else:
            lost = lost or unicodedata.category(char)[0] in "LN"
            out.append(" ")
    return "".join(out), lost


def _name_hash(stem: str) -> str:
    """A short stable hash of a name (NFC, so a macOS NFD file name gives the same one)."""
    data = unicodedata.normalize("NFC", stem).encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()[:_HASH_CHARS]


def student_id(name: str) -> str:
    """A safe student id from a file or folder name: its stem, restricted to [A-Za-z0-9._-],
    never starting with ``-`` (it would read as an option, or a formula in a spreadsheet).

    A plain ASCII stem keeps exactly its ASCII id (``Ada Lovelace`` -> ``Ada_Lovelace``).
    Other letters become their ASCII base (``José`` -> ``Jose``, ``Zoë`` -> ``Zoe``, ``Ærø`` ->
    ``AEro``). A stem with letters that have no ASCII base (``李雷``, ``Иван_hw``) gets a short
    hash of the stem itself appended (``student-<hash>`` when nothing ASCII is left), so that
    two such students never share an id and an id never depends on the order of the files.
    """
    stem = PurePosixPath(str(name).rstrip()).name
    for suffix in SOURCE_SUFFIXES + (ARCHIVE_SUFFIX,):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    text, lost = (stem, False) if stem.isascii() else _ascii_letters(stem)
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    if stem and not stem.isascii() and (lost or not cleaned):
        tail = _name_hash(stem)
        return f"{cleaned[: 100 - _HASH_CHARS - 1]}-{tail}" if cleaned else f"student-{tail}"
    return (cleaned or "student")[:100]


# ---------------------------------------------------------------------------
# Canvas "Download Submissions" file names
# ---------------------------------------------------------------------------

#: Whose submission a Canvas download file is: ``<sortable name>[_LATE]_<user id>``, or
#: ``[LATE_]anon_<anonymous id>`` when the assignment is graded anonymously (the anonymous form
#: first: a student whose sortable name is "anon" cannot be told apart, and Canvas hides who it is).
_CANVAS_WHO = r"(?:(?:LATE_)?anon_(?P<anon>[A-Za-z0-9]+)|(?P<name>[^\W_]\w*?)_(?:LATE_)?(?P<user>\d+))"
#: An uploaded file: ``<who>_<attachment id>_<the student's own file name>``.
_CANVAS_UPLOAD = re.compile(_CANVAS_WHO + r"_(?P<attachment>\d+)_(?P<file>.+)")
#: A text entry (``<who>_text.html``) or a URL (``<who>_link.html``) submission, as Canvas saves it.
_CANVAS_ONLINE = re.compile(_CANVAS_WHO + r"_(?P<kind>text|link)\.html")


@dataclass(frozen=True)
class CanvasFile:
    """What the name of a file in Canvas's "Download Submissions" zip says."""

    #: The grader's student id: the Canvas user id (``12345``), or ``anon_<anonymous id>``.
    student: str
    #: The Canvas user id; None when the assignment is graded anonymously.
    user: str | None
    #: "upload", "text" (a text entry) or "link" (a URL submission).
    kind: str
    #: The student's own file name (``adam_vs_momentum-1.py``); None for a text entry or a URL.
    file: str | None


def canvas_file(filename: str) -> CanvasFile | None:
    """What a Canvas "Download Submissions" file name says, or None when it is not one.

    Canvas (``lib/content_zipper.rb``) names each uploaded file
    ``<name>[_LATE]_<user id>_<attachment id>_<file name>``, where ``<name>`` is the student's
    sortable name lower-cased with everything but letters, digits and underscores removed
    (``lastfirst_12345_67890_adam_vs_momentum.py``, ``lastfirst_LATE_12345_67890_adam_vs_momentum-1.py``);
    a text entry ``<name>[_LATE]_<user id>_text.html`` and a URL ``<name>[_LATE]_<user id>_link.html``.
    Anonymously graded assignments put ``[LATE_]anon_<anonymous id>`` in place of
    ``<name>[_LATE]_<user id>`` (``anon_k3Fq9_67890_adam_vs_momentum.py``): the student id is then
    ``anon_<anonymous id>``, and there is no user id.
    """
    name = PureWindowsPath(PurePath(str(filename)).name).name
    match = _CANVAS_UPLOAD.fullmatch(name)
    kind = "upload" if match else None
    if match is None:
        match = _CANVAS_ONLINE.fullmatch(name)
        kind = match["kind"] if match else None
    if match is None or kind is None:
        return None
    student = f"anon_{match['anon']}" if match["anon"] else match["user"]
    return CanvasFile(student, match["user"], kind, match["file"] if kind == "upload" else None)


def canvas_student_of(filename: str) -> str | None:
    """The Canvas user id in a "Download Submissions" file name (:func:`canvas_file`), or None
    (not such a name, or an anonymous one, which identifies no user)."""
    found = canvas_file(filename)
    return found.user if found else None


def canvas_download_student(filename: str) -> str | None:
    """The student id a "Download Submissions" file name gives (:func:`canvas_file`: the Canvas
    user id, or ``anon_<anonymous id>``), or None."""
    found = canvas_file(filename)
    return found.student if found else None


def canvas_file_name(filename: str) -> str | None:
    """The student's own file name in a Canvas download file name (``adam_vs_momentum-1.py``), or
    None (not an uploaded file's name)."""
    found = canvas_file(filename)
    return found.file if found else None


#: A Moodle "Download all submissions" folder or file prefix, as a student id (:func:`student_id`
#: of ``Ada Lovelace_123_assignsubmission_file_``): the full name, the participant number
#: (which no participants download holds) and the submission plugin.
_MOODLE_DOWNLOAD = re.compile(r"(?P<name>.+?)_(?P<participant>\d+)_assignsubmission_[a-z]+", re.IGNORECASE)


def moodle_download_name(student: str) -> str | None:
    """The student id of the full name in a Moodle download's student id
    (``Ada_Lovelace_123_assignsubmission_file`` gives ``Ada_Lovelace``), or None: what a
    participants download can be matched on (:func:`grader.outputs.moodle.load_roster`)."""
    match = _MOODLE_DOWNLOAD.fullmatch(student)
    return match["name"] if match else None


def file_student_id(name: str) -> str:
    """The id of a file given to the grader: the id its name gives when it follows Canvas's
    download convention (:func:`canvas_download_student`, so the Canvas export matches it),
    else its stem."""
    return canvas_download_student(name) or student_id(name)


# ---------------------------------------------------------------------------
# The one rule for choosing the file to grade
# ---------------------------------------------------------------------------

#: The expected stem, also as LMSs rename resubmissions (``adam_vs_momentum-1.py``).
_PREFERRED = re.compile(re.escape(PREFERRED_NAME) + r"(?:-\d+)?")


def _depth(name: str) -> int:
    return len(PurePosixPath(name).parts)


#: The released stub, as the student bundle holds it (``assignment/adam_vs_momentum.py``).
STUB_NAME = PREFERRED_NAME + ".py"


def normalised_source(data: bytes) -> str | None:
    """A source file's text for comparing it with the stub: without a BOM, with "\\n" line
    endings, no trailing white space on a line and no blank lines at the end; None if the
    bytes are not UTF-8."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).rstrip()


def _stub_paths() -> list[Path]:
    """Where the released stub can be: next to the ``grader`` package (an editable or a regular
    install, and the Gradescope bundle, all hold ``assignment/`` beside ``grader/``), else in
    the importable ``assignment`` package."""
    paths = [Path(__file__).resolve().parents[2] / "assignment" / STUB_NAME]
    try:
        spec = importlib.util.find_spec("assignment")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        paths += [Path(p) / STUB_NAME for p in spec.submodule_search_locations]
    return paths


@functools.lru_cache(maxsize=1)
def released_stub() -> str | None:
    """The released stub file's normalised text (:func:`normalised_source`), or None when the
    grader cannot find it (then no file is ever taken for the unchanged stub)."""
    for path in _stub_paths():
        try:
            text = normalised_source(path.read_bytes())
        except OSError:
            continue
        if text:
            return text
    return None


def is_unchanged_stub(data: bytes | None) -> bool:
    """Whether ``data`` is the released stub, unchanged but for line endings, a BOM and trailing
    white space."""
    stub = released_stub()
    return stub is not None and data is not None and normalised_source(data) == stub


def choose(names: Sequence[str], *, archives: bool = True, read: Callable[[str], bytes | None] | None = None
           ) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The file to grade among one student's files, the others, and notes about the choice;
    raises SubmissionError.

    ``names`` are relative POSIX paths of the student's ``.py``, ``.ipynb`` (and, when
    ``archives``, ``.zip``) files. The choice: ``adam_vs_momentum.py`` (else ``.ipynb``), the
    shallowest one if there are several; otherwise the only ``.py``/``.ipynb`` file; otherwise
    the only ``.zip``. Anything else is ambiguous and refused rather than guessed.

    One exception, when ``read`` (a name -> its bytes, or None if unreadable) is given: if the
    chosen ``adam_vs_momentum.py`` is the released stub unchanged (:func:`is_unchanged_stub`)
    and an ``adam_vs_momentum.ipynb`` is at the same depth or shallower, the student worked in
    the notebook: the notebook is graded, and a note says so.
    """
    names = list(names)
    sources = [n for n in names if suffix_of(n) in SOURCE_SUFFIXES]
    zips = [n for n in names if archives and suffix_of(n) == ARCHIVE_SUFFIX]
    preferred = sorted((n for n in sources if _PREFERRED.fullmatch(PurePosixPath(n.rstrip()).stem)),
                       key=lambda n: (_depth(n), suffix_of(n) != ".py", n))
    notes: tuple[str, ...] = ()
    if preferred:
        chosen = preferred[0]
        notebooks = [n for n in preferred if suffix_of(n) == ".ipynb" and _depth(n) <= _depth(chosen)]
        if suffix_of(chosen) == ".py" and notebooks and read is not None and is_unchanged_stub(read(chosen)):
            stub, chosen = chosen, notebooks[0]
            notes = (f"{display_name(stub)!r} is the unchanged stub of the assignment, so the notebook "
                     f"{display_name(chosen)!r} was graded instead",)
    elif len(sources) == 1:
        chosen = sources[0]
    elif not sources and len(zips) == 1:
        chosen = zips[0]
    elif not sources and not zips:
        raise SubmissionError("no adam_vs_momentum.py or adam_vs_momentum.ipynb was submitted (no .py, "
                              ".ipynb" + (" or .zip" if archives else "") + " file at all); upload your "
                              "adam_vs_momentum.py")
    else:
        listed = ", ".join(repr(display_name(n)) for n in (sources or zips)[:MAX_LISTED])
        raise SubmissionError("several files could be the submission and none is named adam_vs_momentum.py "
                              f"or adam_vs_momentum.ipynb ({listed}); upload your adam_vs_momentum.py")
    return chosen, tuple(n for n in names if n != chosen), notes


def choose_source(names: Sequence[str], *, archives: bool = True,
                  read: Callable[[str], bytes | None] | None = None) -> tuple[str, tuple[str, ...]]:
    """The file to grade and the others, by :func:`choose` (without its notes)."""
    chosen, others, _ = choose(names, archives=archives, read=read)
    return chosen, others


def also_submitted(others: Sequence[str]) -> tuple[str, ...]:
    """The note about the files that were not graded (none when there are none)."""
    if not others:
        return ()
    listed = ", ".join(repr(display_name(n)) for n in others[:MAX_LISTED])
    more = f" and {len(others) - MAX_LISTED} more" if len(others) > MAX_LISTED else ""
    return (f"Also submitted, not graded: {listed}{more}",)
