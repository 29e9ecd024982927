"""Turn a learning platform's bulk download into the folder `grade` reads.

    python -m autograder collect --assignment 01-activations --download DOWNLOAD --to DIR

DOWNLOAD is a folder or a .zip file as the platform gives it:

- Canvas ("Download Submissions"): flat files named
  `<name>_[LATE_]<user id>_<submission id>_<file name>`, the file name sometimes with a
  `-1`, `-2` suffix for a resubmission;
- Moodle ("Download all submissions"): one folder per student, named
  `<Full Name>_<id>_assignsubmission_file_` (or flat files with that prefix);
- nbgrader's own layout, `<student id>/<assignment>/<notebook>.ipynb`, copied as is.

It writes `DIR/<student id>/<assignment>/<notebook>.ipynb` and returns what it did
and what it skipped (files that are not notebooks, unsafe paths in a zip, older
attempts). Nothing is executed or parsed here: `grade` reads the notebooks. Who each
student is on the platform (the name and id in the download's names) goes to
`DIR/roster.csv`, which `grade` copies next to the grades and `export` reads, so that the
grades go back into the platform's gradebook matched by its own ids.

A student with several attempts at one notebook (Canvas's `-1`, `-2` suffixes, a
browser's `bptt (1).ipynb`) has their newest graded: the highest attempt number, then
the platform's later submission (Canvas numbers them in order), then the later file
time (a zip's own dates are kept). The others are listed as not graded; a notebook that
an earlier `collect` wrote into DIR is replaced, and said so.
"""

import csv
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

# Who each student is on the platform, as collect read it (`export` reads it back).
ROSTER = "roster.csv"
ROSTER_COLUMNS = ["student_id", "platform", "platform_id", "name"]


@dataclass(frozen=True)
class Identity:
    platform: str  # canvas, moodle or nbgrader
    platform_id: str
    name: str


def read_roster(path: Path) -> dict[str, Identity]:
    if not Path(path).is_file():
        return {}
    with open(path, newline="") as f:
        return {
            row["student_id"]: Identity(row["platform"], row["platform_id"], row["name"])
            for row in csv.DictReader(f)
        }


def write_roster(path: Path, identities: dict[str, Identity]) -> None:
    """Merge `identities` into the roster at `path` (a later collect adds, never forgets)."""
    roster = read_roster(path) | identities
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(ROSTER_COLUMNS)
        for student, who in sorted(roster.items()):
            writer.writerow([student, who.platform, who.platform_id, who.name])


CANVAS = re.compile(
    r"^(?P<name>[^_]+)_(?:LATE_)?(?P<id>\d+)_(?P<submission>\d+)_(?P<file>.+)$", re.IGNORECASE
)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_(?P<file>.*)$")
# `activations-2` (Canvas's third attempt) or `activations (1)` (a browser's second download)
ATTEMPT = re.compile(r"^(?P<stem>.+?)(?:-(?P<dash>\d+)| ?\((?P<copy>\d+)\))$")


def student_id(name: str, number: str) -> str:
    """A folder-safe student id from a platform's name and number: `ada-lovelace_1234`."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "student"
    return f"{name[:60]}_{number}"


def notebook_name(file: str) -> tuple[str, int]:
    """(notebook, attempt): `activations-1.ipynb` -> (`activations.ipynb`, 1);
    `activations (2).ipynb` -> (`activations.ipynb`, 2); `activations.ipynb` -> 0."""
    stem = Path(file).stem
    match = ATTEMPT.match(stem)
    if not match:
        return f"{stem}.ipynb", 0
    return f"{match['stem']}.ipynb", int(match["dash"] or match["copy"])


def collect(download: Path, assignment: str, to: Path) -> tuple[list[str], list[str]]:
    """Copy the notebooks of `download` (folder or .zip) into `to` in nbgrader's layout,
    one per student and notebook: their newest attempt. Returns (what was copied, what
    was skipped), one line each."""
    download = Path(download)
    if download.suffix == ".zip":
        with tempfile.TemporaryDirectory() as tmp:
            skipped = _safe_extract(download, Path(tmp))
            copied, more = collect(Path(tmp), assignment, to)
            return copied, skipped + more
    attempts, skipped, identities = {}, [], {}
    for path in sorted(download.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        relative = path.relative_to(download)
        if path.suffix != ".ipynb":
            skipped.append(f"{relative}: not a notebook")
            continue
        identity = _identity_of(relative, assignment)
        if identity is None:
            skipped.append(f"{relative}: no student id in its name")
            continue
        student, identities[student] = identity
        name, attempt = notebook_name(_platform_file_name(relative.name))
        order = (attempt, _submission_number(relative.name), path.stat().st_mtime, str(relative))
        attempts.setdefault((student, name), []).append((order, relative, path))
    copied = []
    for (student, name), found in sorted(attempts.items()):
        found.sort()
        _, relative, path = found[-1]
        target = Path(to) / student / assignment / name
        replaced = target.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        line = f"{relative} -> {target.relative_to(to)}"
        if len(found) > 1:
            line += f" (the newest of {len(found)} attempts)"
        if replaced:
            line += " (replaced the copy an earlier collect wrote)"
        copied.append(line)
        skipped += [
            f"{older}: an older attempt than {relative}, not graded" for _, older, _ in found[:-1]
        ]
    if identities:
        Path(to).mkdir(parents=True, exist_ok=True)
        write_roster(Path(to) / ROSTER, identities)
    return copied, skipped


def _identity_of(relative: Path, assignment: str) -> tuple[str, Identity] | None:
    """(student id, who they are on the platform) from a file's path in the download."""
    parts = relative.parts
    if len(parts) == 3 and parts[1] == assignment:  # nbgrader's layout
        return parts[0], Identity("nbgrader", parts[0], parts[0])
    for part in (parts[0], relative.name):  # a Moodle folder, or a flat file
        for platform, pattern in (("moodle", MOODLE), ("canvas", CANVAS)):
            match = pattern.match(part)
            if match:
                student = student_id(match["name"], match["id"])
                return student, Identity(platform, match["id"], match["name"])
    return None


def _submission_number(name: str) -> int:
    """Canvas's submission number (later submissions have larger ones), else 0."""
    match = CANVAS.match(name)
    return int(match["submission"]) if match else 0


def _platform_file_name(name: str) -> str:
    for pattern in (MOODLE, CANVAS):
        match = pattern.match(name)
        if match and match["file"]:
            return match["file"]
    return name


def _safe_extract(archive: Path, into: Path) -> list[str]:
    """Extract only regular files whose paths stay inside `into`; list the others."""
    skipped = []
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (into / info.filename).resolve()
            if info.is_dir():
                continue
            is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
            if is_link or not target.is_relative_to(into.resolve()):
                skipped.append(f"{info.filename}: unsafe path in the archive, not extracted")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
            # The archive's date of the file, so that the later of two attempts is known.
            stamp = time.mktime((*info.date_time, 0, 0, -1))
            os.utime(target, (stamp, stamp))
    return skipped
