"""Nothing lost: one grading at a time per output folder, and a record per graded student.

A grading holds an exclusive lock on OUT/.grading.lock: a second grading of the same
folder waits for the first to finish (and then finds its work done). Each student's
outcome is recorded in OUT/_nbgrader/graded/ as soon as their notebook and feedback are
written, under a fingerprint of everything the grade depends on: the submitted files,
the solution notebooks, the hidden checks, the grading code and the limits. A re-run
skips students whose record matches (an interrupted grading resumes where it stopped,
an unchanged class is not graded twice) and grades the others again, so a grade is
never lost and never counted twice; grades.csv is rebuilt from all of them each time.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import sys
from pathlib import Path

from autograder.config import REPO, SOLUTIONS

# Everything whose change must make every grade be computed again.
GRADING_CODE = ["autograder/*.py", "solutions/*/*_hidden_checks.py", "rnncourse/*.py"]


@contextlib.contextmanager
def exclusive(out: Path):
    """Hold OUT/.grading.lock for the duration; wait (and say so) if another has it."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".grading.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another grading of {out} to finish...", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def course_fingerprint(assignment: str, settings: str) -> str:
    """A digest of the solution notebooks, the grading code and `settings`."""
    digest = hashlib.sha256(settings.encode())
    files = sorted((SOLUTIONS / assignment).glob("*.ipynb"))
    for pattern in GRADING_CODE:
        files += sorted(REPO.glob(pattern))
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode() + path.read_bytes())
    return digest.hexdigest()


def submission_fingerprint(folder: Path, course: str) -> str:
    digest = hashlib.sha256(course.encode())
    for path in sorted(folder.glob("*.ipynb")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


class Records:
    """The outcome of each graded student, kept in `root`/graded/<student>.json."""

    def __init__(self, root: Path, assignment: str):
        self.folder = root / "graded" / assignment
        self.folder.mkdir(parents=True, exist_ok=True)

    def empty(self) -> bool:
        return not any(self.folder.glob("*.json"))

    def get(self, student: str, fingerprint: str):
        path = self.folder / f"{student}.json"
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):  # none yet, or cut short by a kill
            return None
        return tuple(record["outcome"]) if record.get("fingerprint") == fingerprint else None

    def put(self, student: str, fingerprint: str, outcome) -> None:
        """Write atomically: a kill leaves the old record or the new one, never half."""
        path = self.folder / f"{student}.json"
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps({"fingerprint": fingerprint, "outcome": list(outcome)}))
        os.replace(partial, path)
