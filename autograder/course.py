"""The course's chapters, read from `course.toml` (the one list of them), and what is
written from it: the table of contents that jupyter-book reads, and the table of chapters
in the book's introduction."""

import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from autograder.config import REPO, SOLUTIONS

MANIFEST = REPO / "course.toml"
TOC = REPO / "_toc.yml"
INTRO = REPO / "book" / "intro.md"
TABLE_START = "% The table below is written from course.toml by `python -m autograder toc`."
TABLE_END = "% (the end of the table written from course.toml)"


@dataclass(frozen=True)
class Chapter:
    slug: str  # "01-activations": the folder name under book/, solutions/, exercises/
    title: str
    part: str  # the table of contents' caption it is listed under
    page: str  # the chapter's page under book/, without ".md"
    notebook: str  # the exercise notebook's name, and the name of its modules
    points: int  # the exercise's total
    outcomes: str  # what the reader will be able to do, for the introduction's table
    reading: str  # reading time, for the introduction's table ("45 min")
    exercise: str  # time for the exercise, for the introduction's table ("60–90 min")

    @property
    def exercise_page(self) -> str:
        return f"exercises/{self.slug}/{self.notebook}"

    @property
    def hidden_checks(self) -> str:
        """The module of checks its hidden test cells import (solutions/<slug>/)."""
        return f"{self.notebook}_hidden_checks"

    @property
    def mistakes(self) -> str:
        """The module of its known mistakes and correct alternatives (solutions/<slug>/)."""
        return f"{self.notebook}_mistakes"


def make_exercise_modules_importable() -> None:
    """Let the grader import each exercise's own modules by name (`from
    bptt_hidden_checks import ...`, as hidden test cells do): its folder under solutions/
    goes first on this process's import path, so that no file of the same name elsewhere
    (in the folder the grader was started from, say) can stand in for them. Those folders
    hold only notebooks and these modules. Only the grader's processes call this; a
    student's kernel never sees solutions/."""
    for found in chapters():
        folder = str(SOLUTIONS / found.slug)
        if folder not in sys.path:
            sys.path.insert(0, folder)


@cache
def chapters(manifest: Path = MANIFEST) -> tuple[Chapter, ...]:
    entries = tomllib.loads(Path(manifest).read_text())["chapter"]
    found = tuple(Chapter(**entry) for entry in entries)
    slugs = [c.slug for c in found]
    if len(set(slugs)) != len(slugs):
        raise ValueError(f"{manifest}: a slug listed twice")
    return found


def chapter(slug: str) -> Chapter:
    for found in chapters():
        if found.slug == slug:
            return found
    raise KeyError(f"{slug!r} is not a chapter of {MANIFEST.name}")


def table_of_contents(manifest: Path = MANIFEST) -> str:
    """_toc.yml: the student guide, then one part per caption, each chapter followed by
    its exercise (the student release)."""
    lines = [
        "# Written by `python -m autograder toc` from course.toml: edit that, not this.",
        "format: jb-book",
        "root: book/intro",
        "parts:",
        "  - caption: Before you start",
        "    chapters:",
        "      - file: book/student-guide",
    ]
    part = None
    for found in chapters(manifest):
        if found.part != part:
            part = found.part
            lines += [f"  - caption: {part}", "    chapters:"]
        lines += [
            f"      - file: book/{found.page}",
            "        sections:",
            f"          - file: {found.exercise_page}",
        ]
    return "\n".join(lines) + "\n"


def chapter_table(manifest: Path = MANIFEST) -> str:
    """The introduction's table: a row per chapter, in reading order."""
    lines = [
        "| Chapter | What you will be able to do | Reading | Exercise |",
        "| --- | --- | --- | --- |",
    ]
    for number, found in enumerate(chapters(manifest), 1):
        lines.append(
            f"| {number}. {found.title} | {found.outcomes} | {found.reading} | {found.exercise} |"
        )
    return "\n".join(lines)


def introduction(manifest: Path = MANIFEST) -> str:
    """book/intro.md with its table of chapters (between TABLE_START and TABLE_END)
    written from the manifest."""
    text = INTRO.read_text()
    start, end = text.index(TABLE_START), text.index(TABLE_END)
    return f"{text[:start]}{TABLE_START}\n{chapter_table(manifest)}\n{text[end:]}"


def write_table_of_contents() -> bool:
    """Write _toc.yml and the introduction's table where they differ (an unchanged file
    keeps its time: the book's incremental build depends on it); whether one changed."""
    changed = False
    for path, text in ((TOC, table_of_contents()), (INTRO, introduction())):
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed = True
    return changed
