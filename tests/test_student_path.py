"""What a student does before submitting: `nbgrader validate` on their notebook."""

import json
from pathlib import Path

from autograder.config import REPO
from helpers import student_notebook


def validate(path: Path) -> dict:
    """nbgrader's validator, as the Validate button runs it: {} or {"failed": [...]}."""
    from nbgrader.validator import Validator

    return Validator().validate(str(path))


def test_validate_passes_a_finished_exercise_and_fails_a_blank_one(tmp_path):
    done = tmp_path / "done" / "activations.ipynb"
    done.parent.mkdir()
    done.write_text(json.dumps(student_notebook("01-activations", "activations")))
    blank = REPO / "exercises" / "01-activations" / "activations.ipynb"

    assert validate(done) == {}
    failed = validate(blank)["failed"]
    assert len(failed) == 8  # every test cell reports its failing checks
    assert all("Partial credit" in cell["error"] or "Error" in cell["error"] for cell in failed)
