"""Shared fixtures: one graded class per assignment, graded once through the real pipeline;
a kernel thread to talk to through the checker's protocol. And how `make test` shares the
suite out between two processes (pytest-xdist): see `group_of`."""

import csv
import os
import re
import socket
import threading
from pathlib import Path

# `make test` runs two test processes on two cores (pytest-xdist's -n 2): each process, and
# every kernel or program it starts, computes on its share of the cores. More threads than
# cores make PyTorch's OpenMP threads wait for each other, spinning on the cores that the
# other process needs. Set before PyTorch is imported; the grader sets its kernels' own.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    share = (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, share)))

import checked_in_process  # noqa: E402
import pytest  # noqa: E402

from autograder import checker, pipeline  # noqa: E402
from autograder.course import make_exercise_modules_importable  # noqa: E402
from autograder.mistakes import for_assignment  # noqa: E402
from helpers import (  # noqa: E402
    EXERCISE_SPECS,
    SAMPLED,
    sampled_mistakes_notebook,
    student_notebook,
    write_submission,
)
from rnncourse import remote  # noqa: E402

# The tests import exercises' hidden checks (solutions/<slug>/) as the grader does.
make_exercise_modules_importable()


def grade_class(assignment: str, subs: Path, out: Path) -> dict:
    """Grade a class of submissions for `assignment`: the reference, correct alternatives,
    the release, the sampled known mistakes (together in one notebook), and broken or
    tampered notebooks. (That a notebook graded twice gets the same grades is proven by
    the sampled mistakes, graded here and again in `mistakes_graded`, and by
    test_exercises.py's test_parallel_grading_gives_the_same_grades_as_sequential.)
    Returns the rows of grades.csv by student id."""
    spec = EXERCISE_SPECS[assignment]
    notebook = spec.notebook
    _, alternatives = for_assignment(assignment)

    def submit(student, content):
        write_submission(subs, student, assignment, notebook, content)

    submit("reference", student_notebook(assignment, notebook))
    submit("alternatives", student_notebook(assignment, notebook, alternatives))
    submit("release", (pipeline.EXERCISES / assignment / f"{notebook}.ipynb").read_text())
    submit(SAMPLED, sampled_mistakes_notebook(assignment))
    # Broken and tampered submissions: graded, never fatal.
    submit("broken-json", '{"cells": [')
    (subs / "empty-folder" / assignment).mkdir(parents=True)
    # One notebook for two proofs (a kernel each would cost the suite ten): its test cells
    # are deleted, and the pipeline must restore and run them; and one function is renamed,
    # which must cost that function's own cell and no other.
    function, _ = spec.renamed
    renamed = f"def my_{function}(*args):\n    raise NotImplementedError\n"
    tampered = student_notebook(assignment, notebook, {function: renamed})
    tampered["cells"] = [
        c for c in tampered["cells"] if not c["metadata"].get("nbgrader", {}).get("grade")
    ]
    submit("renamed-function-deleted-tests", tampered)
    (subs / "bad name!").mkdir()

    pipeline.grade(assignment, subs, out)
    with open(out / "grades.csv") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


# `make test` runs the suite in two processes (pytest-xdist, `-n 2`). Tests that share a
# costly fixture run in the same process, so that it is built once: each module's tests
# together (module fixtures: a graded class of hostile notebooks, a browser, the student
# edition's virtual environment), and in test_exercises.py each assignment's tests
# together (`graded_class`, `mistakes_graded`; their ids start with the assignment). A test
# of SPREAD shares nothing costly: it goes to whichever process is free. The modules of
# BROWSER drive Chromium and a JupyterLab server: they run in one process, one browser at a
# time, so that the page-timing tests do not compete with each other for the cores.
SPREAD = {"test_student_path.py", "test_diagnosis.py"}
BROWSER = {"test_student_edition.py", "test_html_in_browser.py", "test_feedback_in_browser.py"}
# The slowest groups, slowest first (each 25 s or more with one process on 2 cores, measured
# Dec. 2026): started first, so that the two processes finish together.
SLOWEST = [
    "browser",
    "test_exercises.py[10-plays",
    "test_hostile.py",
    "test_exercises.py[09-music",
    "test_resume.py",
    "test_exercises.py[06-clockwork",
    "test_exercises.py[03-language-models",
    "test_interrupt.py",
    "test_forkserver.py",
    "test_student_path.py::test_validate_passes_a_finished_exercise[10-plays]",
    "test_exercises.py[05-esn",
    "test_student_path.py::test_validate_passes_a_finished_exercise[09-music]",
]


def group_of(nodeid: str) -> str:
    """The group a test runs in, from its id (tests/<module>::<name>[<parameters>])."""
    module, _, name = nodeid.removeprefix("tests/").partition("::")
    if module in SPREAD:
        return f"{module}::{name}"
    if module in BROWSER:
        return "browser"
    if module == "test_exercises.py" and "[" in name:
        return module + "[" + re.split(r"[:\]]", name.partition("[")[2])[0]
    return module


def pytest_collection_modifyitems(config, items):
    """The slowest groups first; then each group's tests in their usual order."""
    rank = {group: i for i, group in enumerate(SLOWEST)}
    items.sort(key=lambda item: rank.get(group_of(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config, log):
    """xdist's scheduling by scope, with `group_of` as the scope and the order above."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid):  # the one method xdist's own groupings override
            return group_of(nodeid)

    config.option.loadscopereorder = False  # keep the order of pytest_collection_modifyitems
    return ByGroup(config, log)


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """graded_class(assignment) -> (rows by student, output folder), graded once per session."""
    cache = {}

    def graded(assignment):
        if assignment not in cache:
            subs = tmp_path_factory.mktemp(f"submissions-{assignment}")
            out = tmp_path_factory.mktemp(f"graded-{assignment}")
            cache[assignment] = grade_class(assignment, subs, out), out
        return cache[assignment]

    return graded


@pytest.fixture(scope="session")
def mistakes_graded():
    """mistakes_graded(assignment) -> {mistake name: Graded (points, reports, flags)}: every
    known mistake, graded by the real checker against the notebook's code run in a forked
    process instead of a Jupyter kernel (tests/checked_in_process.py); and under SAMPLED
    the notebook of the sampled mistakes that `graded_class` grades through nbgrader."""
    cache = {}

    def graded(assignment):
        if assignment not in cache:
            spec = EXERCISE_SPECS[assignment]
            mistakes, _ = for_assignment(assignment)
            notebooks = {
                m.name: student_notebook(assignment, spec.notebook, {m.function: m.code})
                for m in mistakes
            }
            notebooks[SAMPLED] = sampled_mistakes_notebook(assignment)
            # One worker: the suite's other process keeps the second core busy.
            cache[assignment] = checked_in_process.grade_many(
                assignment, spec.notebook, notebooks, workers=1
            )
        return cache[assignment]

    return graded


@pytest.fixture
def kernel():
    """kernel(namespace) -> a checker peer talking to a kernel thread serving `namespace`."""
    sockets = []

    def start(namespace):
        ours, theirs = socket.socketpair()
        sockets.extend((ours, theirs))

        def serve():
            peer = remote.KernelPeer(theirs, namespace)
            try:
                while not peer.done:
                    message, data = peer.receive()
                    peer.serve_one(message, data)
            except (remote.ProtocolError, OSError):  # the checker left, or the test ended
                pass

        threading.Thread(target=serve, daemon=True).start()
        stop = threading.Event()
        return checker.CheckerPeer(ours, call_timeout=20, interrupt=lambda: None, stop=stop)

    yield start
    for s in sockets:
        s.close()
