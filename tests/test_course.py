"""The chapter manifest (course.toml): the one list of chapters, and every file that
follows from it by rule."""

import ast
import json
import re

from autograder import course
from autograder.config import EXERCISES, REPO, SOLUTIONS
from autograder.pipeline import assignments


def test_the_manifest_lists_every_assignment_in_order():
    folders = sorted(p.name for p in SOLUTIONS.iterdir() if any(p.glob("*.ipynb")))
    assert [c.slug for c in course.chapters()] == assignments() == folders


def test_each_chapter_has_the_files_its_names_lead_to():
    for c in course.chapters():
        assert (REPO / "book" / f"{c.page}.md").is_file(), c.page
        assert (SOLUTIONS / c.slug / f"{c.notebook}.ipynb").is_file(), c.slug
        assert (EXERCISES / c.slug / f"{c.notebook}.ipynb").is_file(), c.slug
        assert (SOLUTIONS / c.slug / f"{c.hidden_checks}.py").is_file(), c.slug
        assert (SOLUTIONS / c.slug / f"{c.mistakes}.py").is_file(), c.slug


def test_each_exercise_totals_the_points_the_manifest_gives():
    for c in course.chapters():
        notebook = json.loads((SOLUTIONS / c.slug / f"{c.notebook}.ipynb").read_text())
        meta = [cell["metadata"].get("nbgrader", {}) for cell in notebook["cells"]]
        assert sum(m.get("points", 0) for m in meta if m.get("grade")) == c.points, c.slug


def test_the_table_of_contents_is_written_from_the_manifest():
    assert course.TOC.read_text() == course.table_of_contents(), "run: python -m autograder toc"


def test_the_introductions_table_of_chapters_is_written_from_the_manifest():
    assert course.INTRO.read_text() == course.introduction(), "run: python -m autograder toc"
    for c in course.chapters():
        assert f". {c.title} | {c.outcomes} |" in course.INTRO.read_text(), c.title


def test_a_new_chapter_is_one_entry(tmp_path):
    manifest = tmp_path / "course.toml"
    manifest.write_text(
        course.MANIFEST.read_text()
        + '\n[[chapter]]\nslug = "11-new"\ntitle = "New"\npart = "Projects"\n'
        'page = "11-new/new"\nnotebook = "new"\npoints = 10\noutcomes = "do new things"\n'
        'reading = "5 min"\nexercise = "10 min"\n'
    )
    toc = course.table_of_contents(manifest)
    assert toc.endswith(
        "      - file: book/11-new/new\n        sections:\n          - file: exercises/11-new/new\n"
    )
    assert toc.count("caption: Projects") == 1
    number = len(course.chapters()) + 1
    assert course.chapter_table(manifest).endswith(
        f"| {number}. New | do new things | 5 min | 10 min |"
    )


def test_known_mistakes_edit_the_reference_read_from_its_notebook():
    """The reference is written once, in the solution notebook: a module of known mistakes
    reads it (`autograder.mistakes.reference`) and never holds a copy of it."""
    for c in course.chapters():
        module = SOLUTIONS / c.slug / f"{c.mistakes}.py"
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                defined = re.search(r"^(?:def|class) (\w+)", str(node.value.value), re.M)
                assert not defined, f"{module.name} copies {defined[1]}: use reference(...)"
