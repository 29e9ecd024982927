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
def test_validate_passes_a_finished_exercise_and_fails_a_blank_one(tmp_path, assignment):
    notebook = EXERCISE_SPECS[assignment].notebook
    done = tmp_path / "done" / f"{notebook}.ipynb"
    done.parent.mkdir()
    done.write_text(json.dumps(student_notebook(assignment, notebook)))
    blank = REPO / "exercises" / assignment / f"{notebook}.ipynb"

    assert validate(done) == {}
    failed = validate(blank)["failed"]
    assert len(failed) == len(grade_cells(assignment))  # every test cell reports its failures
    assert all("Partial credit" in cell["error"] or "Error" in cell["error"] for cell in failed)


@pytest.mark.parametrize("assignment", list(EXERCISE_SPECS))
def test_release_runs_top_to_bottom_and_says_what_is_missing(assignment):
    """A student's first "Run All" in a real kernel: no cell raises, and every test cell
    prints its score (zero) and says which function is not written yet."""
    import nbformat
    from nbclient import NotebookClient

    notebook = EXERCISE_SPECS[assignment].notebook
    path = REPO / "exercises" / assignment / f"{notebook}.ipynb"
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert f"0 of {meta['points']:g} points" in text, (meta["grade_id"], text)
        assert "not implemented yet" in text, (meta["grade_id"], text)
        assert all(o.get("name") != "stderr" for o in cell.outputs), meta["grade_id"]
