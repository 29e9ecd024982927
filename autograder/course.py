"""The course's chapters, read from `course.toml` (the one list of them), and the table
of contents that jupyter-book reads, written from it."""

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from autograder.config import REPO

MANIFEST = REPO / "course.toml"
TOC = REPO / "_toc.yml"


@dataclass(frozen=True)
class Chapter:
    slug: str  # "01-activations": the folder name under book/, solutions/, exercises/
    title: str
    part: str  # the table of contents' caption it is listed under
    page: str  # the chapter's page under book/, without ".md"
    notebook: str  # the exercise notebook's name, and the name of its modules
    points: int  # the exercise's total

    @property
    def exercise_page(self) -> str:
        return f"exercises/{self.slug}/{self.notebook}"


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


def write_table_of_contents() -> bool:
    """Write _toc.yml where it differs (an unchanged file keeps its time: the book's
    incremental build depends on it); whether it changed."""
    text = table_of_contents()
    if TOC.exists() and TOC.read_text() == text:
        return False
    TOC.write_text(text)
    return True
