"""`make test-gpu`: every exercise's hidden checks and every chapter's code on a real GPU.

On a machine with CUDA it grades, through the real pipeline, each exercise's reference
solution and a sample of its known mistakes (tests/helpers.py: `sampled_mistakes`): the
hidden checks' GPU parts then run on the GPU, not on the simulated one. The reference
must earn full marks with no check NOT RUN, each mistake must lose points in its own
cell. It then executes every chapter page (their code computes on CUDA when there is
one). It prints one line per exercise and per chapter, and exits 1 if anything failed.

On a machine without CUDA it says so and exits 0: `make test` has run every GPU check
on the simulated GPU (rnncourse/simulated_gpu.py).
"""

import argparse
import contextlib
import csv
import io
import sys
import tempfile
import time
from pathlib import Path

import torch

from autograder import book, pipeline
from autograder.config import REPO
from autograder.course import chapters
from helpers import EXERCISE_SPECS, sampled_mistakes, student_notebook, write_submission


def grade_on_gpu(assignment: str, folder: Path, gpu: str = "real GPU") -> list[str]:
    """Problems found grading the reference and the sampled mistakes of `assignment`."""
    spec = EXERCISE_SPECS[assignment]
    mistakes = sampled_mistakes(assignment)
    submissions, out = folder / "in", folder / "out"
    write_submission(
        submissions,
        "reference",
        assignment,
        spec.notebook,
        student_notebook(assignment, spec.notebook),
    )
    for m in mistakes:
        nb = student_notebook(assignment, spec.notebook, {m.function: m.code})
        write_submission(submissions, f"mistake.{m.name}", assignment, spec.notebook, nb)
    with contextlib.redirect_stdout(io.StringIO()):  # the grader's own summary
        pipeline.grade(assignment, submissions, out)
    with open(out / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    cells = {f"{nb}:{gid}": points for nb, gid, points in pipeline.grade_cells(assignment)}
    problems = []
    reference = rows["reference"]
    if float(reference["score"]) != spec.points:
        problems.append(f"reference scored {reference['score']} of {spec.points}")
    page = out / "feedback" / "reference" / assignment / f"{spec.notebook}.html"
    if "NOT RUN" in page.read_text():
        problems.append("a check of the reference was NOT RUN")
    if f"[{gpu}]" not in page.read_text():
        problems.append(f"no check says it ran on the {gpu}")
    for m in mistakes:
        cell = f"{spec.notebook}:{m.test_cell}"
        if float(rows[f"mistake.{m.name}"][cell]) >= cells[cell]:
            problems.append(f"known mistake {m.name} kept full marks in {cell}")
    return problems


def execute_chapter(page: Path) -> None:
    """Run a chapter page's code as the book build does; raise its error, if any."""
    result = book.execute_page(book.read_page(page), page)
    if result.err is not None:
        raise result.err


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="SLUG", help="these chapters only")
    parser.add_argument("--no-chapters", action="store_true", help="grade only")
    parser.add_argument(
        "--on-simulated-gpu",
        action="store_true",
        help="without CUDA, run the same report on the simulated GPU (to try this script)",
    )
    args = parser.parse_args()
    gpu = "real GPU" if torch.cuda.is_available() else "simulated GPU"
    if gpu == "simulated GPU" and not args.on_simulated_gpu:
        print(
            "make test-gpu: no CUDA device on this machine, nothing to run here "
            "(make test ran every GPU check on the simulated GPU)"
        )
        return 0
    where = torch.cuda.get_device_name(0) if gpu == "real GPU" else "the simulated GPU"
    print(f"make test-gpu on {where}, PyTorch {torch.__version__}")
    slugs = args.only or [chapter.slug for chapter in chapters()]
    failed, start = 0, time.perf_counter()
    for assignment in slugs:
        begun = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            problems = grade_on_gpu(assignment, Path(folder), gpu)
        verdict = "ok" if not problems else "FAILED: " + "; ".join(problems)
        print(
            f"  grade {assignment:20s} {time.perf_counter() - begun:6.1f} s  {verdict}", flush=True
        )
        failed += bool(problems)
    for chapter in [] if args.no_chapters else [c for c in chapters() if c.slug in slugs]:
        begun = time.perf_counter()
        try:
            execute_chapter(REPO / "book" / f"{chapter.page}.md")
            verdict = "ok"
        except Exception as error:  # a failed cell: report it, go on with the others
            verdict = f"FAILED: {type(error).__name__}: {str(error).splitlines()[-1][:200]}"
            failed += 1
        print(
            f"  run   {chapter.slug:20s} {time.perf_counter() - begun:6.1f} s  {verdict}",
            flush=True,
        )
    total = time.perf_counter() - start
    print(f"{'all passed' if not failed else f'{failed} failed'} in {total:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
