"""Benchmark: the similarity report (autograder/similarity.py) on a class of 300.

    .venv/bin/python benchmarks/similarity.py [--students 300] [--assignment 04-lstm-gru]

Writes a class of notebooks in a temporary folder, each student's answers drawn function
by function from the reference, its independently written alternative, or a known
mistake (so that, unlike in a real class, almost every pair shares much of its code: the
report's worst case), and times `similarity.report` on it. Prints the seconds for the
whole report and per thousand pairs. Machines are noisy: run it a few times.
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the tests' helpers build the class

from autograder import similarity  # noqa: E402
from autograder.config import EXERCISES  # noqa: E402
from autograder.mistakes import for_assignment  # noqa: E402
from helpers import EXERCISE_SPECS, student_notebook, write_submission  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--assignment", default="04-lstm-gru")
    args = parser.parse_args()
    notebook = EXERCISE_SPECS[args.assignment].notebook
    mistakes, alternatives = for_assignment(args.assignment)
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "submitted"
        students = []
        for number in range(args.students):
            answers = {}
            for function, code in alternatives.items():
                if rng.random() < 0.5:
                    answers[function] = code
            slip = rng.choice(mistakes)
            if rng.random() < 0.3:
                answers[slip.function] = slip.code
            student = f"student{number:03d}"
            content = student_notebook(args.assignment, notebook, answers)
            write_submission(root, student, args.assignment, notebook, content)
            students.append(student)
        start = time.perf_counter()
        flagged = similarity.report(
            args.assignment, EXERCISES / args.assignment, root, students, Path(tmp)
        )
        seconds = time.perf_counter() - start
    pairs = len(students) * (len(students) - 1) // 2
    print(
        f"{args.assignment}: {len(students)} students, {pairs} pairs, {len(flagged)} flagged: "
        f"{seconds:.1f} s ({1000 * seconds / max(pairs, 1):.2f} s per thousand pairs)"
    )


if __name__ == "__main__":
    main()
