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
import pickle
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
# MKL's own allocator keeps per-thread records that a forked child finds half-written when
# the parent ran MKL in two threads (the warm-up's checker and notebook): the child then
# spins forever in its first eigenvalue call. Read when the fork server loads MKL.
os.environ["MKL_DISABLE_FAST_MM"] = "1"


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


def _warm_up(assignment: str, notebook: str) -> None:
    """Run once in each pool worker: grade the reference solution, so that what every
    notebook of the assignment pays once (imports, data files parsed and cached, such as
    07's chorales) is paid before the worker forks a child per notebook."""
    torch.set_num_threads(1)  # before any computation: a fork must not inherit OpenMP threads
    from helpers import student_notebook

    _grade(assignment, notebook, student_notebook(assignment, notebook))


def _grade_in_child(job) -> Graded:
    """Grade one notebook in a child forked from this warm worker: what a notebook changes
    in its process (global settings, patched modules, caches) dies with the child."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        status = 1
        try:
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(_grade(*job), out)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as result:
        data = result.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        raise RuntimeError(f"grading {job[1]} in a child process failed (status {status})")
    return pickle.loads(data)


def grade_many(assignment: str, notebook: str, notebooks: dict[str, dict], workers: int = 2):
    """{name: Graded} for each notebook of `notebooks` (name -> notebook), each in a fresh
    process, `workers` at a time.

    Each worker forks from multiprocessing's fork server, which has imported torch and the
    checker but never computed: a process forked from one whose OpenMP threads ran (as
    pytest's has) hangs at its first parallel matmul. A worker warms up on the reference
    solution with one thread, then forks a child per notebook."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "torch._dynamo", "autograder.checker", __name__])
    jobs = [(assignment, notebook, nb) for nb in notebooks.values()]
    with context.Pool(workers, initializer=_warm_up, initargs=(assignment, notebook)) as pool:
        results = pool.map(_grade_in_child, jobs, chunksize=1)
    return dict(zip(notebooks, results, strict=True))
