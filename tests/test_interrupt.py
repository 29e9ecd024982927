"""Stopping a grading: Ctrl-C says one line and leaves the run resumable; a grader killed
outright (SIGKILL, a crash) leaves no process of its own behind: workers, kernel proxies,
kernels, the fork server, multiprocessing's resource tracker.

Each test grades a real class with `python -m autograder grade --workers 2`, one of whose
students takes a few seconds, and stops it while that student is being graded."""

import re
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


def start_grading(tmp_path) -> tuple[subprocess.Popen, list[str]]:
    subs = tmp_path / "subs"
    for student in ("ada", "alan", "grace"):
        write_submission(subs, student, A, NB, student_notebook(A, NB))
    write_submission(subs, "slow", A, NB, student_notebook(A, NB, {"step": SLOW_STEP}))
    command = [sys.executable, "-m", "autograder", "grade", "--assignment", A, "--workers", "2"]
    command += ["--submissions", str(subs), "--out", str(tmp_path / "out")]
    grader = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return grader, command


def descendants_once_grading(grader: subprocess.Popen) -> list[psutil.Process]:
    """Every process the grader started, once a kernel is running (seen through its proxy)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert grader.poll() is None, grader.communicate()
        found = psutil.Process(grader.pid).children(recursive=True)
        if any("forkserver.py" in " ".join(_cmdline(p)) for p in found):
            time.sleep(3)  # some students graded, the slow one under way
            return psutil.Process(grader.pid).children(recursive=True)
        time.sleep(0.2)
    pytest.fail("no grading kernel started within 120 s")


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
    grader, command = start_grading(tmp_path)
    started = descendants_once_grading(grader)
    assert len(started) >= 4  # two workers, the fork server, a kernel proxy...
    grader.send_signal(signal.SIGINT)
    _, stderr = grader.communicate(timeout=60)
    assert grader.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"interrupted after \d of 4 notebooks; run the same command to resume", last
    ), stderr
    assert not alive(started, within=15)

    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    done = int(re.search(r"interrupted after (\d)", last)[1])
    if done:
        assert f"{done} submission(s) unchanged since the last run: kept" in again.stderr
    assert "4 of 4 submission(s) graded" in again.stdout, again.stdout


def test_a_killed_grader_leaves_no_process_behind(tmp_path):
    grader, _ = start_grading(tmp_path)
    started = descendants_once_grading(grader)
    grader.kill()  # SIGKILL: no handler, no atexit, no finally
    grader.wait(timeout=10)
    left = alive(started, within=20)
    assert not left, "still running after the grader was killed:\n" + "\n".join(left)
