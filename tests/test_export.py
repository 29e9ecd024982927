"""Grades into the platform's gradebook (autograder/export.py): a Canvas and a Moodle
download round-tripped through collect, grade and export, through the real pipeline."""

import csv
import json
import subprocess
import sys
import zipfile

from autograder import export, lms, pipeline
from autograder.mistakes import for_assignment
from helpers import student_notebook

A = "02-bptt"
NOTEBOOK = "bptt"
# Grace's answer has a known mistake: her grade differs from Ada's.
MISTAKE = next(m for m in for_assignment(A)[0] if m.name == "clip_rebinds_the_list")
SLIP = {MISTAKE.function: MISTAKE.code}


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def run_export(out, fmt, *extra):
    return subprocess.run(
        [sys.executable, "-m", "autograder", "export", "--assignment", A, "--out", str(out)]
        + ["--format", fmt, *extra],
        capture_output=True,
        text=True,
        cwd=pipeline.REPO,
    )


def test_a_canvas_download_comes_back_as_canvas_gradebook_import(tmp_path):
    answered = json.dumps(student_notebook(A, NOTEBOOK))
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"lovelaceada_1234_5678_{NOTEBOOK}.ipynb", answered)
        zf.writestr(f"turingalan_LATE_2345_6789_{NOTEBOOK}.ipynb", "{ not a notebook")
    lms.collect(archive, A, tmp_path / "subs")
    out = tmp_path / "out"
    pipeline.grade(A, tmp_path / "subs", out)

    run = run_export(out, "canvas", "--column", "Exercise 2: BPTT (4321)")
    assert run.returncode == 0, run.stderr
    rows = rows_of(out / "canvas-grades.csv")
    # Canvas's gradebook import: its five leading columns, the assignment, a points row.
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Exercise 2: BPTT (4321)",
    ]
    assert rows[1] == ["Points Possible", "", "", "", "", "30"]
    # Ada's row is matched by her Canvas user id, from the download's file name.
    assert rows[2:] == [["lovelaceada", "1234", "", "", "", "30"]]
    # Alan could not be graded: listed, not given 0.
    assert "turingalan_2345: not graded" in run.stdout
    assert "1 student(s) without a grade" in run.stdout


def test_a_moodle_download_comes_back_as_moodle_grading_worksheet(tmp_path):
    download = tmp_path / "moodle"
    for folder, notebook in [
        ("Ada Lovelace_1234_assignsubmission_file_", student_notebook(A, NOTEBOOK)),
        ("Grace Hopper_3456_assignsubmission_file_", student_notebook(A, NOTEBOOK, SLIP)),
    ]:
        (download / folder).mkdir(parents=True)
        (download / folder / f"{NOTEBOOK}.ipynb").write_text(json.dumps(notebook))
    lms.collect(download, A, tmp_path / "subs")
    # A student graded from another source has no Moodle id: left out, and said so.
    (tmp_path / "subs" / "walk-in" / A).mkdir(parents=True)
    (tmp_path / "subs" / "walk-in" / A / f"{NOTEBOOK}.ipynb").write_text(
        json.dumps(student_notebook(A, NOTEBOOK))
    )
    out = tmp_path / "out"
    pipeline.grade(A, tmp_path / "subs", out)

    path, left_out = export.export(A, out, "moodle")
    rows = rows_of(path)
    # What Moodle's "Upload grading worksheet" needs: Identifier, Grade, Last modified (grade).
    assert rows[0] == [
        "Identifier",
        "Full name",
        "Grade",
        "Maximum Grade",
        "Last modified (grade)",
    ]
    grace = next(r for r in rows_of(out / "grades.csv") if r[0] == "grace-hopper_3456")[2]
    assert float(grace) < 30
    assert [row[:4] for row in rows[1:]] == [
        ["Participant 1234", "Ada Lovelace", "30", "30"],
        ["Participant 3456", "Grace Hopper", grace, "30"],
    ]
    assert all(row[4].startswith("20") for row in rows[1:])  # a date Moodle can parse
    assert left_out == ["walk-in: no Moodle id in roster.csv (no grade written)"]

    path, left_out = export.export(A, out, "csv")
    assert rows_of(path)[1:] == [
        ["ada-lovelace_1234", "moodle", "1234", "Ada Lovelace", "30", "30"],
        ["grace-hopper_3456", "moodle", "3456", "Grace Hopper", grace, "30"],
        ["walk-in", "", "", "", "30", "30"],
    ]
    assert left_out == []


def test_a_later_collect_adds_to_the_roster_and_forgets_nobody(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / f"lovelaceada_1234_5678_{NOTEBOOK}.ipynb").write_text("{}")
    (second / f"turingalan_2345_6789_{NOTEBOOK}.ipynb").write_text("{}")
    lms.collect(first, A, tmp_path / "subs")
    lms.collect(second, A, tmp_path / "subs")
    roster = lms.read_roster(tmp_path / "subs" / lms.ROSTER)
    assert roster == {
        "lovelaceada_1234": lms.Identity("canvas", "1234", "lovelaceada"),
        "turingalan_2345": lms.Identity("canvas", "2345", "turingalan"),
    }
