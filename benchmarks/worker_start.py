"""Benchmark: how the grader's worker processes start, on this machine.

    .venv/bin/python benchmarks/worker_start.py [--runs 4] [--students 2]

Grades the same small class of 01-activations (the reference solution, handed in by
`--students` students) several times in one process, with two workers, alternating
the two ways to start the workers (so that both meet the same load on a busy machine):

- spawn: a fresh interpreter per worker, which imports nbgrader, PyTorch and the checker
  itself (about 6 CPU seconds each);
- forkserver (what `autograder/pipeline.py` uses): workers forked from multiprocessing's
  fork server, which imported all of that once; a process that grades several classes
  (an instructor's script, the test suite) keeps the one server.

Prints the median seconds of a grading run for both and their ratio. The first run of
each is left out (the fork server's own start is paid there once). Machines are noisy:
compare ratios, not absolute numbers.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from autograder import pipeline  # noqa: E402
from helpers import student_notebook, write_submission  # noqa: E402

A, NB = "01-activations", "activations"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--students", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="worker-start-"))
    for i in range(args.students):
        write_submission(folder / "in", f"s{i}", A, NB, student_notebook(A, NB))
    seconds = {"spawn": [], "forkserver": []}
    for run in range(args.runs + 1):
        for method in seconds:
            pipeline.WORKER_START = method
            start = time.perf_counter()
            pipeline.grade(A, folder / "in", folder / f"out-{method}-{run}", workers=2)
            if run > 0:
                seconds[method].append(time.perf_counter() - start)
    medians = {method: statistics.median(times) for method, times in seconds.items()}
    for method, times in seconds.items():
        runs = json.dumps([round(t, 1) for t in times])
        print(f"{method:10s} median {medians[method]:5.1f} s  runs {runs}")
    print(f"spawn / forkserver: {medians['spawn'] / medians['forkserver']:.2f}x")


if __name__ == "__main__":
    main()
