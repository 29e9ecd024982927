"""Grading without Jupyter: a notebook's code runs in a Python process of its own, which
answers the real checker (autograder/checker.py) at each graded cell, as a kernel does.

What it keeps from real grading: the checker, its hidden checks from `solutions/`, the
protocol over a Unix socket, the instruments and canaries. What it leaves out: the
Jupyter kernel, the sandbox and nbgrader (tests/test_exercises.py grades real
notebooks through all of them). It is for the many notebooks whose per-cell points
are all that matters, such as one per known mistake: each costs its own code's time
and little more, where a kernel and nbgrader add several seconds.
"""

import contextlib
import multiprocessing
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass

import torch

from autograder import checker
from autograder.protection import locked_cells_by_id
from rnncourse import remote

NBGRADER = "nbgrader"


@dataclass
class Graded:
    cells: dict[str, tuple[float, str]]  # grade id -> (points, report)
    flags: list[str]  # what the checker found suspicious
    seconds: list[tuple[str, float]]  # (grade id, or "cell" for the others) per code cell


def _grade(assignment: str, notebook: str, nb: dict) -> Graded:
    """One notebook's points and reports; run in a child process (it runs the notebook's
    code in this process's globals)."""
    os.environ["MPLBACKEND"] = "Agg"
    torch.set_num_threads(1)  # one notebook per core, as the pipeline's kernels run
    # What the notebook prints goes nowhere; the checker's thread swaps sys.stdout too.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the process's end closes it)
    timings = []
    setup, tests = locked_cells_by_id(assignment, notebook)
    session = checker.Session(setup, tests, call_timeout=120)
    namespace = {"__name__": "__main__"}
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(session.path)
    graded = {}
    # The cells after the last graded one (a student's own experiments) cannot change a
    # score: they are not run.
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    last = max(i for i, c in enumerate(code) if c["metadata"].get(NBGRADER, {}).get("grade"))
    try:
        for cell in code[: last + 1]:
            meta = cell["metadata"].get(NBGRADER, {})
            start = time.perf_counter()
            if not meta.get("grade"):
                # As nbgrader runs a notebook: an error in a cell does not stop the rest.
                with contextlib.suppress(Exception):
                    exec(compile("".join(cell["source"]), "<cell>", "exec"), namespace)
                timings.append(("cell", time.perf_counter() - start))
                continue
            grade_id, stop = meta["grade_id"], threading.Event()
            worker = threading.Thread(target=session.check_cell, args=(grade_id, stop))
            worker.start()
            peer = remote.KernelPeer(sock, namespace)
            while not peer.done:
                message, data = peer.receive()
                peer.serve_one(message, data)
            worker.join()
            timings.append((grade_id, time.perf_counter() - start))
            graded[grade_id] = session.outcome(grade_id, float(meta["points"]))
    finally:
        sock.close()
        session.close()
    return Graded(graded, list(session.tampered), timings)


def _grade_one(job):
    return _grade(*job)


def grade_many(assignment: str, notebook: str, notebooks: dict[str, dict], workers: int = 2):
    """{name: Graded} for each notebook of `notebooks` (name -> notebook), each in a fresh
    process, `workers` at a time.

    The processes fork from multiprocessing's fork server, which has imported torch and
    the checker but never computed: a process forked from one whose OpenMP threads ran
    (as pytest's has) hangs at its first parallel matmul."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "autograder.checker", __name__])
    jobs = [(assignment, notebook, nb) for nb in notebooks.values()]
    with context.Pool(workers, maxtasksperchild=1) as pool:
        results = pool.map(_grade_one, jobs, chunksize=1)
    return dict(zip(notebooks, results, strict=True))
