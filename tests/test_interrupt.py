"""Stopping a grading: Ctrl-C says one line and leaves the run resumable; a grader killed
outright (SIGKILL, a crash) leaves no process of its own behind: workers, kernel proxies,
kernels, the fork server, multiprocessing's resource tracker.

Each test grades a real class with `python -m autograder grade --workers 2`, one of whose
students takes a few seconds, and stops it while that student is being graded."""

import signal
import subprocess
import sys
import time

import psutil
import pytest

from autograder.config import REPO
from helpers import student_notebook, write_submission

A, NB = "01-activations", "activations"
SLOW_STEP = """
def step(x):
    return (x > 0).to(x.dtype)


import time

time.sleep(8)  # a slow student: the grader is stopped while it is graded
"""


class Grading:
    """`python -m autograder grade --workers 2` on four students, the last of them slow."""

    def __init__(self, tmp_path):
        subs, self.out = tmp_path / "subs", tmp_path / "out"
        for student in ("ada", "alan", "grace"):
            write_submission(subs, student, A, NB, student_notebook(A, NB))
        write_submission(subs, "slow", A, NB, student_notebook(A, NB, {"step": SLOW_STEP}))
        self.command = [sys.executable, "-m", "autograder", "grade", "--assignment", A]
        self.command += ["--workers", "2", "--submissions", str(subs), "--out", str(self.out)]
        self.process = subprocess.Popen(
            self.command,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Ctrl-C's default action, as in a terminal. The suite itself may run with
            # SIGINT ignored (a shell's background job does), and a program inherits that.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def descendants_once_the_slow_student_is_graded(self) -> list[psutil.Process]:
        """Every process the grader started, once the three others are graded (their
        records written, autograder/resume.py): the slow one (8 s) is then under way."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()
            graded = {path.stem for path in self.out.glob(f"**/graded/{A}/*.json")}
            if {"ada", "alan", "grace"} <= graded:
                return psutil.Process(self.process.pid).children(recursive=True)
            time.sleep(0.1)
        pytest.fail("three students were not graded within 120 s")


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def alive(processes: list[psutil.Process], within: float) -> list[str]:
    """The processes still running (not zombies) after waiting up to `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        left = []
        for p in processes:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(f"{p.pid} {' '.join(_cmdline(p))[:120]}")
            except psutil.NoSuchProcess:
                pass
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def test_ctrl_c_says_one_line_exits_130_and_the_same_command_resumes(tmp_path):
    grading = Grading(tmp_path)
    started = grading.descendants_once_the_slow_student_is_graded()
    assert len(started) >= 4  # two workers, the fork server, a kernel proxy...
    grading.process.send_signal(signal.SIGINT)
    _, stderr = grading.process.communicate(timeout=60)
    assert grading.process.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last == "interrupted after 3 of 4 notebooks; run the same command to resume", stderr
    assert not alive(started, within=15)

    again = subprocess.run(grading.command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "3 submission(s) unchanged since the last run: kept" in again.stderr
    assert "4 of 4 submission(s) graded" in again.stdout, again.stdout


def test_a_killed_grader_leaves_no_process_behind(tmp_path):
    grading = Grading(tmp_path)
    started = grading.descendants_once_the_slow_student_is_graded()
    grading.process.kill()  # SIGKILL: no handler, no atexit, no finally
    grading.process.wait(timeout=10)
    left = alive(started, within=20)
    assert not left, "still running after the grader was killed:\n" + "\n".join(left)
