"""nbgrader's own exchange, end to end on one machine, into `python -m autograder grade`:
the instructor releases, a student fetches, answers and submits, the instructor collects
and grades (README: "A term with nbgrader's exchange"). Real nbgrader commands."""

import csv
import json
import subprocess
import sys
from pathlib import Path

from autograder.config import REPO
from helpers import EXERCISE_SPECS, student_notebook

A = "01-activations"
NB = EXERCISE_SPECS[A].notebook
NBGRADER = Path(sys.executable).parent / "nbgrader"


def nbgrader(*args: str, cwd: Path) -> str:
    run = subprocess.run([str(NBGRADER), *args], cwd=cwd, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout + run.stderr


def test_release_fetch_submit_collect_then_grade(tmp_path):
    exchange, course, home = tmp_path / "exchange", tmp_path / "course", tmp_path / "home"
    exchange.mkdir(mode=0o777)
    exchange.chmod(0o777)  # every student's user writes into it
    home.mkdir()
    course.mkdir()  # nbgrader creates the gradebook there, not the folder
    shared = [f"--Exchange.root={exchange}", "--CourseDirectory.course_id=rnncourse"]
    instructor = [
        *shared,
        f"--CourseDirectory.root={course}",
        f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}",
    ]

    # From the course folder (its nbgrader_config.py releases exercises/).
    nbgrader("release_assignment", A, *instructor, cwd=REPO)
    nbgrader("fetch_assignment", A, *shared, cwd=home)
    fetched = home / A / f"{NB}.ipynb"
    fetched.write_text(json.dumps(student_notebook(A, NB)))  # the student's work
    nbgrader("submit", A, *shared, cwd=home)
    nbgrader("collect", A, *instructor, cwd=REPO)
    (submitted,) = (course / "submitted").glob(f"*/{A}/{NB}.ipynb")

    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder", "grade", "--assignment", A]
    command += ["--submissions", str(course / "submitted"), "--out", str(out)]
    graded = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert graded.returncode == 0, graded.stderr
    with open(out / "grades.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert row["student_id"] == submitted.parent.parent.name
    assert float(row["score"]) == EXERCISE_SPECS[A].points, row
    assert (out / "feedback" / row["student_id"] / A / f"{NB}.html").exists()
