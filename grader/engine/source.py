"""How a submitted file's bytes become the code that runs: one rule for the grader and the student.

The grader's intake (:func:`grader.intake.submissions.read_submission`) and the student
bundle's public checks (``conftest.py``) both call :func:`read_source`, so a file the checks
run is a file the grader runs, and a file the grader refuses is refused at home with the
same message (an empty file, NUL bytes, UTF-16, a size over its limit, a notebook that does
not parse).

Limits: a ``.py`` file may hold :data:`MAX_SOURCE_BYTES`. A notebook may be larger, up to
:data:`MAX_NOTEBOOK_BYTES`, since the outputs Jupyter saves with it (plots, tables) are
most of its size and are never run; the code taken from its cells is held to the ``.py``
limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

#: Largest ``.py`` file, and largest code taken from a notebook's cells, in bytes.
MAX_SOURCE_BYTES = 1_000_000
#: Largest notebook file (its saved outputs included), in bytes.
MAX_NOTEBOOK_BYTES = 20_000_000
#: The byte-order mark some editors write at the start of a UTF-8 file.
_BOM = "\ufeff"


def byte_limit(notebook: bool) -> int:
    """The largest file of its kind that is read, in bytes."""
    return MAX_NOTEBOOK_BYTES if notebook else MAX_SOURCE_BYTES


def too_large(size: int, notebook: bool) -> str:
    """Why a file of ``size`` bytes is not read (past :func:`byte_limit`)."""
    kind, limit = ("notebook", MAX_NOTEBOOK_BYTES) if notebook else ("file", MAX_SOURCE_BYTES)
    return (f"the {kind} is {size:,} bytes; the limit is {limit:,} bytes"
            + (" (its saved outputs included: clear them, or submit the .py)" if notebook else ""))


@dataclass(frozen=True)
class SourceFile:
    """The code to run and the notes about it, or why the file cannot run (``error``)."""

    code: Optional[str]
    notes: tuple = ()
    error: Optional[str] = None
    #: For a notebook, what names the code cell and line of a line of :attr:`code`.
    where: Optional[Callable[[int], Optional[str]]] = None


def read_source(content: bytes, *, notebook: bool) -> SourceFile:
    """The runnable code of one submitted file (a ``.py`` file, or a notebook when
    ``notebook``), with a precise error instead when it cannot run."""
    if len(content) == 0:
        return SourceFile(None, error="the file is empty")
    if len(content) > byte_limit(notebook):
        return SourceFile(None, error=too_large(len(content), notebook))
    if b"\0" in content:
        return SourceFile(None, error="the file is binary (it contains NUL bytes), not Python source or a notebook")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return SourceFile(None, error=f"the file is not UTF-8 text (byte 0x{content[exc.start]:02x} at offset "
                                      f"{exc.start} cannot be decoded); save it as UTF-8")
    if text.startswith(_BOM):  # before a notebook's JSON is parsed too: JSON readers refuse it
        text = text[len(_BOM):]
    if not notebook:
        return SourceFile(text)
    from .notebook import NotebookError, notebook_source  # nbformat: only for notebooks

    try:
        parsed = notebook_source(text)
    except NotebookError as exc:
        return SourceFile(None, error=f"the notebook cannot be read: {exc}")
    if not parsed.code.strip():
        return SourceFile(None, parsed.notes, "the notebook has no code cells", parsed.where)
    size = len(parsed.code.encode("utf-8"))
    if size > MAX_SOURCE_BYTES:
        return SourceFile(None, parsed.notes, f"the notebook's code cells hold {size:,} bytes; the limit "
                                              f"is {MAX_SOURCE_BYTES:,} bytes", parsed.where)
    return SourceFile(parsed.code, parsed.notes, None, parsed.where)
