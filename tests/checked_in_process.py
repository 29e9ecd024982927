"""Grading without Jupyter: a notebook's code runs in a forked Python process, which
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
import threading
from dataclasses import dataclass

from autograder import checker
from autograder.protection import locked_cells_by_id
from rnncourse import remote
from rnncourse.checks import silenced

NBGRADER = "nbgrader"


@dataclass
class Graded:
    cells: dict[str, tuple[float, str]]  # grade id -> (points, report)
    flags: list[str]  # what the checker found suspicious


def _grade(assignment: str, notebook: str, nb: dict) -> Graded:
    """One notebook's points and reports; run in a child process (it runs the notebook's
    code in this process's globals)."""
    os.environ["MPLBACKEND"] = "Agg"
    setup, tests = locked_cells_by_id(assignment, notebook)
    session = checker.Session(setup, tests, call_timeout=120)
    namespace = {"__name__": "__main__"}
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(session.path)
    graded = {}
    try:
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            meta = cell["metadata"].get(NBGRADER, {})
            if not meta.get("grade"):
                # As nbgrader runs a notebook: an error in a cell does not stop the rest.
                with silenced(), contextlib.suppress(Exception):
                    exec(compile("".join(cell["source"]), "<cell>", "exec"), namespace)
                continue
            grade_id, stop = meta["grade_id"], threading.Event()
            worker = threading.Thread(target=session.check_cell, args=(grade_id, stop))
            worker.start()
            peer = remote.KernelPeer(sock, namespace)
            with silenced():
                while not peer.done:
                    message, data = peer.receive()
                    peer.serve_one(message, data)
            worker.join()
            graded[grade_id] = session.outcome(grade_id, float(meta["points"]))
    finally:
        sock.close()
        session.close()
    return Graded(graded, list(session.tampered))


def _grade_one(job):
    return _grade(*job)


def grade_many(assignment: str, notebook: str, notebooks: dict[str, dict], workers: int = 2):
    """{name: Graded} for each notebook of `notebooks` (name -> notebook),
    each in a fresh process forked from this one, `workers` at a time."""
    jobs = [(assignment, notebook, nb) for nb in notebooks.values()]
    with multiprocessing.get_context("fork").Pool(workers, maxtasksperchild=1) as pool:
        results = pool.map(_grade_one, jobs, chunksize=1)
    return dict(zip(notebooks, results, strict=True))
