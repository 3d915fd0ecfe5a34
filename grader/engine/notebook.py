"""A submitted notebook as plain Python: its code cells, with IPython-only lines dropped.

:func:`notebook_code` turns a notebook into the Python source that is graded: its code cells
in order, with IPython-only lines (magics, shell escapes, ``get_ipython()`` calls, ``obj?``
help) dropped and never run, and Jupyter's built-in ``display()`` defined as a call that does
nothing when the code uses it. Every dropped line is reported in a note. The grader and the
students' public checks read notebooks with this one function.

This module depends on the standard library and nbformat only (it ships to students).
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # nbformat (and the JSON-schema validator it brings) is imported only when a
    from nbformat import NotebookNode  # notebook is read: most batches and runs have none

__all__ = ["NotebookError", "NotebookSource", "notebook_code", "notebook_source"]

#: Longest excerpt of a dropped line quoted in a note.
_NOTE_EXCERPT = 80
#: Longest nbformat validation message quoted in an error.
_ERROR_EXCERPT = 200
_CELL_TYPES = ("code", "markdown", "raw")
#: Put ahead of the cells when their code uses the name ``display``: IPython makes Jupyter's
#: ``display()`` a builtin, so notebooks call it without an import. Output is never graded, so
#: the call does nothing; a student's own ``display`` (a ``def`` or an import) later rebinds it.
_DISPLAY_PRELUDE = "def display(*objects, **options): pass  # Jupyter's display(): does nothing here"


class NotebookError(ValueError):
    """A submitted notebook cannot be read: bad JSON, not a notebook, or invalid nbformat 4."""


# ---------------------------------------------------------------------------
# Notebook -> code
# ---------------------------------------------------------------------------

_ASSIGNED = r"[A-Za-z_][\w.]*\s*=\s*"
_LINE_MAGIC = re.compile(rf"(?:{_ASSIGNED})?%")
_SHELL_ESCAPE = re.compile(rf"(?:{_ASSIGNED})?!")
_GET_IPYTHON = re.compile(rf"(?:{_ASSIGNED})?get_ipython\s*\(")
_HELP = re.compile(r"(?:\?{1,2}[\w.]+|[\w.]+\?{1,2})\s*$")


@dataclass
class _Scanner:
    """Tracks whether the next line of a cell starts a new Python statement.

    A line inside a triple-quoted string, inside open brackets or after a backslash is a
    continuation: it is never taken for a magic, however it starts.
    """

    quote: str | None = None  # the open string's delimiter, if a string is open
    depth: int = 0  # open brackets
    backslash: bool = False  # the previous line ended with a line continuation

    @property
    def at_statement_start(self) -> bool:
        return self.quote is None and self.depth == 0 and not self.backslash

    def feed(self, line: str) -> None:
        """Advance over one line of Python source."""
        self.backslash = False
        index, length = 0, len(line)
        while index < length:
            char = line[index]
            if self.quote is not None:
                if char == "\\":
                    index += 2
                    continue
                if line.startswith(self.quote, index):
                    index += len(self.quote)
                    self.quote = None
                    continue
                index += 1
                continue
            if char == "#":
                return
            if char in "'\"":
                self.quote = char * 3 if line.startswith(char * 3, index) else char
                index += len(self.quote)
                continue
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
            index += 1
        if self.quote in ("'", '"') and not line.endswith("\\"):
            self.quote = None  # an unterminated one-line string: a syntax error, not ours
        self.backslash = self.quote is None and line.endswith("\\")


def _excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _NOTE_EXCERPT else text[:_NOTE_EXCERPT - 3] + "..."


def _ipython_kind(stripped: str) -> str | None:
    """What IPython-only construct a statement-start line is, or None for plain Python."""
    if _GET_IPYTHON.match(stripped):
        return "get_ipython() call"
    if _LINE_MAGIC.match(stripped):
        return "line magic"
    if _SHELL_ESCAPE.match(stripped):
        return "shell escape"
    if _HELP.match(stripped):
        return "IPython help"
    return None


def _cell_code(source: str, cell_number: int) -> tuple[str, list[str]]:
    """The Python code of one code cell, with IPython-only lines dropped, and the notes."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    notes: list[str] = []
    first = next((number for number, line in enumerate(lines, start=1) if line.strip()), 0)
    if first and lines[first - 1].lstrip().startswith("%%"):
        notes.append(f"code cell {cell_number}, line {first}: dropped cell magic "
                     f"`{_excerpt(lines[first - 1])}` and the whole cell with it")
        return "", notes

    kept: list[str] = []
    scanner = _Scanner()
    # Lines still belonging to a dropped statement: "magic" after a magic or shell escape
    # that ended with a backslash, "python" inside a dropped get_ipython() call.
    continuing: str | None = None
    for line_number, line in enumerate(lines, start=1):
        if continuing == "magic":
            continuing = "magic" if line.endswith("\\") else None
            kept.append("")
            continue
        if continuing == "python":
            if not scanner.at_statement_start:
                scanner.feed(line)
                kept.append("")
                continue
            continuing = None
        stripped = line.lstrip()
        kind = _ipython_kind(stripped) if scanner.at_statement_start else None
        if kind is None:
            kept.append(line)
            scanner.feed(line)
            continue
        notes.append(f"code cell {cell_number}, line {line_number}: dropped {kind} `{_excerpt(line)}`")
        indent = line[:len(line) - len(stripped)]
        kept.append(f"{indent}pass" if indent else "")
        if kind == "get_ipython() call":
            scanner.feed(line)  # Python syntax: its brackets may run over several lines
            continuing = "python"
        elif line.endswith("\\"):
            continuing = "magic"
    return "\n".join(kept).rstrip(), notes  # leading blank lines kept: line numbers stay the cell's


def _load(notebook_text: str | bytes) -> NotebookNode:
    """Parse and validate a notebook, mapping every failure to :class:`NotebookError`."""
    if isinstance(notebook_text, bytes):
        try:
            notebook_text = notebook_text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotebookError(f"not UTF-8 text: byte {exc.start} cannot be decoded") from None
    try:
        data = json.loads(notebook_text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise NotebookError("not valid JSON for a notebook: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal beyond Python's digit limit
        raise NotebookError(f"not valid JSON for a notebook: {exc}") from None
    _check_structure(data)
    import nbformat

    captured: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            notebook = nbformat.reads(notebook_text, as_version=4,
                                      capture_validation_error=captured)
        except Exception as exc:  # nbformat raises several types; all mean the same here
            raise NotebookError(f"not a readable notebook: {exc}") from None
    error = captured.get("ValidationError")
    if error is not None:
        raise NotebookError(f"invalid notebook: {_describe_validation_error(error)}")
    return notebook


def _json_kind(value: object) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean",
             int: "number", float: "number", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _check_structure(data: object) -> None:
    """The checks that give a plainer message than the nbformat schema would."""
    if not isinstance(data, dict):
        raise NotebookError(
            f"not a notebook: the top level is a JSON {_json_kind(data)}, expected an object")
    if "nbformat" not in data:
        raise NotebookError("not a notebook: missing 'nbformat' (the format version)")
    version = data["nbformat"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise NotebookError(
            f"not a notebook: 'nbformat' must be an integer, got {_json_kind(version)}")
    if version != 4:
        raise NotebookError(
            f"unsupported notebook format: nbformat {version}, expected nbformat 4 "
            "(open it in a current Jupyter and save it again)")
    for key in ("cells", "metadata", "nbformat_minor"):
        if key not in data:
            raise NotebookError(f"not a notebook: missing '{key}'")
    cells = data["cells"]
    if not isinstance(cells, list):
        raise NotebookError(f"invalid notebook: 'cells' must be an array, got {_json_kind(cells)}")
    for number, cell in enumerate(cells, start=1):
        where = f"cell {number} (cells[{number - 1}])"
        if not isinstance(cell, dict):
            raise NotebookError(f"invalid notebook: {where} is a JSON {_json_kind(cell)}, "
                                "expected an object")
        kind = cell.get("cell_type")
        if kind not in _CELL_TYPES:
            raise NotebookError(f"invalid notebook: {where} has cell_type {kind!r}, "
                                "expected 'code', 'markdown' or 'raw'")
        if "source" not in cell:
            raise NotebookError(f"invalid notebook: {where} is missing 'source'")
        source = cell["source"]
        if not (isinstance(source, str)
                or (isinstance(source, list) and all(isinstance(s, str) for s in source))):
            raise NotebookError(f"invalid notebook: {where}: 'source' must be a string or "
                                f"an array of strings, got {_json_kind(source)}")


def _describe_validation_error(error: Exception) -> str:
    """``cells[2].outputs: <message>`` from an nbformat validation error."""
    path = list(getattr(error, "absolute_path", []) or [])
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    where = where.lstrip(".") or "top level"
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        where = f"cell {path[1] + 1} ({where})"
    message = str(getattr(error, "message", error)).splitlines()[0]
    if len(message) > _ERROR_EXCERPT:
        message = message[:_ERROR_EXCERPT - 3] + "..."
    return f"{where}: {message}"


@dataclass(frozen=True)
class NotebookSource:
    """A notebook's code as one Python file, and where each line of it came from."""

    code: str
    notes: tuple[str, ...]
    #: ``(first line in code, code cell number, lines)`` of every non-empty code cell.
    cells: tuple[tuple[int, int, int], ...]

    def where(self, line: int) -> str | None:
        """``"code cell 3, line 2"`` for a line of :attr:`code` (None outside every cell)."""
        for first, number, count in self.cells:
            if first <= line < first + count:
                return f"code cell {number}, line {line - first + 1}"
        return None


def _future_imports(code: str) -> tuple[str, list[str]]:
    """A cell's leading ``from __future__`` imports, blanked out of it (lines kept), and the imports.

    Jupyter compiles each cell on its own, so a future import may open any cell; in one file
    it must come first. The grader moves them to the top of the file, as Jupyter's compiler
    carries their flags to the cells after.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, []
    lines = code.split("\n")
    found = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and not found:
            continue  # a docstring may precede them
        if not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            break
        found.append(" ".join(" ".join(lines[node.lineno - 1: node.end_lineno]).split()))
        for index in range(node.lineno - 1, node.end_lineno):
            lines[index] = ""
    return "\n".join(lines), found


def _uses_display(code: str) -> bool:
    """Whether the code reads the name ``display`` (False for code that does not parse)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False  # it cannot run anyway: no prelude, and the error is the student's own
    return any(isinstance(node, ast.Name) and node.id == "display" for node in ast.walk(tree))


def notebook_source(notebook_text: str | bytes) -> NotebookSource:
    """The Python code of a submitted notebook, ready to grade like a ``.py`` file.

    Code cells are taken in order and joined with blank lines; markdown and raw cells are
    ignored. IPython-only lines are dropped, never run: line magics (``%timeit f()``), shell
    escapes (``!pip install x``, ``files = !ls``), ``get_ipython()`` calls and ``obj?``
    help. A cell that starts with a cell magic (``%%time``) is dropped whole. A dropped
    line inside an indented block is replaced by ``pass`` so the block still compiles.
    Lines inside strings, brackets or after a backslash continuation are never dropped.
    ``from __future__`` imports that open a later cell move to the top, as they work in
    Jupyter. If the code uses the name ``display`` (IPython's ``display()``, a builtin in
    every notebook), one line after those imports defines ``display`` as a function that
    takes any arguments and does nothing (output is never graded), so ``display(df)`` does
    not fail with a NameError; the student's own ``def display`` or ``import`` of it, which
    runs later, still wins. Code that never uses the name gets no such line.

    One note per dropped construct, such as ``"code cell 4, line 2: dropped shell escape
    `!pip install x`"``: code cells are numbered from 1 as Jupyter numbers them in a fresh
    run (markdown and raw cells not counted), lines from 1 within the cell;
    :meth:`NotebookSource.where` names the cell and line of any line of the code.

    ``notebook_text`` may also be UTF-8 ``bytes``. Raises :class:`NotebookError` for text
    that is not UTF-8 or not JSON, JSON that is not a notebook, any nbformat version but 4,
    or a notebook that nbformat's schema rejects.
    """
    notebook = _load(notebook_text)
    pieces: list[tuple[int, str]] = []
    notes: list[str] = []
    futures: list[str] = []
    number = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        number += 1
        code, cell_notes = _cell_code(cell.source, number)
        notes.extend(cell_notes)
        code, found = _future_imports(code)
        futures.extend(f for f in found if f not in futures)
        if code.strip():
            pieces.append((number, code))
    body = "\n\n\n".join(code for _, code in pieces)
    header = ["; ".join(futures)] if futures else []
    if _uses_display(body):
        header.append(_DISPLAY_PRELUDE)  # after the future imports: they must come first
    line = len(header) + 1
    cells = []
    for number, code in pieces:
        cells.append((line, number, code.count("\n") + 1))
        line += code.count("\n") + 1 + 2  # the cell, then two blank lines
    code = "\n".join([*header, body])
    return NotebookSource((code + "\n" if code else ""), tuple(notes), tuple(cells))


def notebook_code(notebook_text: str | bytes) -> tuple[str, tuple[str, ...]]:
    """``(code, notes)`` of :func:`notebook_source` (see there)."""
    source = notebook_source(notebook_text)
    return source.code, source.notes
