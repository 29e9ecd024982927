"""A submitted notebook, checked against the release before nbgrader sees it.

nbgrader trusts a notebook's metadata: which kernel runs it, which cells are graded and
for how many points. A student can change all of it, by accident (a copied test cell, a
notebook from another course) or not (a new locked cell worth 1000 points). Here, before
grading (`inspect`):

- the kernel is always the course's (the notebook's own choice is noted);
- a cell whose grade id is not one of the release's, or repeats one, loses its grading
  metadata (it runs as an ordinary cell) and is flagged: nothing but the course's own
  cells can score, so the maximum never grows;
- a locked cell that was edited or deleted is flagged (nbgrader restores it from the
  course's copy, so the grade is right; an instructor still wants to know who tried);
- a notebook in an older format (nbformat 3, converted on reading) is noted.

Notes say what was done; flags say what deserves a human look (grades.csv has both).
"""

import json
from functools import cache

from autograder.config import EXERCISES

NBGRADER = "nbgrader"
COURSE_KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


@cache
def release_cells(assignment: str, notebook: str) -> dict[str, dict]:
    """grade id -> the release's cell (metadata and source), for every nbgrader cell."""
    nb = json.loads((EXERCISES / assignment / f"{notebook}.ipynb").read_text())
    return {
        cell["metadata"][NBGRADER]["grade_id"]: cell
        for cell in nb["cells"]
        if NBGRADER in cell["metadata"]
    }


def inspect(nb, assignment: str, notebook: str, written_as: int = 4) -> tuple[list, list]:
    """Make `nb` (an nbformat 4 notebook, changed in place) safe to grade; (notes, flags)."""
    notes, flags = [], []
    if written_as != 4:
        notes.append(f"written in nbformat {written_as}: converted to nbformat 4 to be graded")
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != COURSE_KERNEL["name"]:
        notes.append(f"the notebook names the kernel {kernel!r}: graded with the course's Python")
    nb.metadata["kernelspec"] = dict(COURSE_KERNEL)

    release = release_cells(assignment, notebook)
    seen = set()
    for cell in nb.cells:
        meta = cell.metadata.get(NBGRADER)
        if meta is None:
            continue
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if grade_id not in release:
            points = meta.get("points", 0) if isinstance(meta, dict) else 0
            flags.append(
                f"a cell marked {grade_id!r} ({points} points) is not one of the course's: "
                "graded as an ordinary cell"
            )
            del cell.metadata[NBGRADER]
        elif grade_id in seen:
            flags.append(f"{grade_id} twice (a copied cell): the copy runs as an ordinary cell")
            del cell.metadata[NBGRADER]
        else:
            seen.add(grade_id)
            if _edited(cell, release[grade_id]):
                flags.append(
                    f"edited {_kind(release[grade_id])} {grade_id} (the course's restored)"
                )
    for grade_id, cell in release.items():
        if grade_id not in seen and cell["metadata"][NBGRADER].get("locked"):
            flags.append(f"deleted {_kind(cell)} {grade_id} (the course's restored)")
    return notes, flags


def _kind(release_cell: dict) -> str:
    meta = release_cell["metadata"][NBGRADER]
    return "test cell" if meta.get("grade") else "locked cell"


def _edited(cell, release_cell: dict) -> bool:
    """A locked cell whose code or text is not the release's (spacing at the ends aside)."""
    if not release_cell["metadata"][NBGRADER].get("locked"):
        return False
    return "".join(cell.source).strip() != "".join(release_cell["source"]).strip()
