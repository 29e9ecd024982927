"""The student release: regenerated exactly by nbgrader, and free of solutions and hidden tests."""

import html
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from autograder import student_edition
from autograder.config import EXERCISES, REPO, SOLUTIONS
from autograder.pipeline import assignments, release
from helpers import load, solution_lines

BUILD = REPO / "_build" / "html"
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def committed(path: Path) -> bytes:
    """The file as committed, so a `make release` in this tree cannot hide a stale copy."""
    try:
        return subprocess.run(
            ["git", "show", f"HEAD:{path.relative_to(REPO)}"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return path.read_bytes()  # not a git checkout: compare with the working copy


@pytest.mark.parametrize("assignment", assignments())
def test_committed_release_equals_a_fresh_release(assignment, tmp_path):
    release(assignment, exercises=tmp_path / "exercises", workdir=tmp_path / "work")
    fresh = sorted(
        p.relative_to(tmp_path / "exercises")
        for p in (tmp_path / "exercises").rglob("*")
        if p.is_file()
    )
    ours = sorted(
        p.relative_to(EXERCISES) for p in (EXERCISES / assignment).rglob("*") if p.is_file()
    )
    assert fresh == ours, "run `make release` and commit exercises/"
    # The exercise's hidden checks and mistakes, beside its solution, are never released.
    assert all(name.suffix == ".ipynb" for name in fresh), fresh
    for name in fresh:
        assert (tmp_path / "exercises" / name).read_bytes() == committed(EXERCISES / name), (
            f"exercises/{name} is stale: run `make release` and commit it"
        )


def test_every_assignment_has_graded_cells_and_clean_notebooks():
    for assignment in assignments():
        for path in (SOLUTIONS / assignment).glob("*.ipynb"):
            cells = load(path)["cells"]
            assert any(c["metadata"].get("nbgrader", {}).get("grade") for c in cells)
            assert not any(c.get("outputs") for c in cells), f"{path} has stored outputs"


def test_release_has_no_markers_and_no_solution_lines():
    text = "\n".join(p.read_text() for p in EXERCISES.rglob("*.ipynb"))
    for marker in MARKERS:
        assert marker not in text
    for assignment in assignments():
        for line in solution_lines(assignment):
            assert json_escape(line) not in text, f"solution or hidden test leaked: {line}"


def test_built_book_has_no_solution_lines():
    pages = list(BUILD.rglob("*.html"))
    assert pages, "the book is not built: run `make book` first (make test does)"
    text = html.unescape("\n".join(re.sub(r"<[^>]+>", "", p.read_text()) for p in pages))
    for marker in MARKERS:
        assert marker not in text
    for assignment in assignments():
        for line in solution_lines(assignment):
            assert line not in text, f"solution or hidden test leaked into the book: {line}"


def test_student_package_holds_no_hidden_checks():
    package = "\n".join(p.read_text() for p in (REPO / "rnncourse").rglob("*.py"))
    assert "hidden_checks" not in package and "BEGIN SOLUTION" not in package


def json_escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace('"', '\\"')


def test_built_book_offers_the_student_edition_and_nothing_of_the_grader():
    """The student guide's downloads (the edition's zip and wheel, copied into the book)."""
    downloads = [p for p in BUILD.rglob("*") if p.suffix in (".zip", ".whl")]
    assert sorted(p.name for p in downloads) == sorted(
        ["rnncourse-student.zip", student_edition.wheel_name()]
    ), "the book is not built, or offers other archives: run `make book`"
    solution = [line for a in assignments() for line in solution_lines(a)]
    for archive in downloads:
        with zipfile.ZipFile(archive) as files:
            for name in files.namelist():
                assert not any(part in name for part in ("solutions", "autograder", "hidden"))
                text = files.read(name).decode("utf-8", "replace")
                assert not any(marker in text for marker in MARKERS), name
                assert not any(json_escape(line) in text or line in text for line in solution)
