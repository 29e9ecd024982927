"""Grading beyond one machine (autograder/scale.py): a Dask cluster, a PostgreSQL gradebook.

A small class of the fast exercise is graded locally (SQLite, local processes) once; the
same submissions graded on a real Dask cluster, or with the gradebook in a real
PostgreSQL server, must give the same grades.csv, byte for byte.

The PostgreSQL test needs a server: RNNCOURSE_TEST_PG_URL=postgresql://USER:PASS@HOST/DB
(.ci/run installs and starts one on loopback). Without it the test skips, unless
REQUIRE_POSTGRES=1 (as in .ci/run), where it fails.
"""

import csv
import os

import pytest

from autograder import pipeline
from autograder.mistakes import for_assignment
from helpers import EXERCISE_SPECS, student_notebook, write_submission

ASSIGNMENT = "01-activations"
NOTEBOOK = EXERCISE_SPECS[ASSIGNMENT].notebook
MISTAKE = for_assignment(ASSIGNMENT)[0][0]
GRADED = {"reference", "release", f"mistake.{MISTAKE.name}"}
PG_URL = os.environ.get("RNNCOURSE_TEST_PG_URL")


def rows(out):
    with open(out / "grades.csv") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def feedback_pages(out):
    return sorted(str(p.relative_to(out)) for p in (out / "feedback").rglob("*.html"))


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    """(submissions, local output): three notebooks and a broken one, graded locally."""
    subs = tmp_path_factory.mktemp("scale-submissions")
    write_submission(
        subs, "reference", ASSIGNMENT, NOTEBOOK, student_notebook(ASSIGNMENT, NOTEBOOK)
    )
    release = (pipeline.EXERCISES / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text()
    write_submission(subs, "release", ASSIGNMENT, NOTEBOOK, release)
    mistake = student_notebook(ASSIGNMENT, NOTEBOOK, {MISTAKE.function: MISTAKE.code})
    write_submission(subs, f"mistake.{MISTAKE.name}", ASSIGNMENT, NOTEBOOK, mistake)
    write_submission(subs, "broken", ASSIGNMENT, NOTEBOOK, '{"cells": [')

    out = tmp_path_factory.mktemp("scale-local")
    pipeline.grade(ASSIGNMENT, subs, out, workers=2)
    got = rows(out)
    # The comparisons below mean something only if the grades differ between students.
    assert float(got["reference"]["score"]) == EXERCISE_SPECS[ASSIGNMENT].points
    assert float(got["release"]["score"]) == 0
    assert 0 < float(got[f"mistake.{MISTAKE.name}"]["score"]) < EXERCISE_SPECS[ASSIGNMENT].points
    assert got["broken"]["status"].startswith("not graded")
    return subs, out


def test_dask_cluster_grades_like_local_processes(small_class, tmp_path, monkeypatch):
    from distributed import LocalCluster

    subs, local = small_class
    # The workers' kernels must get PYTHONPATH from the task, not from this process.
    monkeypatch.delenv("PYTHONPATH", raising=False)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        pipeline.grade(ASSIGNMENT, subs, tmp_path, scheduler=cluster.scheduler_address)
    assert (tmp_path / "grades.csv").read_text() == (local / "grades.csv").read_text()
    assert feedback_pages(tmp_path) == feedback_pages(local)
    assert len(feedback_pages(local)) == len(GRADED)


@pytest.fixture(scope="module")
def pg_url():
    if PG_URL:
        return PG_URL
    reason = "no PostgreSQL server: set RNNCOURSE_TEST_PG_URL=postgresql://USER:PASS@HOST/DB"
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


def test_postgresql_gradebook_grades_like_sqlite_and_reruns_clean(pg_url, small_class, tmp_path):
    from nbgrader.api import Gradebook

    subs, local = small_class
    expected = (local / "grades.csv").read_text()
    pipeline.grade(ASSIGNMENT, subs, tmp_path / "first", workers=2, db=pg_url)
    assert (tmp_path / "first" / "grades.csv").read_text() == expected
    assert not (tmp_path / "first" / "_nbgrader" / "gradebook.db").exists()
    assert feedback_pages(tmp_path / "first") == feedback_pages(local)

    # What a re-run must forget (an earlier submission of this assignment) and keep
    # (another assignment in the same database).
    with Gradebook(pg_url) as gradebook:
        gradebook.update_or_create_student("ghost")
        gradebook.update_or_create_submission(ASSIGNMENT, "ghost")
        gradebook.update_or_create_assignment("zz-other-assignment")

    pipeline.grade(ASSIGNMENT, subs, tmp_path / "second", workers=2, db=pg_url)
    assert (tmp_path / "second" / "grades.csv").read_text() == expected
    with Gradebook(pg_url) as gradebook:
        submitted = {s.student.id for s in gradebook.find_assignment(ASSIGNMENT).submissions}
        assert submitted == GRADED
        gradebook.find_assignment("zz-other-assignment")  # MissingEntry if a run removed it
