"""Benchmark: chapter 8's three scans (the loop, Hillis-Steele, chunked), on this machine.

    .venv/bin/python benchmarks/scan.py [--quick] [--repeats 7] [--threads N]

The scans are not copied here: the script reads the chapter's page
(book/08-linear-recurrences/linear-recurrences.md) with MyST-NB's reader, takes the code
cell whose first line is `# The three scans of this chapter ...` and runs it, so that it
measures exactly the book's `sequential_scan`, `hillis_steele_scan` and `chunked_scan`
(the chunked scan choosing its own chunk length, as in the book).

It sweeps T in {256, 1024, 4096, 8192} x N in {16, 64, 256, 1024, 4096} (`--quick`: a
small grid) on float32 tensors of shape (T, N), on the CPU with PyTorch's default number
of threads (the book's page uses one; `--threads` sets another count). Every configuration
is timed in rounds, each scan once per round, so that a change in the machine's load
affects all three alike; the median of the rounds is kept (fewer rounds for the slowest
configurations). It prints the times, the speed-ups loop / Hillis-Steele and
loop / chunked, and whether the two goals hold:

- Hillis-Steele at least 10 times as fast as the loop at T = 4096, for N <= 16;
- the chunked scan never more than 1.2 times as slow as the loop, at any size.

Machines are noisy: run it on an idle machine, a few times, and compare ratios. With
several threads, another program busy on the same cores makes every operation that PyTorch
splits between threads wait for a descheduled thread, and the parallel scans' times grow
by orders of magnitude: the script warns when the load average says the machine is busy.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from myst_nb.core.read import read_myst_markdown_notebook

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "book" / "08-linear-recurrences" / "linear-recurrences.md"
MARKER = "# The three scans of this chapter"
SCANS = ("sequential_scan", "hillis_steele_scan", "chunked_scan")

FULL_GRID = ([256, 1024, 4096, 8192], [16, 64, 256, 1024, 4096])
QUICK_GRID = ([256, 4096], [16, 256, 4096])
SLOW = 2**24  # T * N above which a configuration gets fewer rounds (a slow Hillis-Steele)


def book_scans(page: Path = PAGE) -> dict:
    """The chapter's scan functions: its marked code cell, run in a fresh namespace."""
    notebook = read_myst_markdown_notebook(page.read_text())
    cells = [
        cell.source
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.source.lstrip().startswith(MARKER)
    ]
    if len(cells) != 1:
        found = f"found {len(cells)}"
        raise SystemExit(f"{page}: expected one code cell starting with {MARKER!r}, {found}")
    namespace = {"__name__": "chapter_07_scans"}
    exec(compile(cells[0], f"{page.name} (scan cell)", "exec"), namespace)
    return namespace


def check_agreement(scans: dict) -> float:
    """The three scans against each other in float64; return the largest difference."""
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(1000, 7, dtype=torch.float64, generator=generator)
    b = torch.randn(1000, 7, dtype=torch.float64, generator=generator)
    h0 = torch.randn(7, dtype=torch.float64, generator=generator)
    reference = scans["sequential_scan"](a, b, h0)
    return max(
        (scans[name](a, b, h0) - reference).abs().max().item()
        for name in ("hillis_steele_scan", "chunked_scan")
    )


def time_configuration(scans: dict, T: int, N: int, rounds: int) -> dict[str, float]:
    """Median seconds of each scan on (T, N) float32 tensors, taking turns for `rounds`."""
    generator = torch.Generator().manual_seed(T * 10_000 + N)
    a = torch.rand(T, N, generator=generator)
    b = torch.randn(T, N, generator=generator)
    h0 = torch.zeros(N)
    times = {name: [] for name in SCANS}
    with torch.inference_mode():
        for name in SCANS:  # warm-up: first calls allocate and load code
            scans[name](a, b, h0)
        for _ in range(rounds):
            for name in SCANS:
                start = time.perf_counter()
                scans[name](a, b, h0)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(seconds) for name, seconds in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small grid, for a first look")
    parser.add_argument("--repeats", type=int, default=7, help="rounds per configuration")
    parser.add_argument("--threads", type=int, default=None, help="default: PyTorch's own")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    load, cores = os.getloadavg()[0], os.cpu_count()
    if load > 0.5:
        print(f"warning: load average {load:.2f} on {cores} cores: other programs are running")

    scans = book_scans()
    error = check_agreement(scans)
    if error > 1e-12:
        raise SystemExit(f"the book's scans disagree in float64: largest difference {error:.1e}")
    lengths, sizes = QUICK_GRID if args.quick else FULL_GRID
    threads = torch.get_num_threads()
    print(f"chapter 8's scans from {PAGE.relative_to(REPO)}; agree in float64 to {error:.1e}")
    print(f"torch {torch.__version__}, CPU, {threads} thread(s), float32, (T, N) tensors")
    print(
        f"{'T':>5s} {'N':>5s} {'chunk':>5s} {'rounds':>6s} {'loop ms':>9s} {'H-S ms':>9s} "
        f"{'chunked ms':>10s} {'loop/H-S':>9s} {'loop/chunked':>12s}"
    )
    results = {}
    for T in lengths:
        for N in sizes:
            rounds = args.repeats if T * N < SLOW else max(3, args.repeats // 2)
            seconds = time_configuration(scans, T, N, rounds)
            loop = seconds["sequential_scan"]
            results[T, N] = (
                loop / seconds["hillis_steele_scan"],
                loop / seconds["chunked_scan"],
            )
            chunk = scans["pick_chunk"](T, N, torch.device("cpu"))
            print(
                f"{T:5d} {N:5d} {chunk:5d} {rounds:6d} {1e3 * loop:9.2f} "
                f"{1e3 * seconds['hillis_steele_scan']:9.2f} {1e3 * seconds['chunked_scan']:10.2f} "
                f"{results[T, N][0]:8.2f}x {results[T, N][1]:11.2f}x",
                flush=True,
            )

    print("goals:")
    small = {N: results[4096, N][0] for N in sizes if N <= 16 and (4096, N) in results}
    if small:
        met = all(ratio >= 10 for ratio in small.values())
        shown = ", ".join(f"N = {N}: {ratio:.1f}x" for N, ratio in small.items())
        verdict = "met" if met else "NOT met"
        print(f"  Hillis-Steele >= 10x the loop at T = 4096, N <= 16: {verdict} ({shown})")
    else:
        print("  Hillis-Steele >= 10x the loop at T = 4096, N <= 16: not measured (no T = 4096)")
    worst = min(results, key=lambda key: results[key][1])
    met = results[worst][1] >= 1 / 1.2
    print(
        f"  chunked never more than 1.2x slower than the loop: {'met' if met else 'NOT met'} "
        f"(its smallest speed-up: {results[worst][1]:.2f}x at T = {worst[0]}, N = {worst[1]})"
    )
    print(f"total time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
