"""The homework as a Jupyter notebook, built from the student stub file.

:func:`stubs_to_notebook` turns the stub file into an nbformat 4 notebook whose code cells
hold the stub functions exactly as they are written in the ``.py``. The notebook is
deterministic (stable cell ids, no timestamps, no kernel version), so the committed
``assignment/adam_vs_momentum.ipynb`` can be checked against a fresh build. Reading a
submitted notebook is :func:`grader.engine.notebook.notebook_code` (it ships to students).

Command line::

    python -m grader.release.notebook [--check] [STUBS_PY] [NOTEBOOK_IPYNB]

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
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import nbformat
from nbformat import NotebookNode

__all__ = [
    "stubs_to_notebook",
    "render_notebook",
    "build_notebook_text",
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
2. Open a terminal in this folder and set up a virtual environment once (Python 3.9 to 3.13):
   `python3 -m venv .venv`, then `source .venv/bin/activate` (Windows: `.venv\\Scripts\\activate`),
   then `pip install -r requirements.txt`
3. Run the public checks against the notebook:
   `pytest --submission=adam_vs_momentum.ipynb`

The run ends with a score preview per rubric item; it is not a grade (the grader uses hidden
inputs). A notebook is graded like `adam_vs_momentum.py`: its code cells are run from top to
bottom, and an error names the code cell (counting code cells from 1, as Jupyter numbers them
in a fresh run) and the line in it. IPython magics (`%timeit`, `%%time`) and shell escapes
(`!pip install ...`) are dropped before grading, never run; the checks list every line they
dropped, so do not rely on them for anything your functions need.
"""

#: Sections of the handout (``README.md``) the notebook carries, so that it can be worked
#: without the handout open: the optimizers, the binding conventions with the symbols and
#: their assumptions, and per part its rubric items, points and concept keys with options.
HANDOUT_SECTIONS = ("The two optimizers", "Conventions")
HANDOUT_NAME = "README.md"


def handout_sections(handout: str) -> dict[str, str]:
    """The handout's ``## `` sections by heading (their text without the heading line)."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in handout.replace("\r\n", "\n").split("\n"):
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {heading: "\n".join(lines).strip() for heading, lines in sections.items()}


def _section(sections: dict[str, str], prefix: str) -> tuple[str, str] | None:
    for heading, text in sections.items():
        if heading.startswith(prefix):
            return heading, text
    return None

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


def _with_handout(cells: list[_Cell], handout: str | None) -> list[_Cell]:
    """The handout's general sections after the imports, and each part's section (rubric
    items, points, concept keys and options) under the stubs' heading of that part."""
    if not handout:
        return cells
    sections = handout_sections(handout)
    general = [_Cell("markdown", f"## {found[0]}\n\n{found[1]}") for found in
               (_section(sections, prefix) for prefix in HANDOUT_SECTIONS) if found]
    out: list[_Cell] = []
    placed = False
    for cell in cells:
        if cell.kind == "markdown" and cell.source.startswith("## Part "):
            part = cell.source.split(":")[0][3:]  # "Part 1"
            found = _section(sections, part + " ")
            if found:
                heading, rest = cell.source.split("\n", 1) if "\n" in cell.source else (cell.source, "")
                cell = _Cell("markdown", "\n\n".join(x for x in (heading, found[1], rest.strip()) if x))
        out.append(cell)
        if not placed and cell.kind == "code":
            out.extend(general)
            placed = True
    return out


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


def stubs_to_notebook(source: str, handout: str | None = None) -> NotebookNode:
    """Build the student notebook from the text of the stub file.

    The notebook holds, in order: a markdown title cell with the module docstring; a code
    cell with the imports; then, for every top-level function, a markdown cell with its
    name and arguments (under the section heading, e.g. "Part 1: ...", where the stubs open
    a new section) and a code cell with the function exactly as written in the ``.py``; and
    a closing markdown cell on how to run the public checks. Other top-level statements
    and loose comments are kept as code, so the code cells hold the whole file but for its
    docstring and its ruled section comments. Nothing is executed. Cell ids are ``cell-0``,
    ``cell-1``, ..., so the same stubs always give the same notebook.

    With the ``handout`` (the text of ``README.md``), the notebook also carries what a
    student needs without the handout open: after the imports, the optimizers and the binding
    conventions (symbols and their assumptions included); under each part's heading, that
    part's section of the handout (rubric items and points, concept keys and options).

    Raises ``SyntaxError`` when the stubs do not parse.
    """
    notebook = nbformat.v4.new_notebook(metadata=json.loads(json.dumps(NOTEBOOK_METADATA)))
    for number, cell in enumerate(_with_handout(_plan_cells(source), handout)):
        make = nbformat.v4.new_code_cell if cell.kind == "code" else nbformat.v4.new_markdown_cell
        notebook.cells.append(make(source=cell.source, id=f"cell-{number}"))
    nbformat.validate(notebook)
    return notebook


def render_notebook(notebook: NotebookNode) -> str:
    """The notebook as the text Jupyter itself would save (ends with a newline)."""
    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def build_notebook_text(source: str, handout: str | None = None) -> str:
    """The text of the notebook built from the stub file text ``source`` (and the handout)."""
    return render_notebook(stubs_to_notebook(source, handout))


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def default_paths() -> tuple[Path, Path]:
    """``(stubs, notebook)`` in the folder of the ``assignment`` package."""
    spec = importlib.util.find_spec("assignment")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(list(spec.submodule_search_locations)[0])
    else:
        folder = Path(__file__).resolve().parents[2] / "assignment"
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
        prog="python -m grader.release.notebook",
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
    handout = stubs.parent / HANDOUT_NAME
    try:
        expected = build_notebook_text(stubs.read_text(encoding="utf-8"),
                                       handout.read_text(encoding="utf-8") if handout.is_file() else None)
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
        print(f"{notebook} is missing: run `python -m grader.release.notebook` to build it",
              file=sys.stderr)
        return 1
    if current != expected:
        print(f"{notebook} is out of date with {stubs}: "
              "run `python -m grader.release.notebook` to rebuild it", file=sys.stderr)
        return 1
    print(f"{notebook} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
