"""Names at intake: student ids from file names, LMS download conventions, which file to grade.

One rule chooses the file to grade among a student's files, wherever they come from (a zip,
a folder of one student's files, a Gradescope upload): :func:`choose_source`.
"""

from __future__ import annotations

import re
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import Sequence

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


def student_id(name: str) -> str:
    """A safe student id from a file or folder name: its stem, restricted to [A-Za-z0-9._-],
    never starting with ``-`` (it would read as an option, or a formula in a spreadsheet)."""
    stem = PurePosixPath(str(name).rstrip()).name
    for suffix in SOURCE_SUFFIXES + (ARCHIVE_SUFFIX,):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-") or "student"
    return cleaned[:100]


# ---------------------------------------------------------------------------
# Canvas "Download Submissions" file names
# ---------------------------------------------------------------------------

_CANVAS_NAME = re.compile(r"^(?P<name>[^\W_]\w*?)_(?:LATE_)?(?P<user>\d+)_(?P<attachment>\d+)_(?P<file>.+)$")


def canvas_student_of(filename: str) -> str | None:
    """The Canvas user id in a "Download Submissions" file name, or None.

    Canvas names each file ``<name>[_LATE]_<user id>_<attachment id>_<file name>``, where
    ``<name>`` is the student's sortable name lower-cased with everything but letters, digits
    and underscores removed (``lastfirst_12345_67890_adam_vs_momentum.py``,
    ``lastfirst_LATE_12345_67890_adam_vs_momentum-1.py``). Anonymously graded assignments
    name files ``anon_<anonymous id>_...``, which identify no user: None.
    """
    name = PureWindowsPath(PurePath(str(filename)).name).name
    if re.match(r"^(?:LATE_)?anon_", name):
        return None
    match = _CANVAS_NAME.match(name)
    return match["user"] if match else None


def canvas_file_name(filename: str) -> str | None:
    """The student's own file name in a Canvas download file name (``adam_vs_momentum-1.py``), or None."""
    if canvas_student_of(filename) is None:
        return None
    return _CANVAS_NAME.match(PureWindowsPath(PurePath(str(filename)).name).name)["file"]


def file_student_id(name: str) -> str:
    """The id of a file given to the grader: the Canvas user id when its name follows Canvas's
    download convention (so the Canvas export matches it), else its stem."""
    return canvas_student_of(name) or student_id(name)


# ---------------------------------------------------------------------------
# The one rule for choosing the file to grade
# ---------------------------------------------------------------------------

#: The expected stem, also as LMSs rename resubmissions (``adam_vs_momentum-1.py``).
_PREFERRED = re.compile(re.escape(PREFERRED_NAME) + r"(?:-\d+)?")


def _depth(name: str) -> int:
    return len(PurePosixPath(name).parts)


def choose_source(names: Sequence[str], *, archives: bool = True) -> tuple[str, tuple[str, ...]]:
    """The file to grade among one student's files, and the others; raises SubmissionError.

    ``names`` are relative POSIX paths of the student's ``.py``, ``.ipynb`` (and, when
    ``archives``, ``.zip``) files. The choice: ``adam_vs_momentum.py`` (else ``.ipynb``), the
    shallowest one if there are several; otherwise the only ``.py``/``.ipynb`` file; otherwise
    the only ``.zip``. Anything else is ambiguous and refused rather than guessed.
    """
    names = list(names)
    sources = [n for n in names if suffix_of(n) in SOURCE_SUFFIXES]
    zips = [n for n in names if archives and suffix_of(n) == ARCHIVE_SUFFIX]
    preferred = sorted((n for n in sources if _PREFERRED.fullmatch(PurePosixPath(n.rstrip()).stem)),
                       key=lambda n: (_depth(n), suffix_of(n) != ".py", n))
    if preferred:
        chosen = preferred[0]
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
    return chosen, tuple(n for n in names if n != chosen)


def also_submitted(others: Sequence[str]) -> tuple[str, ...]:
    """The note about the files that were not graded (none when there are none)."""
    if not others:
        return ()
    listed = ", ".join(repr(display_name(n)) for n in others[:MAX_LISTED])
    more = f" and {len(others) - MAX_LISTED} more" if len(others) > MAX_LISTED else ""
    return (f"Also submitted, not graded: {listed}{more}",)
