"""The student corpus: every file graded through the CLI earns its intended points, item by item.

``tests/corpus/`` holds realistic submissions (correct answers in many forms, every named
misconception of SPEC section 3, broken and partial files) and ``expected.json``: for each
student id (file stem), the points each rubric item should earn, the misconceptions that
must be named on an item, and, where given, statuses and feedback phrases. The intended
points were derived from the mathematics, file by file, not copied from the grader.

The whole corpus is graded in one CLI run, shared by every test of this module.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.judging.misconceptions import CATALOGUE
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))["students"]
STUDENTS = sorted(EXPECTED)
RUBRIC = load_rubric()
ITEM_IDS = [item.id for item in RUBRIC.items]
PART_OF = {item.id: item.part for item in RUBRIC.items}
TOLERANCE = 1e-9

#: SPEC section 3: the misconceptions the grader must recognise and name.
SPEC_MISCONCEPTIONS = (
    "no_bias_correction", "bias_correction_power_t_minus_1", "bias_correction_one_minus_beta_power",
    "only_m_corrected", "only_v_corrected", "bias_correction_multiplied", "eps_inside_sqrt",
    "eps_hat_tensorflow", "sqrt_of_square_as_identity", "eps_dropped", "ema_weights_swapped",
    "betas_swapped", "v_from_g_not_g_squared", "sqrt_split_over_sum", "stale_moments_in_w3",
    "ascent_sign_error", "damped_momentum", "adam_exactly_scale_invariant", "bound_alpha_over_eps",
    "bound_sqrt_eps", "bound_uses_raw_m",
)


@pytest.fixture(scope="session")
def graded_corpus(corpus_output):
    """Reports (by student id) and grades.csv rows of one CLI run over the whole corpus."""
    out = corpus_output
    reports = {}
    for path in sorted((out / "reports").glob("*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        reports[report["student"]] = report
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    return reports, rows


def _items(report: dict) -> dict:
    return {item["id"]: item for item in report["items"]}


def _report(graded_corpus, student: str) -> dict:
    reports, _ = graded_corpus
    assert student in reports, f"no report for {student}"
    return reports[student]


# ---------------------------------------------------------------------------
# The corpus itself
# ---------------------------------------------------------------------------

def test_every_corpus_file_has_intended_scores_and_vice_versa():
    files = {path.stem for path in CORPUS.iterdir() if path.suffix in (".py", ".ipynb")}
    assert files == set(EXPECTED)
    assert len(files) >= 40


@pytest.mark.parametrize("student", STUDENTS)
def test_intended_scores_list_every_rubric_item_within_its_points(student):
    intended = EXPECTED[student]
    assert list(intended["items"]) == ITEM_IDS
    for item in RUBRIC.items:
        assert 0 <= intended["items"][item.id] <= item.points, item.id
    assert intended["total"] == pytest.approx(sum(intended["items"].values()))
    assert set(intended["misconceptions"]) <= set(ITEM_IDS)
    assert all(ident in CATALOGUE for names in intended["misconceptions"].values() for ident in names)


def test_corpus_names_every_misconception_of_the_spec_somewhere():
    named = {ident for intended in EXPECTED.values() for names in intended["misconceptions"].values()
             for ident in names}
    assert set(SPEC_MISCONCEPTIONS) <= named, sorted(set(SPEC_MISCONCEPTIONS) - named)


def test_corpus_has_correct_partial_and_broken_submissions():
    totals = [intended["total"] for intended in EXPECTED.values()]
    assert sum(total == 15 for total in totals) >= 10
    assert sum(0 < total < 15 for total in totals) >= 20
    assert sum(total == 0 for total in totals) >= 3


# ---------------------------------------------------------------------------
# Grading the corpus: item by item
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("student", STUDENTS)
def test_every_item_earns_its_intended_points(graded_corpus, student):
    items = _items(_report(graded_corpus, student))
    wrong = {item_id: (items[item_id]["points"], intended)
             for item_id, intended in EXPECTED[student]["items"].items()
             if abs(items[item_id]["points"] - intended) > TOLERANCE}
    assert not wrong, "item: (graded, intended) " + json.dumps(
        {k: [got, want, items[k]["feedback"]] for k, (got, want) in wrong.items()}, indent=1)


@pytest.mark.parametrize("student", STUDENTS)
def test_intended_misconceptions_are_named_on_their_items(graded_corpus, student):
    items = _items(_report(graded_corpus, student))
    missing = {item_id: sorted(set(names) - set(items[item_id]["misconceptions"]))
               for item_id, names in EXPECTED[student]["misconceptions"].items()}
    assert not any(missing.values()), {k: v for k, v in missing.items() if v}


@pytest.mark.parametrize("student", [s for s in STUDENTS if "not_named" in EXPECTED[s]])
def test_contradicted_misconceptions_are_not_named(graded_corpus, student):
    items = _items(_report(graded_corpus, student))
    wrongly_named = {item_id: sorted(set(names) & set(items[item_id]["misconceptions"]))
                     for item_id, names in EXPECTED[student]["not_named"].items()}
    assert not any(wrongly_named.values()), wrongly_named


@pytest.mark.parametrize("student", STUDENTS)
def test_no_misconception_is_named_on_a_fully_correct_item(graded_corpus, student):
    named_on_full_marks = {item["id"]: item["misconceptions"] for item in _report(graded_corpus, student)["items"]
                           if item["points"] >= item["max_points"] and item["misconceptions"]}
    assert not named_on_full_marks


@pytest.mark.parametrize("student", STUDENTS)
def test_named_misconceptions_come_with_their_explanation(graded_corpus, student):
    for item in _report(graded_corpus, student)["items"]:
        for ident in item["misconceptions"]:
            assert any(CATALOGUE[ident].title in line for line in item["feedback"]), (item["id"], ident)


@pytest.mark.parametrize("student", [s for s in STUDENTS if "statuses" in EXPECTED[s] or "feedback" in EXPECTED[s]])
def test_statuses_and_feedback_say_what_happened(graded_corpus, student):
    items = _items(_report(graded_corpus, student))
    for item_id, status in EXPECTED[student].get("statuses", {}).items():
        assert items[item_id]["status"] == status, item_id
    for item_id, phrases in EXPECTED[student].get("feedback", {}).items():
        text = "\n".join(items[item_id]["feedback"])
        for phrase in phrases:
            assert phrase in text, (item_id, phrase, text)


@pytest.mark.parametrize("student", STUDENTS)
def test_status_follows_the_points(graded_corpus, student):
    for item in _report(graded_corpus, student)["items"]:
        if item["points"] >= item["max_points"]:
            assert item["status"] == "passed", item["id"]
        elif item["points"] > 0:
            assert item["status"] == "partial", item["id"]
        else:
            assert item["status"] in ("failed", "not_attempted", "error", "timeout"), item["id"]


# ---------------------------------------------------------------------------
# Totals, parts and the class CSV
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("student", STUDENTS)
def test_total_and_part_sums_match_the_items(graded_corpus, student):
    report = _report(graded_corpus, student)
    intended = EXPECTED[student]
    assert report["total"] == pytest.approx(intended["total"])
    assert report["max_total"] == 15
    for part in report["parts"]:
        part_items = [i for i in ITEM_IDS if PART_OF[i] == part["id"]]
        assert part["points"] == pytest.approx(sum(intended["items"][i] for i in part_items)), part["id"]
        assert part["points"] == pytest.approx(sum(_items(report)[i]["points"] for i in part_items))
    assert report["total"] == pytest.approx(sum(part["points"] for part in report["parts"]))


@pytest.mark.parametrize("student", STUDENTS)
def test_class_csv_row_holds_the_same_points(graded_corpus, student):
    _, rows = graded_corpus
    row = rows[student]
    intended = EXPECTED[student]
    assert float(row["total"]) == pytest.approx(intended["total"])
    for item_id in ITEM_IDS:
        assert float(row[item_id]) == pytest.approx(intended["items"][item_id]), item_id


# ---------------------------------------------------------------------------
# The student's public checks name the same mistakes as the report
# ---------------------------------------------------------------------------

#: Real-world files whose mistakes show at the public points as at the hidden ones. Part 3's
#: items are left out: there the grader also uses what it named on the student's own
#: optimizers (2.1), which one public check alone cannot see.
SAME_NAMES = ("r01_counter_never_incremented", "r02_counter_incremented_before_use",
              "r04_no_correction_and_eps_inside", "r06_ascent_and_damped_momentum",
              "r07_ema_swapped_in_m_only", "r08_float32_everywhere", "r13_closed_forms_off_by_one")


def _titles_in(lines) -> set[str]:
    named = [line for line in lines if line.startswith("Likely ")]
    return {ident for ident, entry in CATALOGUE.items() for line in named if f"{entry.title}" in line}


@pytest.mark.parametrize("student", SAME_NAMES)
def test_public_checks_name_what_the_report_names(graded_corpus, student, tmp_path):
    preview = tmp_path / "preview.json"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    f"--submission={CORPUS / (student + '.py')}", f"--preview-json={preview}"],
                   cwd=ROOT / "assignment", capture_output=True, text=True, timeout=600)
    public = {r["item"]: r for r in json.loads(preview.read_text(encoding="utf-8"))["items"]}
    compared = 0
    for item in _report(graded_corpus, student)["items"]:
        if item["id"].startswith("3") or item["points"] >= item["max_points"]:
            continue
        if public[item["id"]]["status"] != "failed":
            continue
        assert _titles_in(public[item["id"]]["messages"]) == set(item["misconceptions"]), item["id"]
        compared += 1
    assert compared
