"""Shared fixtures: one graded class per assignment, graded once through the real pipeline."""

import csv
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py

from autograder import pipeline  # noqa: E402
from autograder.mistakes import for_assignment  # noqa: E402
from helpers import student_notebook, write_submission  # noqa: E402

ASSIGNMENT = "01-activations"
NOTEBOOK = "activations"


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """Grade a whole class of chapter 1 submissions; return (rows by student, out dir)."""
    subs = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("graded")
    mistakes, alternatives = for_assignment(ASSIGNMENT)

    def submit(student, content):
        write_submission(subs, student, ASSIGNMENT, NOTEBOOK, content)

    submit("reference", student_notebook(ASSIGNMENT, NOTEBOOK))
    submit("alternatives", student_notebook(ASSIGNMENT, NOTEBOOK, alternatives))
    release = (pipeline.EXERCISES / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text()
    submit("release", release)
    for mistake in mistakes:
        submit(
            f"mistake.{mistake.name}",
            student_notebook(ASSIGNMENT, NOTEBOOK, {mistake.function: mistake.code}),
        )
    # Broken and tampered submissions: graded, never fatal.
    submit("broken-json", '{"cells": [')
    (subs / "empty-folder" / ASSIGNMENT).mkdir(parents=True)
    stripped = student_notebook(ASSIGNMENT, NOTEBOOK)
    stripped["cells"] = [
        c for c in stripped["cells"] if not c["metadata"].get("nbgrader", {}).get("grade")
    ]
    submit("deleted-test-cells", stripped)
    renamed = "def my_sigmoid(x):\n    return 1 / (1 + torch.exp(-x))\n"
    submit("renamed-function", student_notebook(ASSIGNMENT, NOTEBOOK, {"sigmoid": renamed}))
    (subs / "bad name!").mkdir()

    pipeline.grade(ASSIGNMENT, subs, out)
    with open(out / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    return rows, out
