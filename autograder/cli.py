"""Command line: `python -m autograder release|grade ...`."""

import argparse
import sys
from pathlib import Path

from autograder import pipeline
from autograder.config import CELL_TIMEOUT, MEMORY_LIMIT, NOTEBOOK_TIMEOUT


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser(
        "toc", help="write _toc.yml and the introduction's table from course.toml (the chapters)"
    )

    book = commands.add_parser(
        "execute-book", help="run the chapters the book's cache lacks, several at a time"
    )
    book.add_argument("--jobs", type=int, default=None, help="pages at once (default: cores)")
    commands.add_parser(
        "student-edition",
        help="write dist/student/ and dist/rnncourse-student.zip: the exercises and the "
        "helper package's wheel, without the solutions",
    )

    rel = commands.add_parser("release", help="write exercises/ from solutions/")
    rel.add_argument("--assignment", help="one assignment (default: all)")

    col = commands.add_parser(
        "collect", help="turn an LMS bulk download (Canvas, Moodle; folder or .zip) into DIR"
    )
    col.add_argument("--assignment", required=True)
    col.add_argument("--download", required=True, type=Path, help="the folder or .zip")
    col.add_argument("--to", required=True, type=Path, help="DIR for `grade --submissions`")

    exp = commands.add_parser(
        "export",
        help="write OUT's grades in a platform's import format: canvas (gradebook import), "
        "moodle (grading worksheet) or csv",
    )
    exp.add_argument("--assignment", required=True)
    exp.add_argument("--out", required=True, type=Path, help="the OUT of `grade`")
    exp.add_argument("--format", required=True, choices=("canvas", "moodle", "csv"))
    exp.add_argument(
        "--column",
        help="Canvas: the assignment column's header, as in Canvas's own gradebook export, "
        "e.g. 'Exercise 2 (12345)', to update that assignment (default: the assignment's "
        "name, which Canvas imports as a new assignment)",
    )

    grd = commands.add_parser("grade", help="autograde a folder of submissions")
    grd.add_argument("--assignment", required=True)
    grd.add_argument(
        "--submissions",
        required=True,
        type=Path,
        help="folder laid out as <student_id>/<assignment>/<notebook>.ipynb",
    )
    grd.add_argument(
        "--out", required=True, type=Path, help="where grades.csv and feedback/ are written"
    )
    grd.add_argument(
        "--workers",
        type=int,
        default=None,
        help="notebooks graded at once, each in its own process (default: one per CPU core)",
    )
    grd.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="grade on this running Dask cluster instead of local processes; its workers must "
        "see this course folder and --out at the same paths (a shared file system), and the "
        "scheduler and workers run with PYTHONPATH set to the course folder (README: 'A class "
        "that outgrows one machine')",
    )
    grd.add_argument(
        "--db",
        metavar="URL",
        help="gradebook database, e.g. postgresql://USER@HOST/DBNAME (password in ~/.pgpass "
        "or PGPASSWORD); a run first clears this assignment from it "
        "(default: SQLite in OUT/_nbgrader)",
    )

    grd.add_argument(
        "--cell-timeout",
        type=int,
        default=CELL_TIMEOUT,
        help=f"seconds one cell may run before it is interrupted (default {CELL_TIMEOUT})",
    )
    grd.add_argument(
        "--notebook-timeout",
        type=int,
        default=NOTEBOOK_TIMEOUT,
        help=f"seconds a whole notebook may run in the sandbox (default {NOTEBOOK_TIMEOUT})",
    )
    grd.add_argument(
        "--memory-limit",
        type=float,
        default=MEMORY_LIMIT / 2**30,
        help="GiB of memory a sandboxed kernel may use on a CPU grader (default %(default)g)",
    )

    grd.add_argument(
        "--restart",
        action="store_true",
        help="grade every notebook again (default: a re-run grades only new or changed "
        "submissions, and resumes an interrupted grading)",
    )

    args = parser.parse_args(argv)
    if args.command == "toc":
        from autograder import course

        changed = course.write_table_of_contents()
        what = "written" if changed else "unchanged"
        print(f"{course.TOC.name} and the introduction's table of chapters: {what}")
    elif args.command == "execute-book":
        from autograder import book

        book.execute(args.jobs)
    elif args.command == "student-edition":
        from autograder import student_edition

        archive = student_edition.write()
        print(f"{student_edition.EDITION}/ and {archive} written")
    elif args.command == "release":
        for name in [args.assignment] if args.assignment else pipeline.assignments():
            pipeline.release(name)
            print(f"released {name} into exercises/{name}")
        # Students' notebooks name known mistakes from their fingerprints (never their code).
        from autograder import fingerprints

        report = fingerprints.write(pipeline.assignments())
        for name, (diagnosable, known) in report.items():
            print(f"{name}: {diagnosable} of {known} known mistakes diagnosable from outputs")
    elif args.command == "collect":
        from autograder import lms

        copied, skipped = lms.collect(args.download, args.assignment, args.to)
        for line in copied:
            print(f"  {line}")
        for line in skipped:
            print(f"  skipped {line}")
        print(f"{len(copied)} notebook(s) collected into {args.to}; {len(skipped)} file(s) skipped")
    elif args.command == "export":
        from autograder import export

        path, left_out = export.export(args.assignment, args.out, args.format, args.column)
        for line in left_out:
            print(f"  {line}")
        print(f"{path} written; {len(left_out)} student(s) without a grade in it")
    elif args.command == "grade":
        limits = pipeline.Limits(
            cell_timeout=args.cell_timeout,
            notebook_timeout=args.notebook_timeout,
            memory_bytes=int(args.memory_limit * 2**30),
        )
        try:
            pipeline.grade(
                args.assignment,
                args.submissions,
                args.out,
                workers=args.workers,
                limits=limits,
                scheduler=args.scheduler,
                db=args.db,
                restart=args.restart,
            )
        except pipeline.Interrupted as stop:  # Ctrl-C: one line, and the shell's status for it
            print(stop, file=sys.stderr)
            return 130
        except KeyboardInterrupt:
            print("interrupted; run the same command to resume", file=sys.stderr)
            return 130
    return 0
