"""Shared fixtures: one graded class per assignment, graded once through the real pipeline;
a kernel thread to talk to through the checker's protocol."""

import csv
import socket
import threading
from pathlib import Path

import checked_in_process
import pytest

from autograder import checker, pipeline
from autograder.mistakes import for_assignment
from helpers import (
    EXERCISE_SPECS,
    sampled_mistakes,
    student_notebook,
    write_submission,
)
from rnncourse import remote  # noqa: E402


def grade_class(assignment: str, subs: Path, out: Path) -> dict:
    """Grade a class of submissions for `assignment`: the reference, correct alternatives,
    the release, a sample of known mistakes, and broken or tampered notebooks.
    Returns the rows of grades.csv by student id."""
    spec = EXERCISE_SPECS[assignment]
    notebook = spec.notebook
    _, alternatives = for_assignment(assignment)
    mistakes = sampled_mistakes(assignment)

    def submit(student, content):
        write_submission(subs, student, assignment, notebook, content)

    submit("reference", student_notebook(assignment, notebook))
    submit("alternatives", student_notebook(assignment, notebook, alternatives))
    submit("release", (pipeline.EXERCISES / assignment / f"{notebook}.ipynb").read_text())
    for mistake in mistakes:
        submit(
            f"mistake.{mistake.name}",
            student_notebook(assignment, notebook, {mistake.function: mistake.code}),
        )
    # The same notebooks again, in other kernels: grades must not depend on the run.
    submit("again.reference", student_notebook(assignment, notebook))
    last = mistakes[-1]
    submit(
        f"again.mistake.{last.name}",
        student_notebook(assignment, notebook, {last.function: last.code}),
    )
    # Broken and tampered submissions: graded, never fatal.
    submit("broken-json", '{"cells": [')
    (subs / "empty-folder" / assignment).mkdir(parents=True)
    stripped = student_notebook(assignment, notebook)
    stripped["cells"] = [
        c for c in stripped["cells"] if not c["metadata"].get("nbgrader", {}).get("grade")
    ]
    submit("deleted-test-cells", stripped)
    function, _ = spec.renamed
    renamed = f"def my_{function}(*args):\n    raise NotImplementedError\n"
    submit("renamed-function", student_notebook(assignment, notebook, {function: renamed}))
    (subs / "bad name!").mkdir()

    pipeline.grade(assignment, subs, out)
    with open(out / "grades.csv") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


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
    process instead of a Jupyter kernel (tests/checked_in_process.py)."""
    cache = {}

    def graded(assignment):
        if assignment not in cache:
            spec = EXERCISE_SPECS[assignment]
            mistakes, _ = for_assignment(assignment)
            notebooks = {
                m.name: student_notebook(assignment, spec.notebook, {m.function: m.code})
                for m in mistakes
            }
            cache[assignment] = checked_in_process.grade_many(assignment, spec.notebook, notebooks)
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
