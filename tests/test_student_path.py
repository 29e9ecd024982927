"""What a student does before submitting: `nbgrader validate` on their notebook."""

import json
from pathlib import Path

import pytest

from autograder.config import REPO
from autograder.pipeline import grade_cells
from helpers import EXERCISE_SPECS, student_notebook


def validate(path: Path) -> dict:
    """nbgrader's validator, as the Validate button runs it: {} or {"failed": [...]}."""
    from nbgrader.validator import Validator

    return Validator().validate(str(path))


@pytest.mark.parametrize("assignment", list(EXERCISE_SPECS))
def test_validate_passes_a_finished_exercise(tmp_path, assignment):
    notebook = EXERCISE_SPECS[assignment].notebook
    done = tmp_path / f"{notebook}.ipynb"
    done.write_text(json.dumps(student_notebook(assignment, notebook)))
    assert validate(done) == {}


def test_validate_fails_a_blank_exercise_in_every_test_cell():
    """One chapter here; for every chapter, test_student_edition.py's run of the release
    finds each test cell failed by the rule that the validator applies."""
    assignment = "02-bptt"
    blank = REPO / "exercises" / assignment / f"{EXERCISE_SPECS[assignment].notebook}.ipynb"
    failed = validate(blank)["failed"]
    assert len(failed) == len(grade_cells(assignment))  # every test cell reports its failures
    assert all("Partial credit" in cell["error"] or "Error" in cell["error"] for cell in failed)
