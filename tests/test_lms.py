"""Collecting a learning platform's bulk download (autograder/lms.py), zip included."""

import os
import stat
import subprocess
import sys
import zipfile

from autograder import lms, pipeline

A = "01-activations"


def test_canvas_zip_and_moodle_folder_become_nbgrader_layout(tmp_path):
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("lovelaceada_1234_5678_activations.ipynb", "{}")
        zf.writestr("turingalan_LATE_2345_6789_activations-1.ipynb", "{}")  # resubmitted
        zf.writestr("hopper_3456_7890_notes.txt", "not a notebook")
        zf.writestr("../escape_4567_8901_activations.ipynb", "{}")  # zip slip
        link = zipfile.ZipInfo("link_5678_9012_activations.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    copied, skipped = lms.collect(archive, A, tmp_path / "subs")
    assert sorted(
        p.relative_to(tmp_path / "subs").as_posix() for p in (tmp_path / "subs").rglob("*.ipynb")
    ) == [
        f"lovelaceada_1234/{A}/activations.ipynb",
        f"turingalan_2345/{A}/activations.ipynb",
    ]
    assert len(copied) == 2
    assert any("notes.txt: not a notebook" in s for s in skipped)
    assert sum("unsafe path" in s for s in skipped) == 2
    assert not (tmp_path / "escape_4567_8901_activations.ipynb").exists()

    moodle = tmp_path / "moodle"
    (moodle / "Ada Lovelace_1234_assignsubmission_file_").mkdir(parents=True)
    (moodle / "Ada Lovelace_1234_assignsubmission_file_" / "activations.ipynb").write_text("{}")
    copied, _ = lms.collect(moodle, A, tmp_path / "subs2")
    assert (tmp_path / "subs2" / "ada-lovelace_1234" / A / "activations.ipynb").exists()
    # Every id it makes is one the grader accepts.
    for folder in (tmp_path / "subs").iterdir():
        assert pipeline.STUDENT_ID.match(folder.name)


def test_collect_command_reports_what_it_did(tmp_path):
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "lovelaceada_1234_5678_activations.ipynb").write_text("{}")
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "collect", "--assignment", A]
        + ["--download", str(tmp_path / "dl"), "--to", str(tmp_path / "subs")],
        capture_output=True,
        text=True,
        cwd=pipeline.REPO,
    )
    assert run.returncode == 0, run.stderr
    assert "1 notebook(s) collected" in run.stdout


def _entry(name: str, when: tuple) -> zipfile.ZipInfo:
    return zipfile.ZipInfo(name, date_time=(2026, 12, *when, 0))


def test_the_newest_attempt_is_graded_and_the_others_are_reported(tmp_path):
    """Canvas names resubmissions `-1`, `-2`: the highest attempt wins, whatever the order of
    the names (`bptt-1.ipynb` sorts before `bptt.ipynb`); the others are listed, not lost."""
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(_entry("x_7_300_activations-1.ipynb", (2, 10, 0)), '{"attempt": 1}')
        zf.writestr(_entry("x_7_300_activations.ipynb", (1, 10, 0)), '{"attempt": 0}')
        zf.writestr(_entry("x_LATE_7_301_activations-2.ipynb", (3, 9, 0)), '{"attempt": 2}')
        zf.writestr(_entry("y_8_302_activations.ipynb", (1, 10, 0)), '{"only": 1}')
    subs = tmp_path / "subs"
    copied, skipped = lms.collect(archive, A, subs)
    assert (subs / "x_7" / A / "activations.ipynb").read_text() == '{"attempt": 2}'
    assert (subs / "y_8" / A / "activations.ipynb").read_text() == '{"only": 1}'
    assert any("activations-2.ipynb" in c and "newest of 3 attempts" in c for c in copied)
    older = [s for s in skipped if "older attempt" in s]
    assert len(older) == 2 and all("not graded" in s for s in older), skipped
    assert any("x_7_300_activations.ipynb" in s for s in older)

    # A second collect into the same folder says what it replaced.
    copied, _ = lms.collect(archive, A, subs)
    assert all("replaced" in line for line in copied)


def test_a_browser_copy_and_a_later_file_are_newer_attempts(tmp_path):
    """`activations (1).ipynb` is a browser's second download: a later attempt. Without
    attempt numbers, the later file time decides (Moodle folders, nbgrader's layout)."""
    moodle = tmp_path / "moodle" / "Ada Lovelace_1234_assignsubmission_file_"
    moodle.mkdir(parents=True)
    (moodle / "activations.ipynb").write_text('{"first": 1}')
    (moodle / "activations (1).ipynb").write_text('{"second": 1}')
    copied, _ = lms.collect(tmp_path / "moodle", A, tmp_path / "subs")
    assert (tmp_path / "subs" / "ada-lovelace_1234" / A / "activations.ipynb").read_text() == (
        '{"second": 1}'
    )
    # Two uploads of one name (a file and an online-text submission): the later one.
    for kind, when in (("file", 2_000_000_000), ("onlinetext", 1_000_000_000)):
        folder = tmp_path / "moodle2" / f"Alan Turing_42_assignsubmission_{kind}_"
        folder.mkdir(parents=True)
        (folder / "activations.ipynb").write_text(f'{{"{kind}": 1}}')
        os.utime(folder / "activations.ipynb", (when, when))
    copied, skipped = lms.collect(tmp_path / "moodle2", A, tmp_path / "subs2")
    assert (tmp_path / "subs2" / "alan-turing_42" / A / "activations.ipynb").read_text() == (
        '{"file": 1}'
    )
    assert [s for s in skipped if "onlinetext" in s and "older attempt" in s], skipped
