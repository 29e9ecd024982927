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
and what it skipped (files that are not notebooks, unsafe paths in a zip). Nothing
is executed or parsed here: `grade` reads the notebooks.
"""

import re
import shutil
import tempfile
import zipfile
from pathlib import Path

CANVAS = re.compile(r"^(?P<name>[^_]+)_(?:LATE_)?(?P<id>\d+)_\d+_(?P<file>.+)$", re.IGNORECASE)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_(?P<file>.*)$")
RESUBMISSION = re.compile(r"^(?P<stem>.+?)-\d+$")


def student_id(name: str, number: str) -> str:
    """A folder-safe student id from a platform's name and number: `ada-lovelace_1234`."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "student"
    return f"{name[:60]}_{number}"


def notebook_name(file: str) -> str:
    """`activations-1.ipynb` (a resubmission) -> `activations.ipynb`."""
    stem = Path(file).stem
    match = RESUBMISSION.match(stem)
    return f"{match['stem'] if match else stem}.ipynb"


def collect(download: Path, assignment: str, to: Path) -> tuple[list[str], list[str]]:
    """Copy the notebooks of `download` (folder or .zip) into `to` in nbgrader's layout.
    Returns (what was copied, what was skipped), one line each."""
    download = Path(download)
    if download.suffix == ".zip":
        with tempfile.TemporaryDirectory() as tmp:
            skipped = _safe_extract(download, Path(tmp))
            copied, more = collect(Path(tmp), assignment, to)
            return copied, skipped + more
    copied, skipped = [], []
    for path in sorted(download.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        relative = path.relative_to(download)
        if path.suffix != ".ipynb":
            skipped.append(f"{relative}: not a notebook")
            continue
        student = _student_of(relative, assignment)
        if student is None:
            skipped.append(f"{relative}: no student id in its name")
            continue
        name = notebook_name(_platform_file_name(relative.name))
        target = Path(to) / student / assignment / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copied.append(f"{relative} -> {target.relative_to(to)}")
    return copied, skipped


def _student_of(relative: Path, assignment: str) -> str | None:
    parts = relative.parts
    if len(parts) == 3 and parts[1] == assignment:  # nbgrader's layout
        return parts[0]
    for part in (parts[0], relative.name):  # a Moodle folder, or a flat file
        for pattern in (MOODLE, CANVAS):
            match = pattern.match(part)
            if match:
                return student_id(match["name"], match["id"])
    return None


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
    return skipped
