"""What a student sees locally is what the grader gives: every corpus file, item by item.

For each file of ``tests/corpus/``, the public run (the bundle's checks: the submission in a
child process under the rubric's limits, judged by ``grader.engine.selfcheck`` on the public
data) and the grader (one CLI run over the whole corpus) must agree on every item but the
concept items (only format-checked publicly):

* the verdict: passed / not attempted / earned some points / earned none, and the points
  themselves (follow-through and partial property credit included);
* the misconceptions named (the same "Likely misconception: ..." lines);
* the words for a call without an answer (not implemented, not defined, raised, import
  failed), up to the numbers in them (the grader's inputs are hidden, the public ones are not).

A time limit hit on a loaded machine is not a verdict of the code: items where either side
timed out are left out of the comparison (and listed in the failure message if everything is).
The few differences the hidden inputs cause by design are listed in KNOWN_DIFFERENCES, each
with its reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
ASSIGNMENT = ROOT / "assignment"
FILES = sorted(p for p in CORPUS.iterdir() if p.suffix in (".py", ".ipynb"))

#: (student, item) -> why the public run cannot agree with the grader there.
KNOWN_DIFFERENCES = {
    ("e08_hardcoded_public_answers", "*"): "hard-coded public answers pass publicly and fail on the hidden "
                                           "inputs: what the hidden inputs are for",
    ("m14_v_from_g", "2.3.numerical_safety"): "sqrt of a negative v_hat shows only on the hidden probe's gradients",
    ("m22_bound_raw_m", "2.3.adam_step_bound"): "the template uses m, not a parameter of the function: the public "
                                                "data has no values for it",
    ("r08_float32_everywhere", "3a.adam_effective_learning_rates"): "float32 rounding shows beyond the tolerance "
                                                                    "only on the hidden inputs",
}
#: Files where only the naming of mistakes differs, since the grader's naming of mistakes on
#: numeric items changed (issue 13, commit bc16415) and the public side has not followed yet.
NAMING_PENDING = {"m01_no_bias_correction", "m02_bias_power_t_minus_1", "m03_one_minus_beta_power_t",
                  "m04_only_m_corrected", "m08_tensorflow_plain_eps", "m11_eps_dropped", "m14_v_from_g"}


#: student -> (what the grader says today, why): where the grader's side has not caught up yet.
GRADER_LAGS = {
    "e12_import_error": ("No module named 'torch'", "the grader's worker does not yet raise the message of "
                                                    "grader.engine.provided for a module it does not provide"),
}


def _known(student: str, item: str) -> bool:
    return (student, item) in KNOWN_DIFFERENCES or (student, "*") in KNOWN_DIFFERENCES


def _bundle_conftest():
    """The bundle's ``conftest.py``, loaded from its path under its own module name (the suite's
    own ``tests/conftest.py`` already holds the name ``conftest``)."""
    import importlib.util

    name = "_bundle_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ASSIGNMENT / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(ASSIGNMENT))
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(ASSIGNMENT))
        sys.modules[name] = module
    return sys.modules[name]


def _public_verdicts(path: Path, data: dict) -> dict:
    _read = _bundle_conftest()._read  # the bundle's own reading of a submission
    from grader.engine.localrun import Limits, LocalRun
    from grader.engine.selfcheck import check_item

    source, _notes, locate, reason = _read(path)
    assert reason is None, reason
    run = LocalRun(source, "adam_vs_momentum.py", Limits.from_data(data), bundle=ASSIGNMENT, locate=locate)
    try:
        return {item["id"]: check_item(item, run, data) for item in data["items"]}
    finally:
        run.close()


@pytest.fixture(scope="module")
def both_sides(tmp_path_factory):
    out = tmp_path_factory.mktemp("parity")
    grading = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(CORPUS), "--out", str(out), "--quiet"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    data = json.loads((ASSIGNMENT / "public_checks.json").read_text(encoding="utf-8"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        public = dict(zip([p.stem for p in FILES], pool.map(lambda p: _public_verdicts(p, data), FILES)))
    _, stderr = grading.communicate(timeout=900)
    assert grading.returncode == 0, stderr
    reports = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (out / "reports").glob("*.json")}
    return public, reports, data


def _verdict_public(result) -> str:
    if result.status == "passed":
        return "passed"
    if result.status == "not_implemented":
        return "not_attempted"
    return "partial" if result.preview > 1e-9 else "none"


def _verdict_grader(item: dict) -> str:
    if item["status"] in ("passed", "not_attempted", "partial"):
        return item["status"]
    return "none"


_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _no_answer_lines(lines) -> set:
    """Lines that say why a call gave no answer, with their numbers masked."""
    markers = ("is not implemented yet", "is not defined in the submission", " raised ",
               "importing the submission", "ended the worker process", "gave invalid output")
    return {_NUMBER.sub("#", line) for line in lines if any(m in line for m in markers)}


def _timed_out(result, item: dict) -> bool:
    return item["status"] == "timeout" or any("did not finish within" in m or "took longer than" in m
                                              for m in (*result.messages, *item["feedback"]))


def test_every_corpus_file_has_a_grader_report(both_sides):
    public, reports, _ = both_sides
    assert set(reports) == set(public) == {p.stem for p in FILES}


@pytest.mark.parametrize("student", [p.stem for p in FILES])
def test_public_run_agrees_with_the_grader(both_sides, student):
    public, reports, data = both_sides
    graded = {item["id"]: item for item in reports[student]["items"]}
    if student in GRADER_LAGS and any(GRADER_LAGS[student][0] in line for item in graded.values()
                                      for line in item["feedback"]):
        pytest.xfail(GRADER_LAGS[student][1])
    problems, naming, compared = [], [], 0
    for spec in data["items"]:
        item_id = spec["id"]
        mine, theirs = public[student][item_id], graded[item_id]
        if spec["kind"] == "concepts" or _known(student, item_id) or _timed_out(mine, theirs):
            continue
        compared += 1
        if (_verdict_public(mine), round(mine.preview, 6)) != (_verdict_grader(theirs), round(theirs["points"], 6)):
            problems.append(f"{item_id}: public {mine.status} {mine.preview:g}, grader {theirs['status']} "
                            f"{theirs['points']:g}")
        named = sorted({m for m in mine.messages if m.startswith("Likely misconception")})
        if named != sorted({m for m in theirs["feedback"] if m.startswith("Likely misconception")}):
            (naming if student in NAMING_PENDING else problems).append(
                f"{item_id}: misconceptions named publicly {named}, by the grader "
                            f"{[m for m in theirs['feedback'] if m.startswith('Likely')]}")
        if _no_answer_lines(mine.messages) != _no_answer_lines(theirs["feedback"]):
            problems.append(f"{item_id}: public says {mine.messages}, the grader {theirs['feedback']}")
    assert not problems, "\n".join(problems)
    if naming:
        pytest.xfail("naming of mistakes differs (issue 13 follow-up): " + "; ".join(naming)[:300])
    if not _known(student, "*"):
        assert compared > 0, f"{student}: every item timed out on one side; nothing was compared"
