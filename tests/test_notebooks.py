"""The student notebook (built from the stubs) and the reading of submitted notebooks."""

from __future__ import annotations

import ast
import inspect
import json
import re
import sys
import traceback
import types
from pathlib import Path

import nbformat
import pytest

from grader.engine.notebook import NotebookError, notebook_code
from grader.release.notebook import build_notebook_text, default_paths, main, stubs_to_notebook
from reference.adam_vs_momentum import CONCEPT_QUESTIONS, concept_answers

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "assignment" / "adam_vs_momentum.py"
NOTEBOOK = ROOT / "assignment" / "adam_vs_momentum.ipynb"
HANDOUT = ROOT / "assignment" / "README.md"


def _stub_text() -> str:
    return STUBS.read_text(encoding="utf-8")


def _signatures(source: str) -> dict[str, str]:
    """``{name: argument list}`` of every top-level function of a module's source."""
    return {
        node.name: ast.unparse(node.args)
        for node in ast.parse(source).body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def _notebook_text(*cells: tuple[str, str]) -> str:
    """A valid nbformat 4 notebook with the given ``(cell_type, source)`` cells."""
    notebook = nbformat.v4.new_notebook()
    for number, (kind, source) in enumerate(cells):
        make = getattr(nbformat.v4, f"new_{kind}_cell")
        notebook.cells.append(make(source, id=f"c{number}"))
    return nbformat.writes(notebook)


# ---------------------------------------------------------------------------
# The committed notebook and the stubs
# ---------------------------------------------------------------------------

def test_committed_notebook_equals_a_fresh_build_from_the_stubs():
    assert NOTEBOOK.read_text(encoding="utf-8") == build_notebook_text(_stub_text(), _handout()), (
        "assignment/adam_vs_momentum.ipynb is out of date: run `python -m grader.release.notebook`")


def test_check_fails_when_only_the_stubs_or_only_the_notebook_change(tmp_path, capsys):
    stubs, notebook = tmp_path / "stubs.py", tmp_path / "stubs.ipynb"
    stubs.write_text(_stub_text(), encoding="utf-8")
    assert main([str(stubs), str(notebook)]) == 0
    assert main(["--check", str(stubs), str(notebook)]) == 0

    stubs.write_text(_stub_text() + "\n\ndef extra(x):\n    return x\n", encoding="utf-8")
    assert main(["--check", str(stubs), str(notebook)]) == 1
    assert "out of date" in capsys.readouterr().err

    stubs.write_text(_stub_text(), encoding="utf-8")
    edited = json.loads(notebook.read_text(encoding="utf-8"))
    edited["cells"][1]["source"] = "import numpy as np\n"
    notebook.write_text(json.dumps(edited), encoding="utf-8")
    assert main(["--check", str(stubs), str(notebook)]) == 1


def test_check_reports_a_missing_notebook(tmp_path, capsys):
    stubs = tmp_path / "stubs.py"
    stubs.write_text(_stub_text(), encoding="utf-8")
    assert main(["--check", str(stubs), str(tmp_path / "absent.ipynb")]) == 1
    assert "missing" in capsys.readouterr().err


def test_default_paths_point_at_the_assignment_folder():
    stubs, notebook = default_paths()
    assert stubs.resolve() == STUBS.resolve()
    assert notebook.resolve() == NOTEBOOK.resolve()


def test_build_is_deterministic_with_stable_cell_ids():
    first, second = build_notebook_text(_stub_text()), build_notebook_text(_stub_text())
    assert first == second
    cells = json.loads(first)["cells"]
    assert [cell["id"] for cell in cells] == [f"cell-{n}" for n in range(len(cells))]


def test_notebook_validates_and_opens_with_a_python_kernel():
    notebook = nbformat.reads(NOTEBOOK.read_text(encoding="utf-8"), as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata.kernelspec.name == "python3"
    assert notebook.metadata.language_info.name == "python"
    assert all(cell.outputs == [] and cell.execution_count is None
               for cell in notebook.cells if cell.cell_type == "code")


def test_notebook_code_cells_define_exactly_the_stub_functions():
    notebook = nbformat.reads(NOTEBOOK.read_text(encoding="utf-8"), as_version=4)
    code_cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert _signatures("\n\n".join(code_cells)) == _signatures(_stub_text())


def test_each_stub_function_is_a_code_cell_verbatim():
    source = _stub_text()
    notebook = stubs_to_notebook(source)
    code_cells = {cell.source for cell in notebook.cells if cell.cell_type == "code"}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            assert ast.get_source_segment(source, node) in code_cells, node.name


def test_notebook_opens_with_the_docstring_and_imports_and_closes_with_how_to_check():
    source = _stub_text()
    cells = stubs_to_notebook(source).cells
    docstring = ast.get_docstring(ast.parse(source))
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    assert docstring.splitlines()[-1].strip() in cells[0].source
    assert cells[1].cell_type == "code"
    assert all(isinstance(node, (ast.Import, ast.ImportFrom))
               for node in ast.parse(cells[1].source).body)
    assert cells[-1].cell_type == "markdown"
    assert "pytest --submission=adam_vs_momentum.ipynb" in cells[-1].source
    part_headings = [cell.source for cell in cells
                     if cell.cell_type == "markdown" and "## Part " in cell.source]
    assert [re.search(r"## (Part \d)", text).group(1) for text in part_headings] == [
        "Part 1", "Part 2", "Part 3"]


def test_build_keeps_decorators_constants_and_loose_comments():
    source = (
        '"""Title line.\n\nBody."""\n\nimport math\n\n# a loose remark\nLIMIT = 3\n\n\n'
        "@staticmethod\ndef f(x, *, y=1):\n    return x\n"
    )
    notebook = stubs_to_notebook(source)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "# a loose remark\nLIMIT = 3" in code
    assert "@staticmethod\ndef f(x, *, y=1):\n    return x" in code
    assert notebook.cells[0].source == "# Title line\n\nBody."


def test_notebook_code_of_the_built_notebook_compiles_and_defines_every_stub_function():
    code, notes = notebook_code(NOTEBOOK.read_text(encoding="utf-8"))
    assert notes == ()
    namespace: dict = {}
    exec(compile(code, "adam_vs_momentum.ipynb", "exec"), namespace)
    stubs: dict = {}
    exec(compile(_stub_text(), str(STUBS), "exec"), stubs)
    for name, value in stubs.items():
        if inspect.isfunction(value):
            assert inspect.signature(namespace[name]) == inspect.signature(value), name


# ---------------------------------------------------------------------------
# Magics and shell escapes in a submitted notebook
# ---------------------------------------------------------------------------

MAGIC_CASES = [
    pytest.param("x = 1\n!pip install x\ny = 2",
                 ["code cell 1, line 2: dropped shell escape `!pip install x`"],
                 "x = 1\n\ny = 2", id="shell-escape"),
    pytest.param("%timeit f()\nx = 1",
                 ["code cell 1, line 1: dropped line magic `%timeit f()`"], "x = 1", id="line-magic"),
    pytest.param("%%time\nx = 1\ny = 2",
                 ["code cell 1, line 1: dropped cell magic `%%time` and the whole cell with it"],
                 "", id="cell-magic"),
    pytest.param("files = !ls\nresult = %timeit -o f()",
                 ["code cell 1, line 1: dropped shell escape `files = !ls`",
                  "code cell 1, line 2: dropped line magic `result = %timeit -o f()`"],
                 "", id="assigned-forms"),
    pytest.param("get_ipython().run_line_magic(\n    'time', 'x')\nz = 3",
                 ["code cell 1, line 1: dropped get_ipython() call `get_ipython().run_line_magic(`"],
                 "z = 3", id="get-ipython-over-two-lines"),
    pytest.param("np.mean?\nz = 3",
                 ["code cell 1, line 1: dropped IPython help `np.mean?`"], "z = 3", id="help"),
    pytest.param("!echo a \\\n  b\nz = 3",
                 ["code cell 1, line 1: dropped shell escape `!echo a \\`"], "z = 3",
                 id="escape-with-continuation"),
    pytest.param("def f():\n    %time g()\n    return 1",
                 ["code cell 1, line 2: dropped line magic `%time g()`"],
                 "def f():\n    pass\n    return 1", id="indented-magic-becomes-pass"),
    pytest.param('def f():\n    """Doc.\n    !important\n    % of it\n    why?\n    """\n',
                 [], 'def f():\n    """Doc.\n    !important\n    % of it\n    why?\n    """',
                 id="docstring-lines-are-kept"),
    pytest.param("y = (10\n% 3)\nz = 10 \\\n    % 3", [], "y = (10\n% 3)\nz = 10 \\\n    % 3",
                 id="continuation-lines-are-kept"),
]


@pytest.mark.parametrize(("source", "expected_notes", "expected_code"), MAGIC_CASES)
def test_magics_and_shell_escapes_are_dropped_with_a_note(source, expected_notes,
                                                          expected_code):
    code, notes = notebook_code(_notebook_text(("code", source)))
    assert list(notes) == expected_notes
    assert code.strip("\n") == expected_code
    compile(code, "<notebook>", "exec")


def test_notes_count_code_cells_as_jupyter_does_and_markdown_and_raw_cells_are_ignored():
    text = _notebook_text(("markdown", "!not code"), ("raw", "%%nothing"),
                          ("code", "import math"), ("code", "x = 1\n%who"))
    code, notes = notebook_code(text)
    assert notes == ("code cell 2, line 2: dropped line magic `%who`",)
    assert code == "import math\n\n\nx = 1\n"


def test_every_line_of_the_code_is_located_in_its_code_cell():
    from grader.engine.notebook import notebook_source

    cells = [("markdown", "# title"), ("code", "\nimport math\n%who"), ("code", "%%time\nx = 1"),
             ("markdown", "text"), ("code", "a = 1\nb = 2\n\nc = 3")]
    source = notebook_source(_notebook_text(*cells))
    lines = source.code.split("\n")
    assert source.where(lines.index("import math") + 1) == "code cell 1, line 2"
    assert source.where(lines.index("c = 3") + 1) == "code cell 3, line 4"
    assert source.where(lines.index("a = 1") + 1) == "code cell 3, line 1"


def test_future_import_in_a_later_cell_works_as_in_jupyter():
    from grader.engine.notebook import notebook_source

    text = _notebook_text(("code", "import math"),
                          ("code", "from __future__ import annotations\ndef f(x: Undefined) -> int:\n    return 1 // 0"))
    source = notebook_source(text)
    namespace: dict = {}
    exec(compile(source.code, "nb.py", "exec"), namespace)  # no SyntaxError, no NameError
    with pytest.raises(ZeroDivisionError) as caught:
        namespace["f"](1)
    import traceback

    line = traceback.extract_tb(caught.value.__traceback__)[-1].lineno
    assert source.where(line) == "code cell 2, line 3"


# ---------------------------------------------------------------------------
# Jupyter's built-in display()
# ---------------------------------------------------------------------------

def _error_line(exc: BaseException) -> int:
    return traceback.extract_tb(exc.__traceback__)[-1].lineno


def test_a_notebook_calling_display_compiles_and_runs_without_name_error():
    from grader.engine.notebook import notebook_source

    text = _notebook_text(("code", "import math\nx = math.sqrt(4.0)"),
                          ("code", "display(x)\ndisplay(x, {'a': 1}, raw=True, clear=False)"),
                          ("code", "def f(y):\n    display(y)\n    return y + 1\n\nz = f(x)"))
    source = notebook_source(text)
    assert source.notes == ()
    namespace: dict = {}
    exec(compile(source.code, "nb.py", "exec"), namespace)  # no NameError: name 'display'
    assert namespace["z"] == 3.0
    assert namespace["display"]() is None and namespace["display"](1, 2, k=3) is None
    assert source.where(source.code.split("\n").index("display(x)") + 1) == "code cell 2, line 1"


NO_DISPLAY_CASES = [
    pytest.param([("code", "import math"), ("code", "x = 1\n%who")], "import math\n\n\nx = 1\n",
                 id="no-display"),
    pytest.param([("code", "s = 'display(x)'  # display(x)\nd = dict(display=1)\nclass A:\n"
                           "    def display(self):\n        return 1\nA().display()")],
                 "s = 'display(x)'  # display(x)\nd = dict(display=1)\nclass A:\n"
                 "    def display(self):\n        return 1\nA().display()\n",
                 id="display-only-in-strings-comments-keywords-attributes"),
    pytest.param([("code", "x = 1"), ("code", "from __future__ import annotations\ny = 2")],
                 "from __future__ import annotations\nx = 1\n\n\n\ny = 2\n", id="future-import"),
    pytest.param([("code", "display(x"), ("code", "y = 2")], "display(x\n\n\ny = 2\n",
                 id="syntax-error-code-is-left-alone"),
]


@pytest.mark.parametrize(("cells", "expected_code"), NO_DISPLAY_CASES)
def test_a_notebook_that_never_uses_display_gets_exactly_its_code(cells, expected_code):
    from grader.engine.notebook import notebook_source

    source = notebook_source(_notebook_text(*cells))
    assert source.code == expected_code
    assert "def display" not in source.code.split("\n")[0]


def test_lines_after_the_display_prelude_are_located_in_their_code_cells():
    from grader.engine.notebook import notebook_source

    text = _notebook_text(("markdown", "# title"), ("code", "import math\n%who"),
                          ("code", "from __future__ import annotations\ndisplay(math.pi)"),
                          ("code", "def f(x: Undefined) -> int:\n    return 1 // 0"),
                          ("code", "display(f)\nf(1)"))
    source = notebook_source(text)
    lines = source.code.split("\n")
    assert lines[0] == "from __future__ import annotations"  # the future import stays first
    assert lines[1].startswith("def display(")
    assert source.where(1) is None and source.where(2) is None
    assert source.where(lines.index("import math") + 1) == "code cell 1, line 1"
    assert source.where(lines.index("display(math.pi)") + 1) == "code cell 2, line 2"
    assert source.where(lines.index("    return 1 // 0") + 1) == "code cell 3, line 2"
    with pytest.raises(ZeroDivisionError) as caught:
        exec(compile(source.code, "nb.py", "exec"), {})
    frames = [frame.lineno for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert [source.where(line) for line in frames[1:]] == ["code cell 4, line 2",
                                                           "code cell 3, line 2"]


def test_a_runtime_error_in_the_cell_after_the_prelude_names_its_cell_and_line():
    from grader.engine.notebook import notebook_source

    source = notebook_source(_notebook_text(("code", "x = 1\ndisplay(x)"),
                                            ("code", "\ny = 2\nz = y / 0")))
    with pytest.raises(ZeroDivisionError) as caught:
        exec(compile(source.code, "nb.py", "exec"), {})
    assert source.where(_error_line(caught.value)) == "code cell 2, line 3"


def test_a_students_own_display_wins_over_the_prelude(capsys):
    from grader.engine.notebook import notebook_source

    text = _notebook_text(("code", "display(0)"),
                          ("code", "def display(obj, *rest):\n    print('mine', obj)"),
                          ("code", "display(3)"))
    namespace: dict = {}
    exec(compile(notebook_source(text).code, "nb.py", "exec"), namespace)
    assert capsys.readouterr().out == "mine 3\n"
    assert namespace["display"].__code__.co_varnames[:2] == ("obj", "rest")


def test_an_imported_display_wins_over_the_prelude_and_the_import_is_kept(monkeypatch):
    from grader.engine.notebook import notebook_source

    text = _notebook_text(("code", "from IPython.display import display\ndisplay(1)"))
    code = notebook_source(text).code
    lines = code.split("\n")
    assert lines.index("from IPython.display import display") > 0  # kept, after the prelude
    with pytest.raises(ImportError):  # IPython is not a provided package: it fails as before
        exec(compile(code, "nb.py", "exec"), {})
    shown = []
    fake = types.ModuleType("IPython.display")
    fake.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", fake)
    namespace: dict = {}
    exec(compile(code, "nb.py", "exec"), namespace)
    assert namespace["display"] == shown.append and shown == [1]


def test_the_notebook_carries_what_the_handout_says():
    notebook = nbformat.reads(NOTEBOOK.read_text(encoding="utf-8"), as_version=4)
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert "## Conventions (binding: the grader uses exactly these)" in markdown
    assert "| `alpha`, `eps`, `beta1`, `beta2`, `mu` | positive |" in markdown  # symbols, assumptions
    from grader.rubric import load_rubric

    for item in load_rubric().items:  # every rubric item with its points
        assert re.search(rf"\| `{re.escape(item.id)}` \|.*\| {item.points:g} \|", markdown), item.id
    for key, question in CONCEPT_QUESTIONS.items():  # every concept key with its options
        assert f"`{key}`" in markdown
        assert all(f"`{option}`" in markdown for option in question["options"])


# ---------------------------------------------------------------------------
# Malformed notebooks
# ---------------------------------------------------------------------------

def _v4(**fields) -> str:
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}
    notebook.update(fields)
    return json.dumps({key: value for key, value in notebook.items() if value is not None})


CODE_CELL = {"cell_type": "code", "id": "a", "metadata": {}, "outputs": [],
             "execution_count": None, "source": "x = 1"}

MALFORMED = [
    pytest.param('{"cells": [\n', "not valid JSON at line 2 column 1", id="truncated-json"),
    pytest.param("not json", "not valid JSON at line 1 column 1", id="plain-text"),
    pytest.param("[1, 2]", "the top level is a JSON array", id="json-array"),
    pytest.param('{"hello": 1}', "missing 'nbformat'", id="json-object-not-notebook"),
    pytest.param(json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                             "worksheets": [{"cells": []}]}),
                 "nbformat 3, expected nbformat 4", id="version-3"),
    pytest.param(_v4(cells=None), "missing 'cells'", id="missing-cells"),
    pytest.param(_v4(cells={}), "'cells' must be an array", id="cells-not-a-list"),
    pytest.param(_v4(cells=[{**CODE_CELL, "cell_type": "sql"}]),
                 "cell 1 (cells[0]) has cell_type 'sql'", id="unknown-cell-type"),
    pytest.param(_v4(cells=[{k: v for k, v in CODE_CELL.items() if k != "source"}]),
                 "cell 1 (cells[0]) is missing 'source'", id="missing-source"),
    pytest.param(_v4(cells=[{k: v for k, v in CODE_CELL.items() if k != "outputs"}]),
                 "cell 1 (cells[0]): 'outputs' is a required property", id="schema-error"),
    pytest.param(_v4(metadata={"kernelspec": 3}), "metadata.kernelspec", id="bad-metadata"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_notebooks_raise_notebook_error_with_a_precise_message(text, message):
    with pytest.raises(NotebookError) as caught:
        notebook_code(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


# ---------------------------------------------------------------------------
# Concept questions in the handout and the stub docstring
# ---------------------------------------------------------------------------

def _handout() -> str:
    return HANDOUT.read_text(encoding="utf-8")


def test_handout_lists_every_concept_key_question_and_option():
    handout = _handout()
    for key, entry in CONCEPT_QUESTIONS.items():
        assert f"`{key}`" in handout, key
        assert entry["question"] in handout, key
        for option in entry["options"]:
            assert f"`{option}`" in handout, (key, option)


def test_handout_does_not_map_keys_to_their_correct_options():
    handout = " ".join(_handout().split())
    answers = concept_answers()
    assert str(answers) not in handout
    assert json.dumps(answers) not in handout
    for key, option in answers.items():
        for template in ("'{k}': '{o}'", '"{k}": "{o}"', "{k}: {o}", "{k} = {o}",
                         "{k} -> {o}", "{k} → {o}", "`{k}`: `{o}`", "`{k}` → `{o}`"):
            assert template.format(k=key, o=option) not in handout, (key, option)


def test_handout_option_order_does_not_point_at_the_answers():
    lines = _handout().splitlines()
    answers = concept_answers()
    positions = set()
    for key, entry in CONCEPT_QUESTIONS.items():
        row = next(line for line in lines if line.startswith("|") and f"`{key}`" in line)
        listed = sorted(entry["options"], key=lambda option: row.index(f"`{option}`"))
        positions.add(listed.index(answers[key]))
    assert len(positions) > 1, "the correct option sits at the same place in every row"


def test_stub_concept_answers_docstring_lists_every_key_and_option():
    functions = {node.name: node for node in ast.parse(_stub_text()).body
                 if isinstance(node, ast.FunctionDef)}
    docstring = ast.get_docstring(functions["concept_answers"])
    flat = " ".join(docstring.split())
    for key, entry in CONCEPT_QUESTIONS.items():
        assert f'"{key}"' in docstring, key
        assert entry["question"] in flat, key
        for option in entry["options"]:
            assert f'"{option}"' in docstring, (key, option)
