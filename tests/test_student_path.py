"""What a student does before submitting: `nbgrader validate` on their notebook. A
finished exercise passes here, for every chapter; that a blank one fails in every test
cell is proven in test_student_edition.py, through nbgrader's command for the first
chapter (`test_validate_prints_only_its_verdict`) and by the validator's own rule for
every chapter (`test_release_runs_top_to_bottom_and_says_what_is_missing`)."""

import json
from pathlib import Path

import pytest

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
