"""Chapter 1 exercise, graded through the real nbgrader pipeline (see conftest.py)."""

import html
import re

import pytest

from autograder.mistakes import for_assignment
from autograder.pipeline import grade_cells
from helpers import solution_lines

ASSIGNMENT = "01-activations"
MISTAKES, ALTERNATIVES = for_assignment(ASSIGNMENT)
CELLS = {f"{nb}:{gid}": points for nb, gid, points in grade_cells(ASSIGNMENT)}


def scores(row):
    return {cell: float(row[cell]) for cell in CELLS}


def test_reference_solution_gets_full_marks(graded_class):
    rows, _ = graded_class
    assert scores(rows["reference"]) == CELLS
    assert float(rows["reference"]["score"]) == sum(CELLS.values()) == 48


def test_release_gets_zero_without_crashing(graded_class):
    rows, _ = graded_class
    assert rows["release"]["status"] == "graded"
    assert set(scores(rows["release"]).values()) == {0.0}


def test_correct_alternatives_keep_full_marks(graded_class):
    rows, _ = graded_class
    assert scores(rows["alternatives"]) == CELLS


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_each_mistake_loses_points_in_its_own_cell_only(graded_class, mistake):
    rows, _ = graded_class
    got = scores(rows[f"mistake.{mistake.name}"])
    target = f"activations:{mistake.test_cell}"
    assert got[target] < CELLS[target], f"{mistake.name} kept full marks in {target}"
    others = {cell: got[cell] for cell in CELLS if cell != target}
    assert others == {cell: CELLS[cell] for cell in others}


def test_broken_and_empty_submissions_score_zero_with_a_reason(graded_class):
    rows, _ = graded_class
    for student in ("broken-json", "empty-folder"):
        assert float(rows[student]["score"]) == 0
    assert "unreadable activations.ipynb" in rows["broken-json"]["status"]
    assert rows["empty-folder"]["status"] == "not graded: no readable notebook submitted"


def test_deleted_test_cells_are_restored_and_run(graded_class):
    rows, _ = graded_class
    assert scores(rows["deleted-test-cells"]) == CELLS


def test_invalid_student_folder_is_skipped(graded_class):
    rows, _ = graded_class
    assert "bad name!" not in rows


def test_feedback_has_check_report_but_no_hidden_tests(graded_class):
    _, out = graded_class
    page = (out / "feedback" / "reference" / ASSIGNMENT / "activations.html").read_text()
    assert "sigmoid and sigmoid_grad: 8 of 8 points" in page
    assert "BEGIN HIDDEN TESTS" not in page
    assert "hidden_checks" not in page


def test_grades_csv_has_one_column_per_graded_cell(graded_class):
    _, out = graded_class
    header = (out / "grades.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["student_id", "assignment", "score", "max_score"]
    assert header[4:-1] == list(CELLS)


def test_every_mistake_is_named_once():
    names = [m.name for m in MISTAKES]
    assert len(names) == len(set(names))
    assert {m.test_cell for m in MISTAKES} == {cell.split(":")[1] for cell in CELLS}


def test_a_missing_function_costs_its_own_cell_only(graded_class):
    rows, _ = graded_class
    got = scores(rows["renamed-function"])
    assert got["activations:test_sigmoid"] == 0
    assert {c: p for c, p in got.items() if c != "activations:test_sigmoid"} == {
        c: p for c, p in CELLS.items() if c != "activations:test_sigmoid"
    }


def test_no_feedback_page_shows_hidden_test_code(graded_class):
    _, out = graded_class
    pages = list((out / "feedback").rglob("*.html"))
    assert len(pages) > len(MISTAKES)
    hidden = [line for line in solution_lines(ASSIGNMENT) if "checks" in line]
    assert hidden
    for page in pages:
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        for line in hidden:
            assert line not in text, f"{page.parent.parent.name}: hidden test shown: {line}"
