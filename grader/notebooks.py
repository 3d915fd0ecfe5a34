"""The homework as a Jupyter notebook, and a submitted notebook as plain Python.

Two directions, both pure functions of text:

* :func:`stubs_to_notebook` turns the student stub file into an nbformat 4 notebook whose
  code cells hold the stub functions exactly as they are written in the ``.py``. The
  notebook is deterministic (stable cell ids, no timestamps, no kernel version), so the
  committed ``assignment/adam_vs_momentum.ipynb`` can be checked against a fresh build.
* :func:`notebook_code` turns a submitted notebook into the Python source that is graded:
  its code cells in order, with IPython-only lines (magics, shell escapes, ``get_ipython()``
  calls, ``obj?`` help) dropped and never run. Every dropped line is reported in a note.

Command line::

    python -m grader.notebooks [--check] [STUBS_PY] [NOTEBOOK_IPYNB]

builds the notebook from the stubs (default: the files in the ``assignment`` package); with
``--check`` it writes nothing and exits 1 when the notebook on disk is out of date.

This module depends on the standard library and nbformat only.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import nbformat
from nbformat import NotebookNode

__all__ = [
    "NotebookError",
    "stubs_to_notebook",
    "render_notebook",
    "build_notebook_text",
    "notebook_code",
    "default_paths",
    "main",
]

NOTEBOOK_NAME = "adam_vs_momentum.ipynb"
STUBS_NAME = "adam_vs_momentum.py"

#: Notebook metadata that lets Jupyter pick a Python 3 kernel. No versions: they would make
#: the build depend on the machine that ran it.
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
    },
}

HOW_TO_CHECK = """\
## Checking your work

1. Save this notebook (the checks read the file on disk, not the running kernel).
2. Open a terminal in this folder and install the requirements once:
   `pip install -r requirements.txt`
3. Run the public checks against the notebook:
   `pytest --submission adam_vs_momentum.ipynb`

The run ends with a score preview per rubric item. A notebook is graded exactly like
`adam_vs_momentum.py`: its code cells are read from top to bottom. IPython magics
(`%timeit`, `%%time`) and shell escapes (`!pip install ...`) are dropped before grading,
never run, so do not rely on them for anything your functions need.
"""

#: Longest excerpt of a dropped line quoted in a note.
_NOTE_EXCERPT = 80
#: Longest nbformat validation message quoted in an error.
_ERROR_EXCERPT = 200
_CELL_TYPES = ("code", "markdown", "raw")


class NotebookError(ValueError):
    """A submitted notebook cannot be read: bad JSON, not a notebook, or invalid nbformat 4."""


# ---------------------------------------------------------------------------
# Stubs -> notebook
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Cell:
    """One cell of the notebook being built: its type and its exact source text."""

    kind: str  # "markdown" or "code"
    source: str


def _line_span(lines: Sequence[str], first: int, last: int) -> str:
    """Lines ``first..last`` (1-based, inclusive) of a file, exactly as written."""
    return "\n".join(lines[first - 1:last])


def _first_line(node: ast.stmt) -> int:
    """The first line of a statement, decorators included."""
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _is_ruler(comment: str) -> bool:
    """True for a comment that is only a horizontal rule, such as ``# -------``."""
    body = comment.strip()
    return len(body) >= 3 and set(body) <= set("-=*#~")


def _gap_cells(lines: Sequence[str], first: int, last: int) -> tuple[list[_Cell], str]:
    """Split the text between two statements into heading cells and leading comments.

    A comment block framed by rulers (``# ----``) is a section heading and becomes a
    markdown cell. Any other comment block is kept as code: it is returned as a prefix for
    the next code cell so that nothing written in the stubs is lost.
    """
    cells: list[_Cell] = []
    block: list[tuple[int, str]] = []
    loose: list[int] = []

    def flush() -> None:
        if not block:
            return
        texts = [text[1:].strip() for _, text in block]
        if any(_is_ruler(text) for text in texts):
            heading = " ".join(text for text in texts if text and not _is_ruler(text))
            if heading:
                cells.append(_Cell("markdown", f"## {heading}"))
        else:
            loose.extend(number for number, _ in block)
        block.clear()

    for number in range(first, last + 1):
        stripped = lines[number - 1].strip()
        if stripped.startswith("#"):
            block.append((number, stripped))
        else:
            flush()
    flush()
    return cells, "\n".join(lines[number - 1] for number in loose)


def _with_prefix(prefix: str, code: str) -> str:
    return f"{prefix}\n{code}" if prefix else code


def _function_heading(node: ast.FunctionDef | ast.AsyncFunctionDef) -> _Cell:
    return _Cell("markdown", f"### `{node.name}({ast.unparse(node.args)})`")


def _title_cell(docstring: str | None) -> _Cell:
    if not docstring:
        return _Cell("markdown", "# Homework")
    title, _, body = docstring.partition("\n")
    text = f"# {title.strip().rstrip('.')}"
    body = body.strip()
    return _Cell("markdown", f"{text}\n\n{body}" if body else text)


def _plan_cells(source: str) -> list[_Cell]:
    """The cells of the notebook for a stub file, in order (see :func:`stubs_to_notebook`)."""
    source = source.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    module = ast.parse(source)
    lines = source.split("\n")
    body = list(module.body)
    docstring = ast.get_docstring(module, clean=True)
    cells = [_title_cell(docstring)]
    previous_end = 0
    if docstring is not None:
        previous_end = body.pop(0).end_lineno or 0

    index = 0
    while index < len(body):
        node = body[index]
        start = _first_line(node)
        if start <= previous_end:  # shares a line with the previous statement (``a; b``)
            previous_end = max(previous_end, node.end_lineno or start)
            index += 1
            continue
        headings, prefix = _gap_cells(lines, previous_end + 1, start - 1)
        cells.extend(headings)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            last = index
            while last + 1 < len(body) and isinstance(body[last + 1], (ast.Import, ast.ImportFrom)):
                last += 1
            end = body[last].end_lineno or start
            index = last + 1
        else:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                cells.append(_function_heading(node))
            end = node.end_lineno or start
            index += 1
        cells.append(_Cell("code", _with_prefix(prefix, _line_span(lines, start, end))))
        previous_end = end

    headings, prefix = _gap_cells(lines, previous_end + 1, len(lines))
    cells.extend(headings)
    if prefix:
        cells.append(_Cell("code", prefix))
    cells.append(_Cell("markdown", HOW_TO_CHECK.rstrip("\n")))
    return _merge_markdown(cells)


def _merge_markdown(cells: Sequence[_Cell]) -> list[_Cell]:
    """Join neighbouring markdown cells (a section heading and the function heading below)."""
    merged: list[_Cell] = []
    for cell in cells:
        if merged and cell.kind == "markdown" == merged[-1].kind:
            merged[-1] = _Cell("markdown", f"{merged[-1].source}\n\n{cell.source}")
        else:
            merged.append(cell)
    return merged


def stubs_to_notebook(source: str) -> NotebookNode:
    """Build the student notebook from the text of the stub file.

    The notebook holds, in order: a markdown title cell with the module docstring; a code
    cell with the imports; then, for every top-level function, a markdown cell with its
    name and arguments (under the section heading, e.g. "Part 1: ...", where the stubs open
    a new section) and a code cell with the function exactly as written in the ``.py``; and
    a closing markdown cell on how to run the public checks. Other top-level statements
    and loose comments are kept as code, so the code cells hold the whole file but for its
    docstring and its ruled section comments. Nothing is executed. Cell ids are ``cell-0``,
    ``cell-1``, ..., so the same stubs always give the same notebook.

    Raises ``SyntaxError`` when the stubs do not parse.
    """
    notebook = nbformat.v4.new_notebook(metadata=json.loads(json.dumps(NOTEBOOK_METADATA)))
    for number, cell in enumerate(_plan_cells(source)):
        make = nbformat.v4.new_code_cell if cell.kind == "code" else nbformat.v4.new_markdown_cell
        notebook.cells.append(make(source=cell.source, id=f"cell-{number}"))
    nbformat.validate(notebook)
    return notebook


def render_notebook(notebook: NotebookNode) -> str:
    """The notebook as the text Jupyter itself would save (ends with a newline)."""
    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def build_notebook_text(source: str) -> str:
    """The text of the notebook built from the stub file text ``source``."""
    return render_notebook(stubs_to_notebook(source))


# ---------------------------------------------------------------------------
# Submitted notebook -> Python source
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
        notes.append(f"cell {cell_number}, line {first}: dropped cell magic "
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
        notes.append(f"cell {cell_number}, line {line_number}: dropped {kind} `{_excerpt(line)}`")
        indent = line[:len(line) - len(stripped)]
        kept.append(f"{indent}pass" if indent else "")
        if kind == "get_ipython() call":
            scanner.feed(line)  # Python syntax: its brackets may run over several lines
            continuing = "python"
        elif line.endswith("\\"):
            continuing = "magic"
    while kept and not kept[0].strip():
        kept.pop(0)
    return "\n".join(kept).rstrip(), notes


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


def notebook_code(notebook_text: str | bytes) -> tuple[str, tuple[str, ...]]:
    """The Python code of a submitted notebook, ready to grade like a ``.py`` file.

    Code cells are taken in order and joined with blank lines; markdown and raw cells are
    ignored. IPython-only lines are dropped, never run: line magics (``%timeit f()``), shell
    escapes (``!pip install x``, ``files = !ls``), ``get_ipython()`` calls and ``obj?``
    help. A cell that starts with a cell magic (``%%time``) is dropped whole. A dropped
    line inside an indented block is replaced by ``pass`` so the block still compiles.
    Lines inside strings, brackets or after a backslash continuation are never dropped.

    Returns ``(code, notes)``: one note per dropped construct, such as
    ``"cell 4, line 2: dropped shell escape `!pip install x`"``. Cells are numbered from 1
    counting every cell of the notebook (markdown included); lines from 1 within the cell.

    ``notebook_text`` may also be UTF-8 ``bytes``. Raises :class:`NotebookError` for text
    that is not UTF-8 or not JSON, JSON that is not a notebook, any nbformat version but 4,
    or a notebook that nbformat's schema rejects.
    """
    notebook = _load(notebook_text)
    pieces: list[str] = []
    notes: list[str] = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        code, cell_notes = _cell_code(cell.source, number)
        notes.extend(cell_notes)
        if code.strip():
            pieces.append(code)
    code = "\n\n\n".join(pieces)
    return (code + "\n" if code else ""), tuple(notes)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def default_paths() -> tuple[Path, Path]:
    """``(stubs, notebook)`` in the folder of the ``assignment`` package."""
    spec = importlib.util.find_spec("assignment")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(list(spec.submodule_search_locations)[0])
    else:
        folder = Path(__file__).resolve().parent.parent / "assignment"
    return folder / STUBS_NAME, folder / NOTEBOOK_NAME


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _parse_arguments(argv: Iterable[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m grader.notebooks",
        description="Build the student notebook from the student stub file.")
    parser.add_argument("stubs", nargs="?", type=Path,
                        help=f"the stub file (default: assignment/{STUBS_NAME})")
    parser.add_argument("notebook", nargs="?", type=Path,
                        help=f"the notebook to write (default: assignment/{NOTEBOOK_NAME})")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the notebook differs from a fresh build")
    return parser.parse_args(None if argv is None else list(argv))


def main(argv: Iterable[str] | None = None) -> int:
    """Build (or with ``--check`` verify) the notebook; returns the exit status."""
    arguments = _parse_arguments(argv)
    default_stubs, default_notebook = default_paths()
    stubs = arguments.stubs or default_stubs
    notebook = arguments.notebook or default_notebook
    try:
        expected = build_notebook_text(stubs.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError) as exc:
        print(f"error: cannot build a notebook from {stubs}: {exc}", file=sys.stderr)
        return 2
    if not arguments.check:
        _write_atomic(notebook, expected)
        print(f"wrote {notebook}")
        return 0
    try:
        current = notebook.read_text(encoding="utf-8")
    except FileNotFoundError:
        print(f"{notebook} is missing: run `python -m grader.notebooks` to build it",
              file=sys.stderr)
        return 1
    if current != expected:
        print(f"{notebook} is out of date with {stubs}: "
              "run `python -m grader.notebooks` to rebuild it", file=sys.stderr)
        return 1
    print(f"{notebook} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
