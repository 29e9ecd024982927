"""Notebooks that are not what the course handed out, graded through the real pipeline:
each is graded as far as it can be, with a status or a note an instructor understands, and
nothing a student writes into a notebook's metadata raises the maximum or picks the kernel.
"""

import copy
import csv
import json

import nbformat
import pytest

from autograder import pipeline
from helpers import EXERCISE_SPECS, student_notebook, write_submission

A = "01-activations"
NB = EXERCISE_SPECS[A].notebook
FULL = EXERCISE_SPECS[A].points
LIMITS = pipeline.Limits(cell_timeout=20, notebook_timeout=120, memory_bytes=3 * 2**30)


def reference() -> dict:
    return student_notebook(A, NB)


def grade_cell_index(nb: dict, grade_id: str) -> int:
    return next(
        i
        for i, c in enumerate(nb["cells"])
        if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id
    )


def copied_test_cell() -> dict:
    nb = reference()
    i = grade_cell_index(nb, "test_sigmoid")
    nb["cells"].insert(i + 1, copy.deepcopy(nb["cells"][i]))
    return nb


def a_cell_of_1000_points() -> dict:
    nb = reference()
    cell = nbformat.v4.new_code_cell("print('all good')")
    cell["metadata"]["nbgrader"] = {
        "grade": True,
        "grade_id": "bonus",
        "locked": True,
        "points": 1000,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    nb["cells"].append(cell)
    return nb


def another_kernel() -> dict:
    nb = reference()
    nb["metadata"]["kernelspec"] = {"name": "bash", "display_name": "Bash", "language": "bash"}
    return nb


def edited_test_cell() -> dict:
    nb = reference()
    i = grade_cell_index(nb, "test_sigmoid")
    nb["cells"][i]["source"] = "print('sigmoid and sigmoid_grad: 8 of 8 points')"
    return nb


def deleted_test_cell() -> dict:
    nb = reference()
    del nb["cells"][grade_cell_index(nb, "test_sigmoid")]
    return nb


def nbformat_3() -> str:
    return nbformat.writes(nbformat.convert(nbformat.from_dict(reference()), 3), version=3)


# student -> (notebook, full points?, words expected in notes, words expected in flags)
CLASS = {
    "copied-test-cell": (copied_test_cell, True, "", "test_sigmoid twice"),
    "cell-of-1000-points": (a_cell_of_1000_points, True, "", "'bonus'"),
    "another-kernel": (another_kernel, True, "kernel 'bash'", ""),
    "edited-test-cell": (edited_test_cell, True, "", "edited test cell test_sigmoid"),
    "deleted-test-cell": (deleted_test_cell, True, "", "deleted test cell test_sigmoid"),
    "nbformat-3": (nbformat_3, True, "nbformat 3", ""),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    subs = tmp_path_factory.mktemp("malformed-submissions")
    out = tmp_path_factory.mktemp("malformed-graded")
    for student, (make, *_) in CLASS.items():
        write_submission(subs, student, A, NB, make())
    pipeline.grade(A, subs, out, limits=LIMITS)
    with open(out / "grades.csv") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("student", list(CLASS))
def test_graded_as_far_as_it_can_be_never_above_the_maximum(graded, student):
    row = graded[student]
    _, full, _, _ = CLASS[student]
    assert row["status"] == "graded", row
    assert float(row["max_score"]) == FULL
    assert float(row["score"]) == (FULL if full else float(row["score"]))


@pytest.mark.parametrize("student", list(CLASS))
def test_what_was_wrong_is_said_in_words(graded, student):
    row = graded[student]
    _, _, note, flag = CLASS[student]
    assert note in row["notes"], row["notes"]
    assert flag in row["flags"], row["flags"]
    assert "KeyError" not in json.dumps(row)
    if not flag:
        assert row["flags"] == "", row["flags"]
