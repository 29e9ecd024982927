"""Collecting a learning platform's bulk download (autograder/lms.py), zip included."""

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
