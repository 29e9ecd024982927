"""Grades in the learning platform's own import format, matched by the platform's ids.

    python -m autograder export --assignment A --out OUT --format canvas|moodle|csv

reads OUT/grades.csv (written by `grade`) and OUT/roster.csv (what `collect` read from the
platform's download: each student's name and platform id; `grade` copies it next to the
grades), and writes:

- canvas:  OUT/canvas-grades.csv, Canvas's gradebook import: the columns Student, ID,
           SIS User ID, SIS Login ID, Section, then one column for the assignment (its
           header as in Canvas's own export, `Name (assignment id)`, updates that
           assignment; any other header makes a new one), after a "Points Possible" row.
           Canvas matches rows by ID, the user id in the names of its download's files.
- moodle:  OUT/moodle-grades.csv, the assignment's grading worksheet as Moodle's "Upload
           grading worksheet" reads it: Identifier ("Participant N", N the number in the
           download's folder names), Full name, Grade, Maximum Grade, and Last modified
           (grade), which Moodle requires (a grade changed in Moodle after it is kept).
- csv:     OUT/grades-export.csv: student id, platform, platform id, name, score, maximum.

A student whose work could not be graded gets no grade in the file (the platform keeps
what it has) and is listed, as is one whose platform id is unknown: nobody is silently
given 0.
"""

import csv
import time
from pathlib import Path

from autograder.lms import ROSTER, Identity, read_roster

FORMATS = ("canvas", "moodle", "csv")


def export(assignment: str, out: Path, fmt: str, column: str | None = None):
    """Write the import file; return (its path, lines about students left out)."""
    out = Path(out)
    grades = out / "grades.csv"
    if not grades.is_file():
        raise SystemExit(f"{grades} not found: run `python -m autograder grade` first")
    with open(grades, newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["assignment"] == assignment]
    roster = read_roster(out / ROSTER)
    left_out = []
    graded = []
    for row in rows:
        student = row["student_id"]
        who = roster.get(student, Identity("", "", ""))
        if row["status"].startswith("not graded"):
            left_out.append(f"{student}: {row['status']} (no grade written)")
        elif fmt in ("canvas", "moodle") and who.platform != fmt:
            left_out.append(f"{student}: no {fmt.capitalize()} id in {ROSTER} (no grade written)")
        else:
            graded.append((student, who, row))
    maximum = rows[0]["max_score"] if rows else ""
    if fmt == "canvas":
        path = out / "canvas-grades.csv"
        header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column or assignment]
        lines = [header, ["Points Possible", "", "", "", "", maximum]]
        lines += [[who.name, who.platform_id, "", "", "", row["score"]] for _, who, row in graded]
    elif fmt == "moodle":
        path = out / "moodle-grades.csv"
        now = time.strftime("%Y-%m-%d %H:%M:%S")
        header = ["Identifier", "Full name", "Grade", "Maximum Grade", "Last modified (grade)"]
        lines = [header]
        lines += [
            [f"Participant {who.platform_id}", who.name, row["score"], maximum, now]
            for _, who, row in graded
        ]
    elif fmt == "csv":
        path = out / "grades-export.csv"
        lines = [["student_id", "platform", "platform_id", "name", "score", "max_score"]]
        lines += [
            [student, who.platform, who.platform_id, who.name, row["score"], row["max_score"]]
            for student, who, row in graded
        ]
    else:
        raise SystemExit(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(lines)
    return path, left_out
