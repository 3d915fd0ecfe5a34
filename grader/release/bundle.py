"""The student bundle: the stubs, the handout, the public checks and the checking engine only.

``python -m grader release --out DIR`` calls :func:`release`. The bundle is built in memory
(:func:`bundle_files`), written to a temporary folder next to ``DIR``, read back and checked
there file by file (:func:`find_leaks`), and only then moved into place: a bundle that
would hold the reference or a hidden value is never written. The checks look for

* files that must never ship: anything from ``reference/``, the grader's hidden inputs,
  item judging and misconception templates (``inputs.py``, ``items.py``,
  ``misconceptions.py``), the rubric, by name and by content;
* the text of the reference's (and the misconception templates') function bodies, line by
  line and as syntax trees, in every file (code cells and markdown of the notebook, strings
  inside JSON files included);
* the correct concept choices written as answers (``key: answer`` pairs in any notation,
  or the answer dict in JSON), while the options themselves may appear anywhere;
* expression trees in ``public_checks.json``, which must equal a fresh
  :func:`grader.release.public.build_public_data` (values at public points only);
* anything but the expected files, files over 200 kB (but the public data), a package
  ``__init__.py`` at the bundle's root, and imports of modules the bundle does not hold.

``DIR`` must be absent, empty, or hold a previous bundle; a previous bundle is replaced by
renaming (build next to it, then swap), so a failed release leaves it as it was.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator, Mapping

from grader import __version__
from grader.errors import BundleLeakError, ReleaseError

#: The files copied from the ``assignment`` folder, under the same names.
ASSIGNMENT_FILES = ("adam_vs_momentum.py", "adam_vs_momentum.ipynb", "README.md", "conftest.py",
                    "test_adam_vs_momentum.py", "pytest.ini", "public_checks.json")
PUBLIC_DATA = "public_checks.json"
REQUIREMENTS = "requirements.txt"
#: Every top-level entry of a bundle.
TOP_LEVEL = frozenset(ASSIGNMENT_FILES) | {REQUIREMENTS, "grader"}
#: Largest file allowed in a bundle, but the public data.
MAX_FILE_BYTES = 200_000
#: Files that never ship, wherever they are and whatever they are called in the bundle.
FORBIDDEN_NAMES = frozenset({"inputs.py", "items.py", "misconceptions.py", "rubric.toml", "SOLUTIONS.md"})
#: Grader modules whose content is secret (hidden inputs, answer judging, templates).
SECRET_MODULES = ("judging/inputs.py", "judging/items.py", "judging/misconceptions.py", "rubric.toml")
#: Secret files whose lines are formulas, each a leak on its own (the others' code is judging
#: logic that the engine shares by design; their whole function bodies are still checked).
FORMULA_SOURCES = ("reference/", "grader/judging/misconceptions.py")
#: Modules a bundle file may import besides its own files and the standard library.
THIRD_PARTY = frozenset({"numpy", "sympy", "mpmath", "nbformat", "pytest", "matplotlib"})
#: A line of secret code must have at least this many characters to count as a leak alone.
MIN_LINE_CHARS = 20
#: Entries a previous bundle may have gained by being used (pytest and Python caches).
CACHES = frozenset({"__pycache__", ".pytest_cache"})

#: The marker in the bundle's ``grader/__init__.py`` that identifies a previous bundle.
BUNDLE_MARKER = 'Student bundle of the homework "Adam vs. SGD with momentum"'

BUNDLE_INIT = f'''"""{BUNDLE_MARKER}: only the checking engine.

This package holds what the public checks (``pytest`` in the folder above) need: the
judging engine (wire format, expression evaluators, comparison rules) and the notebook
reader, copied from the course's grader {__version__}. It holds no reference solution, no
hidden inputs and no rubric answers: the grading happens on the instructor's side, with
hidden inputs and more sample points.
"""
'''

#: The Python versions the bundle supports (tests/test_bundle_platforms.py runs it on them).
PYTHON_RANGE = ("3.9", "3.13")

REQUIREMENTS_TEXT = f"""\
# What the public checks need, for Python {PYTHON_RANGE[0]} to {PYTHON_RANGE[1]}, in a virtual environment:
#   python3 -m venv .venv, then source .venv/bin/activate (Windows: .venv\\Scripts\\activate),
#   then pip install -r requirements.txt
# On an older Python, pip finds no numpy>=1.26: install a newer Python first.
numpy>=1.26
sympy>=1.12
mpmath>=1.3  # comes with sympy; the checking engine uses it directly
nbformat>=5.9
pytest>=8
matplotlib>=3.5  # the grader provides it: a file that plots runs here as it is graded
"""


@dataclass(frozen=True)
class Sources:
    """Where the bundle's files, and the secrets it must not hold, come from."""

    assignment: Path
    #: The ``grader`` package folder (engine, notebook reader, secret modules, rubric).
    grader: Path
    reference: Path

    @classmethod
    def locate(cls) -> "Sources":
        """The folders of the importable ``assignment``, ``grader`` and ``reference`` packages."""
        return cls(_package_dir("assignment"), Path(__file__).resolve().parent.parent, _package_dir("reference"))


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ReleaseError(f"cannot find the {name!r} package; run the release from the project")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


@dataclass(frozen=True)
class SecretCode:
    """The body of one secret function, as normalised lines and as a syntax tree dump."""

    label: str
    lines: tuple[str, ...]
    tree: str


@dataclass(frozen=True)
class Secrets:
    """What a bundle must not hold, and the public data it must hold exactly."""

    #: Label -> bytes of every file that must not ship (reference files, secret modules).
    files: Mapping[str, bytes]
    code: tuple[SecretCode, ...]
    #: Concept key -> the correct option.
    answers: Mapping[str, str]
    #: Concept key -> every option.
    options: Mapping[str, tuple[str, ...]]
    #: A fresh build of the public data, as JSON data.
    public_data: object = field(repr=False)

    @classmethod
    def load(cls, sources: Sources) -> "Secrets":
        from grader.release.public import public_json
        from grader.rubric import load_rubric

        files: dict[str, bytes] = {}
        for path in sorted(sources.reference.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[f"reference/{path.relative_to(sources.reference).as_posix()}"] = path.read_bytes()
        for name in SECRET_MODULES:
            path = sources.grader / name
            if path.is_file():
                files[f"grader/{name}"] = path.read_bytes()
        code = tuple(secret for label, data in files.items() if label.endswith(".py")
                     for secret in secret_code(data.decode("utf-8"), label))
        reference = importlib.import_module("reference.adam_vs_momentum")
        answers = dict(reference.concept_answers())
        options = {key: tuple(q["options"]) for key, q in reference.CONCEPT_QUESTIONS.items()}
        return cls(files, code, answers, options, json.loads(public_json(load_rubric())))


def normalise_lines(text: str) -> list[str]:
    """Lines with whitespace collapsed; blank lines and comment lines dropped."""
    lines = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


_ARITHMETIC = re.compile(r"\*|/|\s[-+]\s|[(=,]\s*-\w|\bsqrt\b|\babs\(|\bAbs\(")


_TARGET = re.compile(r"^(?:return\s+|[\w.\[\], ]+?\s*(?:[-+*/]?=)\s+(?!=))")


def formula_of(line: str) -> str:
    """A secret line without ``return`` or its assignment target: the part that gives it away."""
    return _TARGET.sub("", line, count=1)


def is_formula_line(line: str) -> bool:
    """A line of secret code that is a leak on its own: long enough and doing arithmetic.

    Plain control flow (``if isinstance(answer, dict):``) is shared with the engine by
    nature; a formula is what must not ship.
    """
    return len(line) >= MIN_LINE_CHARS and bool(_ARITHMETIC.search(line))


def _body(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.stmt]:
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body


def _tree_dump(body: list[ast.stmt]) -> str:
    return ast.dump(ast.Module(body=body, type_ignores=[]))


def secret_code(source: str, label: str) -> Iterator[SecretCode]:
    """The body of every function (nested ones too) of a secret Python file, docstring left out."""
    tree = ast.parse(source)
    lines = source.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = _body(node)
            if not body:
                continue
            text = "\n".join(lines[body[0].lineno - 1: body[-1].end_lineno])
            yield SecretCode(f"{label}:{node.name}", tuple(normalise_lines(text)), _tree_dump(body))


# ---------------------------------------------------------------------------
# Reading a bundle's files as text
# ---------------------------------------------------------------------------

def _texts(path: str, data: bytes) -> tuple[list[str], list[str]]:
    """Texts to search (whole file, notebook cells, JSON strings) and Python sources to parse."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [data.decode("latin-1")], []
    texts, sources = [text], []
    if path.endswith(".py"):
        sources.append(text)
    elif path.endswith((".json", ".ipynb")):
        try:
            document = json.loads(text)
        except ValueError:
            return texts, sources
        texts.extend(s for s in _json_strings(document) if "\n" in s or len(s) >= MIN_LINE_CHARS)
        if path.endswith(".ipynb") and isinstance(document, dict):
            for cell in document.get("cells") or ():
                if isinstance(cell, dict):
                    source = cell.get("source", "")
                    source = "".join(source) if isinstance(source, list) else str(source)
                    texts.append(source)
                    if cell.get("cell_type") == "code":
                        sources.append(source)
    return texts, sources


def _json_strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)


# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------

def find_leaks(files: Mapping[str, bytes], secrets: Secrets) -> list[str]:
    """Every reason why ``files`` (bundle path -> content) must not be given to students."""
    problems: list[str] = []
    problems += _check_layout(files)
    by_content = {data: label for label, data in secrets.files.items()}
    by_text = {_text_key(data): label for label, data in secrets.files.items()}
    secret_lines = {}
    for code in secrets.code:
        if not code.label.startswith(FORMULA_SOURCES):
            continue
        for line in code.lines:
            formula = formula_of(line)
            if is_formula_line(formula):
                secret_lines.setdefault(formula, code.label)
    secret_trees = {code.tree: code.label for code in secrets.code if sum(map(len, code.lines)) >= MIN_LINE_CHARS}
    for path, data in sorted(files.items()):
        name = PurePosixPath(path).name
        if name in FORBIDDEN_NAMES or "reference" in PurePosixPath(path).parts[:-1] \
                or PurePosixPath(path).stem == "reference":
            problems.append(f"{path}: a file of the instructor's side (reference, hidden inputs, "
                            "templates or rubric) must not ship")
        if data in by_content or _text_key(data) in by_text:
            label = by_content.get(data) or by_text[_text_key(data)]
            problems.append(f"{path}: is a copy of {label}")
            continue
        texts, sources = _texts(path, data)
        problems += _code_leaks(path, texts, sources, secret_lines, secret_trees)
        problems += _answer_leaks(path, data, texts, secrets)
        if path.endswith(".py"):
            problems += _import_problems(path, data, files)
    problems += _public_data_problems(files, secrets)
    return problems


def _text_key(data: bytes) -> str:
    try:
        return "\n".join(normalise_lines(data.decode("utf-8")))
    except UnicodeDecodeError:
        return ""


def _check_layout(files: Mapping[str, bytes]) -> list[str]:
    problems = []
    for path, data in sorted(files.items()):
        parts = PurePosixPath(path).parts
        allowed = (path in TOP_LEVEL and path != "grader") or path == "grader/__init__.py" \
            or (len(parts) == 3 and parts[:2] == ("grader", "engine") and path.endswith(".py"))
        if path == "__init__.py":
            problems.append("__init__.py: the bundle's root must not be a package")
        elif not allowed:
            problems.append(f"{path}: not a file of the student bundle")
        if len(data) > MAX_FILE_BYTES and path != PUBLIC_DATA:
            problems.append(f"{path}: {len(data):,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for a bundle file")
    for required in (*ASSIGNMENT_FILES, REQUIREMENTS, "grader/__init__.py", "grader/engine/notebook.py"):
        if required not in files:
            problems.append(f"{required}: missing from the bundle")
    return problems


def _code_leaks(path: str, texts: list[str], sources: list[str], secret_lines: Mapping[str, str],
                secret_trees: Mapping[str, str]) -> list[str]:
    problems, seen = [], set()
    for text in texts:
        for line in normalise_lines(text):
            for formula, label in secret_lines.items():
                if formula in line and label not in seen:
                    seen.add(label)
                    problems.append(f"{path}: holds code of {label}: {formula!r}")
    for source in sources:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                label = secret_trees.get(_tree_dump(_body(node)))
                if label and label not in seen:
                    seen.add(label)
                    problems.append(f"{path}: function {node.name} has the body of {label}")
    return problems


def _answer_pattern(key: str, answer: str, options: Iterable[str]) -> re.Pattern:
    """``key`` given ``answer`` as its value (``key: answer``, ``"key" = 'answer'``, ...),
    but not ``key: answer | other option`` (a list of the options, which is public)."""
    quote = r"""["'`]?"""
    others = [re.escape(o) for o in options if o != answer]
    not_a_list = (rf"(?!{quote}\s*[,|/·]\s*{quote}(?:{'|'.join(others)})(?!\w))" if others else "")
    return re.compile(rf"(?<![\w]){re.escape(key)}{quote}\s*(?::|=>|->|=|→)\s*{quote}"
                      rf"{re.escape(answer)}(?!\w){not_a_list}")


def _answer_leaks(path: str, data: bytes, texts: list[str], secrets: Secrets) -> list[str]:
    problems = []
    for key, answer in sorted(secrets.answers.items()):
        pattern = _answer_pattern(key, answer, secrets.options.get(key, ()))
        for text in texts:
            match = pattern.search(text)
            if match:
                problems.append(f"{path}: gives the correct concept answer {match.group(0)!r}")
                break
    if path.endswith((".json", ".ipynb")):
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return problems
        for where, key, value in _json_pairs(document):
            if key in secrets.answers and secrets.answers[key] == value:
                problems.append(f"{path}: {where}{key} holds the correct concept answer")
    return problems


def _json_pairs(value, where: str = "") -> Iterator[tuple[str, str, object]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield where, str(key), item
            yield from _json_pairs(item, f"{where}{key}.")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_pairs(item, f"{where}{index}.")


def _tree_heads() -> frozenset[str]:
    from grader.engine.expressions import LEAVES, OPERATIONS

    return frozenset(OPERATIONS) | LEAVES | {"Limits"}


def _expression_trees(value, where: str = "") -> Iterator[str]:
    heads = _tree_heads()

    def walk(node, at: str):
        if isinstance(node, dict):
            if node.get("t") == "expr":
                yield at or "(top)"
            for key, item in node.items():
                yield from walk(item, f"{at}.{key}" if at else str(key))
        elif isinstance(node, list):
            if node and isinstance(node[0], str) and node[0] in heads and (
                    len(node) > 1 or node[0] in ("BooleanTrue", "BooleanFalse")):
                yield at or "(top)"
                return
            for index, item in enumerate(node):
                yield from walk(item, f"{at}[{index}]")

    yield from walk(value, where)


def _public_data_problems(files: Mapping[str, bytes], secrets: Secrets) -> list[str]:
    problems = []
    for path, data in sorted(files.items()):
        if not path.endswith(".json"):
            continue
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{path}: not valid JSON ({exc})")
            continue
        trees = list(_expression_trees(document))
        if trees:
            problems.append(f"{path}: holds expression trees (formulas), at {', '.join(trees[:5])}"
                            + (f" and {len(trees) - 5} more" if len(trees) > 5 else ""))
        if path == PUBLIC_DATA and document != secrets.public_data:
            problems.append(f"{path}: differs from a fresh build of the public data (values at "
                            "public points only); run `python -m grader.release.public` and check the diff")
    return problems


def _import_problems(path: str, data: bytes, files: Mapping[str, bytes]) -> list[str]:
    """Imports that the bundle cannot satisfy, or that reach for the instructor's side."""
    try:
        tree = ast.parse(data.decode("utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
        return [f"{path}: not valid Python ({exc})"]
    package = PurePosixPath(path).parent.parts
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            if node.level - 1 >= len(package):
                problems.append(f"{path}: relative import beyond the bundle's packages (line {node.lineno})")
                continue
            base = ".".join(package[: len(package) - (node.level - 1)])
            modules = [f"{base}.{node.module}" if node.module else base]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if top in ("reference", "assignment"):
                problems.append(f"{path}: imports {module} (line {node.lineno}), which never ships")
            elif top == "grader" and not _bundle_module(module, files):
                problems.append(f"{path}: imports {module} (line {node.lineno}), which the bundle does not hold")
            elif top != "grader" and top not in THIRD_PARTY and top not in sys.stdlib_module_names \
                    and not _bundle_module(module, files):
                problems.append(f"{path}: imports {module} (line {node.lineno}), which is not in requirements.txt")
    return problems


def _bundle_module(module: str, files: Mapping[str, bytes]) -> bool:
    path = module.replace(".", "/")
    return bool(module) and (f"{path}.py" in files or f"{path}/__init__.py" in files)


# ---------------------------------------------------------------------------
# Building and writing
# ---------------------------------------------------------------------------

def bundle_files(sources: Sources) -> dict[str, bytes]:
    """Every file of the bundle, by path inside it."""
    files: dict[str, bytes] = {}
    for name in ASSIGNMENT_FILES:
        path = sources.assignment / name
        if not path.is_file():
            raise ReleaseError(f"{path} is missing; the bundle needs it")
        files[name] = path.read_bytes()
    engine = sources.grader / "engine"
    for path in sorted(engine.glob("*.py")):
        files[f"grader/engine/{path.name}"] = path.read_bytes()
    if "grader/engine/__init__.py" not in files:
        raise ReleaseError(f"{engine} holds no checking engine (__init__.py is missing)")
    files["grader/__init__.py"] = BUNDLE_INIT.encode("utf-8")
    files[REQUIREMENTS] = REQUIREMENTS_TEXT.encode("utf-8")
    return files


def read_tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative POSIX path (a link is an error, never followed)."""
    files = {}
    for path in sorted(Path(folder).rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise ReleaseError(f"{relative}: a symbolic link in the bundle")
        if path.is_file():
            files[relative] = path.read_bytes()
    return files


def is_previous_bundle(folder: Path) -> bool:
    """True when ``folder`` holds a bundle written by :func:`release` (and nothing else)."""
    init = folder / "grader" / "__init__.py"
    try:
        if BUNDLE_MARKER not in init.read_text(encoding="utf-8"):
            return False
    except (OSError, UnicodeDecodeError):
        return False
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if CACHES & set(relative.parts):
            continue
        if path.is_symlink():
            return False
        if path.is_dir():
            if relative.as_posix() not in ("grader", "grader/engine"):
                return False
        elif not (relative.as_posix() in TOP_LEVEL or relative.as_posix() == "grader/__init__.py"
                  or (relative.parts[:2] == ("grader", "engine") and len(relative.parts) == 3
                      and relative.suffix == ".py")):
            return False
    return True


@dataclass(frozen=True)
class ReleaseResult:
    """What :func:`release` wrote."""

    out: Path
    #: (path inside the bundle, size in bytes), sorted by path.
    files: tuple[tuple[str, int], ...]
    #: Whether a previous bundle was replaced.
    replaced: bool


def release(out: Path, *, sources: Sources | None = None) -> ReleaseResult:
    """Write the student bundle into ``out``, or raise without writing anything.

    Raises :class:`BundleLeakError` when the bundle would hold reference code or hidden
    values, :class:`ReleaseError` when ``out`` is not absent, empty or a previous bundle.
    """
    out = Path(out).absolute()
    sources = sources or Sources.locate()
    replaced = _check_target(out)
    files = bundle_files(sources)
    secrets = Secrets.load(sources)
    problems = find_leaks(files, secrets)
    if problems:
        raise BundleLeakError(_leak_message(problems))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.release-"))
    try:
        for relative, data in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        written = read_tree(staging)
        problems = find_leaks(written, secrets)
        if written.keys() != files.keys():
            problems.append("the bundle on disk does not hold exactly the files built")
        if problems:
            raise BundleLeakError(_leak_message(problems))
        os.chmod(staging, 0o755)
        _swap(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return ReleaseResult(out, tuple((path, len(data)) for path, data in sorted(written.items())), replaced)


def _leak_message(problems: list[str]) -> str:
    shown = problems[:20]
    more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
    return ("refusing to write the student bundle (nothing was written):\n  "
            + "\n  ".join(shown) + more)


def _check_target(out: Path) -> bool:
    """Whether ``out`` holds a previous bundle; raises when it may not be written."""
    if out.is_symlink():
        raise ReleaseError(f"{out} is a symbolic link; give the real folder")
    if not out.exists():
        return False
    if not out.is_dir():
        raise ReleaseError(f"{out} exists and is not a folder")
    if not any(out.iterdir()):
        return False
    if is_previous_bundle(out):
        return True
    raise ReleaseError(f"{out} is not empty and does not hold a previous student bundle; "
                       "give an empty or new folder")


def _swap(staging: Path, out: Path) -> None:
    """Move ``staging`` to ``out``, replacing what is there by two renames."""
    if not out.exists():
        os.rename(staging, out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(staging, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
