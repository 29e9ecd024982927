"""A new chapter is one entry in course.toml and the chapter's own files, nothing else
(README: "Adding a chapter"). The recipe, followed in a temporary copy of the repository:
the copy writes its table of contents, releases the exercise without its solution,
builds the chapter's pages with the course's configuration, and grades the reference, a
known mistake and a correct alternative through the real pipeline."""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from autograder.config import REPO
from autograder.course import chapters
from autograder.mistakes import replace_function

SLUG, NOTEBOOK = "09-doubling", "doubling"

MANIFEST_ENTRY = f"""
[[chapter]]
slug = "{SLUG}"
title = "Doubling"
part = "Projects"
page = "{SLUG}/doubling"
notebook = "{NOTEBOOK}"
points = 4
outcomes = "double every entry of a tensor"
reading = "5 min"
exercise = "10 min"
"""

PAGE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Doubling

After this chapter you will be able to double every entry of a tensor.

```{code-cell} python
import torch

print(2 * torch.arange(3))
```
"""

SOLUTION = '''def double(x):
    """Every entry of x times two."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION'''

TEST = """checks = Checks("double", points=4)
x = torch.tensor([1.0, 2.0])
checks.check("double(1, 2) is (2, 4)", 1, lambda: expect_close(double(x), torch.tensor([2.0, 4.0])))
checks.diagnose("double", globals())
### BEGIN HIDDEN TESTS
from doubling_hidden_checks import double_checks

double_checks(checks, double)
### END HIDDEN TESTS
checks.score()"""

HIDDEN_CHECKS = '''"""Hidden checks of the doubling exercise."""

import torch

from rnncourse.checks import Checks, expect_close


def double_checks(checks: Checks, fn) -> None:
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)
    checks.check("matches x + x in float64", 3, lambda: expect_close(fn(x), x + x, inputs=x))
'''

PROBES = '''"""Probes of the doubling exercise: see rnncourse/diagnosis.py."""

import torch

PROBES = {"double": lambda fn: (fn(torch.linspace(-2, 2, 5, dtype=torch.float64)),)}
'''

MISTAKES = '''"""Known mistakes and correct alternatives of the doubling exercise."""

from autograder.mistakes import Mistake

MISTAKES = [
    Mistake("double_drops_the_sign", "double", "test_double",
            "def double(x):\\n    return 2 * x.abs()\\n", "keep the sign: 2 * x, not 2 * |x|"),
]
ALTERNATIVES = {"double": "def double(x):\\n    return x + x\\n"}
'''


def cell(kind, source, grade_id, **nbgrader):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    meta = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3}
    meta = {**meta, "solution": False, **nbgrader}
    return make(source, metadata={"nbgrader": meta})


def solution_notebook() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    setup = "import torch\n\nfrom rnncourse.checks import Checks, expect_close"
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Exercise 9: doubling"),
        cell("code", setup, "setup", locked=True),
        cell("code", SOLUTION, "impl_double", solution=True),
        cell("code", TEST, "test_double", grade=True, locked=True, points=4),
    ]
    return notebook


def add_the_chapter(course: Path) -> None:
    """The recipe: a manifest entry, then the chapter's own files."""
    with open(course / "course.toml", "a") as manifest:
        manifest.write(MANIFEST_ENTRY)
    (course / "book" / SLUG).mkdir()
    (course / "book" / SLUG / "doubling.md").write_text(PAGE)
    (course / "solutions" / SLUG).mkdir()
    nbformat.write(solution_notebook(), course / "solutions" / SLUG / f"{NOTEBOOK}.ipynb")
    (course / "solutions" / SLUG / f"{NOTEBOOK}_hidden_checks.py").write_text(HIDDEN_CHECKS)
    (course / "solutions" / SLUG / f"{NOTEBOOK}_mistakes.py").write_text(MISTAKES)
    (course / "rnncourse" / "probes" / f"{NOTEBOOK}.py").write_text(PROBES)


def run(course: Path, *args: str) -> str:
    done = subprocess.run(args, cwd=course, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A copy of the repository's files (as git sees them), with the chapter added."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    course = tmp_path_factory.mktemp("new-chapter") / "course"
    for name in filter(None, files):
        if (REPO / name).is_file():
            (course / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, course / name)
    add_the_chapter(course)
    run(course, sys.executable, "-m", "autograder", "toc")
    run(course, sys.executable, "-m", "autograder", "release", "--assignment", SLUG)
    return course


def test_the_table_of_contents_and_the_introduction_list_the_chapter(course):
    toc = (course / "_toc.yml").read_text()
    assert f"file: book/{SLUG}/doubling" in toc
    assert f"file: exercises/{SLUG}/{NOTEBOOK}" in toc
    intro = (course / "book" / "intro.md").read_text()
    number = len(chapters()) + 1  # after every chapter of the course
    assert f"| {number}. Doubling | double every entry of a tensor | 5 min | 10 min |" in intro


def test_the_release_keeps_the_exercise_and_drops_its_solution(course):
    known = json.loads((course / "rnncourse" / "known_mistakes.json").read_text())
    assert [e["mistakes"] for e in known["double"]] == [["double_drops_the_sign"]]
    released = (course / "exercises" / SLUG / f"{NOTEBOOK}.ipynb").read_text()
    assert "def double(x):" in released and "NotImplementedError" in released
    assert "return 2 * x" not in released and "double_checks" not in released
    # Its hidden checks and mistakes stay beside the solution: nbgrader copies a source
    # folder's other files into the release unless told not to.
    assert sorted(p.name for p in (course / "exercises" / SLUG).iterdir()) == [f"{NOTEBOOK}.ipynb"]


def test_the_chapter_builds_with_the_course_configuration(course):
    """Its page (executed) and its exercise, as a book of their own: the course's
    _config.yml, warnings as errors."""
    toc = {
        "format": "jb-book",
        "root": f"book/{SLUG}/doubling",
        "chapters": [{"file": f"exercises/{SLUG}/{NOTEBOOK}"}],
    }
    (course / "_toc_new_chapter.yml").write_text(yaml.safe_dump(toc))
    jupyter_book = str(Path(sys.executable).parent / "jupyter-book")
    run(course, jupyter_book, "build", "--warningiserror", "--toc", "_toc_new_chapter.yml", ".")
    page = (course / "_build" / "html" / "book" / SLUG / "doubling.html").read_text()
    assert "tensor([0, 2, 4])" in page  # the page's code ran
    assert (course / "_build" / "html" / "exercises" / SLUG / f"{NOTEBOOK}.html").is_file()


def test_the_exercise_is_graded_through_the_real_pipeline(course, tmp_path):
    released = json.loads((course / "exercises" / SLUG / f"{NOTEBOOK}.ipynb").read_text())
    answers = {
        "reference": "def double(x):\n    return 2 * x\n",
        "mistake": "def double(x):\n    return 2 * x.abs()\n",  # the bank's known mistake
        "alternative": "def double(x):\n    return x + x\n",
        "forger": "def double(x):\n    return 2 * x.abs()\n",  # and a module, below
    }
    for student, code in answers.items():
        notebook = json.loads(json.dumps(released))
        for c in notebook["cells"]:
            if c["metadata"].get("nbgrader", {}).get("grade_id") == "impl_double":
                c["source"] = replace_function("".join(c["source"]), "double", code)
        folder = tmp_path / "in" / student / SLUG
        folder.mkdir(parents=True)
        (folder / f"{NOTEBOOK}.ipynb").write_text(json.dumps(notebook))
    # An attack: hidden checks of the student's own, under the real module's name, that
    # pass anything, beside the notebook and in the folder the grader is started from. The
    # grader must import its own (and never hand either to a kernel).
    forged = "def double_checks(checks, fn):\n    checks.check('forged', 3, lambda: None)\n"
    (tmp_path / "in" / "forger" / SLUG / f"{NOTEBOOK}_hidden_checks.py").write_text(forged)
    (course / f"{NOTEBOOK}_hidden_checks.py").write_text(forged)
    out = tmp_path / "out"
    run(
        course,
        sys.executable,
        "-m",
        "autograder",
        "grade",
        "--assignment",
        SLUG,
        "--submissions",
        str(tmp_path / "in"),
        "--out",
        str(out),
    )
    with open(out / "grades.csv") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert scores == {"reference": 4.0, "mistake": 1.0, "alternative": 4.0, "forger": 1.0}
    # Neither the release the grader makes nor a graded submission's folder (where its
    # kernel runs) holds the grader's modules.
    assert not [p for p in out.rglob("*.py") if p.name.startswith(NOTEBOOK)]
    # The probe named the known mistake in the student's feedback.
    feedback = (out / "feedback" / "mistake" / SLUG / f"{NOTEBOOK}.html").read_text()
    assert "keep the sign: 2 * x, not 2 * |x|" in feedback
