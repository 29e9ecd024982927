"""Benchmark: our grader against stock nbgrader, on the same class, on this machine.

    .venv/bin/python benchmarks/grading.py [--students 60] [--workers N]

Builds a class in a temporary folder: for every assignment, students who hand
in the reference solution, a known mistake (partly wrong), the blank release,
or a broken file, in turn. Then grades each assignment twice, one after the other
(so that both graders meet the same load on a busy machine):

- stock: nbgrader's own `autograde` with its default settings, one notebook
  after another, as `nbgrader autograde ASSIGNMENT` runs it;
- ours: `python -m autograder grade` (guarded, sandboxed kernels where the machine
  allows, the checker, feedback pages, grades.csv and the summary), `--workers`
  notebooks at a time. It does not run the code cells after a notebook's last graded
  cell (they cannot change a score; every exercise ends with an ungraded "try it"
  cell, and in 03, 07 and 08 that cell trains a model); stock nbgrader runs them.

Prints the seconds per assignment, notebooks per minute for both and their
ratios. Machines are noisy: run it a few times and compare ratios, not absolute
numbers.
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the tests' helpers build the class

from nbgrader.apps import NbGraderAPI  # noqa: E402
from traitlets.config import Config  # noqa: E402

from autograder import pipeline  # noqa: E402
from autograder.config import CELL_TIMEOUT  # noqa: E402
from autograder.mistakes import for_assignment  # noqa: E402
from helpers import EXERCISE_SPECS, student_notebook, write_submission  # noqa: E402


def make_class(root: Path, students: int, assignments: list[str]) -> int:
    """Write `students` submissions per assignment; return the number of notebooks."""
    count = 0
    for assignment in assignments:
        spec = EXERCISE_SPECS[assignment]
        mistakes, _ = for_assignment(assignment)
        release = (pipeline.EXERCISES / assignment / f"{spec.notebook}.ipynb").read_text()
        for i in range(students):
            kind = i % 4
            if kind == 0:
                content = student_notebook(assignment, spec.notebook)
            elif kind == 1:
                mistake = mistakes[i % len(mistakes)]
                content = student_notebook(
                    assignment, spec.notebook, {mistake.function: mistake.code}
                )
            elif kind == 2:
                content = release
            else:
                content = '{"cells": ['
            write_submission(root, f"s{i:03d}", assignment, spec.notebook, content)
            count += 1
    return count


def stock_config(root: Path) -> Config:
    """nbgrader's defaults: only the folders, and the course's cell time limit (so that
    both graders run the same cells to the end)."""
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.source_directory = str(pipeline.SOLUTIONS)
    c.Execute.timeout = CELL_TIMEOUT
    c.NbGraderAPI.log_level = "WARN"
    return c


def grade_stock(submissions: Path, work: Path, assignment: str) -> None:
    """nbgrader's autograde over every submission, one after another, with its defaults."""
    root = work / assignment
    for student in sorted(submissions.iterdir()):
        shutil.copytree(student / assignment, root / "submitted" / student.name / assignment)
    api = NbGraderAPI(config=stock_config(root))
    generated = api.generate_assignment(assignment, force=True)
    if not generated["success"]:
        raise SystemExit(f"stock nbgrader could not generate {assignment}: {generated['log']}")
    for student in sorted(p.name for p in (root / "submitted").iterdir()):
        api.autograde(assignment, student, force=True, create=True)


def grade_ours(submissions: Path, work: Path, assignment: str, workers: int | None) -> None:
    """`python -m autograder grade`, as an instructor runs it."""
    command = [sys.executable, "-m", "autograder", "grade", "--assignment", assignment]
    command += ["--submissions", str(submissions), "--out", str(work / assignment)]
    if workers:
        command += ["--workers", str(workers)]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)


def stock_scores(work: Path, assignment: str) -> dict[str, float]:
    """Each student's total in stock nbgrader's gradebook (0 where it graded nothing)."""
    from nbgrader.api import Gradebook, MissingEntry

    students = sorted(p.name for p in (work / assignment / "submitted").iterdir())
    scores = {}
    with Gradebook(f"sqlite:///{work / assignment / 'gradebook.db'}") as gradebook:
        for student in students:
            try:
                scores[student] = gradebook.find_submission(assignment, student).score
            except MissingEntry:
                scores[student] = 0.0
    return scores


def our_scores(work: Path, assignment: str) -> dict[str, float]:
    with open(work / assignment / "grades.csv") as f:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}


def main() -> None:
    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's, harmless
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--assignments", nargs="*", default=list(EXERCISE_SPECS))
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = str(REPO)
    # nbgrader runs `alembic` and `jupyter` from this Python's folder.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    times = {}  # (grader, assignment) -> seconds
    differ = {}  # assignment -> students whose totals differ between the two graders
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        notebooks = make_class(tmp / "submissions", args.students, args.assignments)
        for assignment in args.assignments:  # side by side, assignment by assignment
            submissions = tmp / "submissions"
            start = time.perf_counter()
            grade_stock(submissions, tmp / "stock", assignment)
            times["stock", assignment] = time.perf_counter() - start
            start = time.perf_counter()
            grade_ours(submissions, tmp / "ours", assignment, args.workers)
            times["ours", assignment] = time.perf_counter() - start
            theirs = stock_scores(tmp / "stock", assignment)
            ours = our_scores(tmp / "ours", assignment)
            differ[assignment] = sorted(s for s in theirs if theirs[s] != ours.get(s))
    cores = os.cpu_count()
    print(
        f"{notebooks} notebooks ({args.students} students x {len(args.assignments)} "
        f"assignments), {cores} cores, workers={args.workers or cores}"
    )
    print(f"  {'assignment':20s} {'stock s':>8s} {'ours s':>8s} {'speed-up':>8s}  grades")
    for assignment in args.assignments:
        stock, ours = times["stock", assignment], times["ours", assignment]
        same = "identical" if not differ[assignment] else "DIFFER: " + " ".join(differ[assignment])
        print(f"  {assignment:20s} {stock:8.1f} {ours:8.1f} {stock / ours:7.2f}x  {same}")
    total = {name: sum(t for (n, _), t in times.items() if n == name) for name in ("stock", "ours")}
    for name, seconds in total.items():
        print(f"  {name:8s} {seconds:7.1f} s   {notebooks / seconds * 60:6.1f} notebooks/min")
    print(f"  speed-up: {total['stock'] / total['ours']:.2f}x")
    print(json.dumps({f"{n} {a}": round(t, 1) for (n, a), t in times.items()}))


if __name__ == "__main__":
    main()
