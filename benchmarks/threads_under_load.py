"""Benchmark: PyTorch's threads in a kernel when another process keeps a core busy.

    .venv/bin/python benchmarks/threads_under_load.py [--runs 3] [--assignment 09-music]

`make test` runs two test processes on two cores. A kernel that one of them starts (here:
`nbgrader validate` on a finished notebook, as tests/test_student_path.py does) computes
while the other is busy, simulated here by a process that spins on one core. The
benchmark validates the same notebook with PyTorch's default threads (one per core) and
with one thread (OMP_NUM_THREADS=1, what tests/conftest.py sets for two test processes),
alternating the two, and prints the median wall and kernel CPU seconds of each and their
ratios. Machines are noisy: compare ratios, not absolute numbers.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
ONE_RUN = """
import resource, sys, time
from nbgrader.validator import Validator
start = time.perf_counter()
failed = Validator().validate(sys.argv[1])
wall = time.perf_counter() - start
kernel = resource.getrusage(resource.RUSAGE_CHILDREN)
print(wall, kernel.ru_utime + kernel.ru_stime, failed == {})
"""


def validate(notebook: Path, threads: str | None) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if threads:
        env["OMP_NUM_THREADS"] = threads
    run = subprocess.run(
        [sys.executable, "-c", ONE_RUN, str(notebook)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, cpu, passed = run.stdout.split()
    assert passed == "True", run.stderr
    return float(wall), float(cpu)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--assignment", default="09-music")
    args = parser.parse_args()
    sys.path.insert(0, str(TESTS))
    from helpers import EXERCISE_SPECS, student_notebook

    name = EXERCISE_SPECS[args.assignment].notebook
    ways = {"default threads": None, "one thread": "1"}
    times = {way: [] for way in ways}
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        with tempfile.TemporaryDirectory() as folder:
            notebook = Path(folder) / f"{name}.ipynb"
            notebook.write_text(json.dumps(student_notebook(args.assignment, name)))
            for _ in range(args.runs):
                for way, threads in ways.items():
                    times[way].append(validate(notebook, threads))
    finally:
        busy.kill()
    print(f"nbgrader validate, {args.assignment}, one core kept busy, {os.cpu_count()} cores")
    median = {}
    for way, runs in times.items():
        median[way] = [statistics.median(r[i] for r in runs) for i in (0, 1)]
        print(f"  {way:16s} wall {median[way][0]:6.1f} s   kernel CPU {median[way][1]:6.1f} s")
    (wall_d, cpu_d), (wall_1, cpu_1) = median.values()
    print(f"  default / one thread: wall {wall_d / wall_1:.2f}x, CPU {cpu_d / cpu_1:.2f}x")


if __name__ == "__main__":
    main()
