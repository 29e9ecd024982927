"""Nothing lost (autograder/resume.py): re-runs are idempotent, an interrupted grading
resumes without losing or duplicating a grade, and two gradings of one folder at once
do not corrupt it. Real processes, real kernels, real kills."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from autograder import pipeline
from autograder.mistakes import for_assignment
from helpers import student_notebook, write_submission

A, NB = "01-activations", "activations"
MISTAKE = for_assignment(A)[0][0]


def grade_command(subs, out):
    return [
        sys.executable,
        *("-m", "autograder", "grade", "--assignment", A, "--workers", "1"),
        *("--submissions", str(subs), "--out", str(out)),
    ]


def env():
    return {**os.environ, "PYTHONPATH": str(pipeline.REPO)}


def rows(out):
    with open(out / "grades.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def graded_once(tmp_path_factory):
    """(submissions, output) of a class of four, graded once from nothing."""
    subs = tmp_path_factory.mktemp("resume-subs")
    write_submission(subs, "a-reference", A, NB, student_notebook(A, NB))
    wrong = student_notebook(A, NB, {MISTAKE.function: MISTAKE.code})
    write_submission(subs, "b-mistake", A, NB, wrong)
    release = (pipeline.EXERCISES / A / f"{NB}.ipynb").read_text()
    write_submission(subs, "c-release", A, NB, release)
    write_submission(subs, "d-reference", A, NB, student_notebook(A, NB))
    out = tmp_path_factory.mktemp("resume-out")
    pipeline.grade(A, subs, out, workers=2)
    return subs, out


def test_a_rerun_keeps_every_grade_and_grades_nothing_again(graded_once, capsys):
    subs, out = graded_once
    before = (out / "grades.csv").read_text()
    capsys.readouterr()
    pipeline.grade(A, subs, out, workers=2)
    assert "4 submission(s) unchanged since the last run: kept" in capsys.readouterr().err
    assert (out / "grades.csv").read_text() == before


def test_a_changed_submission_is_graded_again(graded_once, tmp_path, capsys):
    subs, out = graded_once
    copy_subs, copy_out = tmp_path / "subs", tmp_path / "out"
    shutil.copytree(subs, copy_subs)
    shutil.copytree(out, copy_out)
    wrong = student_notebook(A, NB, {MISTAKE.function: MISTAKE.code})
    write_submission(copy_subs, "a-reference", A, NB, wrong)
    capsys.readouterr()
    pipeline.grade(A, copy_subs, copy_out, workers=2)
    assert "3 submission(s) unchanged" in capsys.readouterr().err
    new, old = rows(copy_out), rows(out)
    assert new[0]["score"] == old[1]["score"] != old[0]["score"]  # now graded as the mistake
    assert new[1:] == old[1:]


def test_an_interrupted_grading_resumes_without_losing_or_duplicating(graded_once, tmp_path):
    subs, out = graded_once
    target = tmp_path / "out"
    grading = subprocess.Popen(
        grade_command(subs, target),
        env=env(),
        cwd=pipeline.REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    records = target / "_nbgrader" / "graded" / A
    deadline = time.monotonic() + 240
    while not list(records.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(grading.pid, signal.SIGKILL)  # the grader, its workers and their kernels
    grading.wait()
    kept = len(list(records.glob("*.json")))
    assert 1 <= kept < 4, "the kill came too late to interrupt anything"
    assert not (target / "grades.csv").exists()

    again = subprocess.run(
        grade_command(subs, target), env=env(), cwd=pipeline.REPO, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{kept} submission(s) unchanged" in again.stderr
    assert rows(target) == rows(out)


def test_two_gradings_of_one_folder_at_once_do_not_corrupt_it(graded_once, tmp_path):
    subs, out = graded_once
    target = tmp_path / "out"
    first, second = (
        subprocess.Popen(
            grade_command(subs, target),
            env=env(),
            cwd=pipeline.REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    )
    results = [p.communicate(timeout=600) for p in (first, second)]
    assert first.returncode == second.returncode == 0, [err[-2000:] for _, err in results]
    assert any("waiting for another grading" in err for _, err in results)
    assert any("4 submission(s) unchanged" in err for _, err in results)
    assert rows(target) == rows(out)
