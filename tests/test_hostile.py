"""Broken, tampered and hostile submissions: each is graded, flagged where suspicious,
and never harms the batch, the other students, the gradebook or the source notebooks.

One class of exercise 1 is graded once (with short time limits) through the real
pipeline; every test below reads its outcome. The sandbox parts need Linux and root
(as on CI: REQUIRE_SANDBOX=1 makes their absence a failure instead of a skip).
"""

import csv
import dataclasses
import hashlib
import html
import json
import os
import re

import nbformat
import pytest

from autograder import checked_execute, forkserver, pipeline, sandbox
from helpers import student_notebook, write_submission

A, NB = "01-activations", "activations"
FULL = 48.0
WRONG = "as wrong-step"  # the score of the plain wrong answer, in the same batch
WRONG_STEP = "def step(x):\n    return x.clamp(0, 1)\n"  # wrong between 0 and 1
LIMITS = pipeline.Limits(cell_timeout=20, notebook_timeout=60, memory_bytes=3 * 2**30)
SECRET_FILE = pipeline.SOLUTIONS / A / f"{NB}_hidden_checks.py"
SOLUTION_FILE = pipeline.SOLUTIONS / A / f"{NB}.ipynb"
HIDDEN_LINE = "from activations_hidden_checks import elementwise_checks"


def with_cell(code: str, step: str | None = None) -> dict:
    """The reference notebook with a cell of `code` added after the setup cell
    (and `step` replaced, when given)."""
    notebook = student_notebook(A, NB, {"step": step} if step else None)
    at = next(
        i
        for i, c in enumerate(notebook["cells"])
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "setup"
    )
    notebook["cells"].insert(at + 1, nbformat.v4.new_code_cell(code))
    return notebook


def edited_test_cells() -> dict:
    notebook = student_notebook(A, NB, {"step": WRONG_STEP})
    for cell in notebook["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade"):
            cell["source"] = "4.0  # full marks, surely"
    return notebook


def reordered_test_cells() -> dict:
    notebook = student_notebook(A, NB)
    ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in notebook["cells"]]
    test, impl = ids.index("test_step"), ids.index("impl_step")
    cells = notebook["cells"]
    cells[impl], cells[test] = cells[test], cells[impl]
    return notebook


def old_format() -> str:
    notebook = nbformat.from_dict(student_notebook(A, NB))
    return nbformat.writes(nbformat.convert(notebook, 3), version=3)


HUGE_PRINT = "print('x' * 20_000_000)\nfor i in range(10**5):\n    print(i)"
STUBBORN_LOOP = """
import time
while True:
    try:
        time.sleep(1)
    except BaseException:
        pass
"""
PATCH_DURING_TEST = """def step(x):
    import torch
    torch.isclose = lambda a, b, **kw: torch.ones(a.shape, dtype=torch.bool, device=a.device)
    return x.clamp(0, 1)
"""
# os.fork and posix.fork are refused; a fork through ctypes is not: in the sandbox, the
# grandchild it leaves is killed with the kernel all the same.
LEAVES_A_PROCESS = """
import posix, time
if posix.fork() == 0:
    posix.setsid()
    time.sleep(3600)
"""
CTYPES_FORK = """
import ctypes, time
if ctypes.CDLL(None).fork() == 0:
    time.sleep(3600)
"""
PATCH_MANY = """
import sys
import numpy.testing
torch.allclose = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
sys.modules["rnncourse.checks"] = None
"""
FAKE_CHECKS = """
class Checks:
    def __init__(self, title, points):
        self.points = points
    def __getattr__(self, name):
        return lambda *args, **kwargs: None
    def score(self):
        return self.points
"""


def release_with_cell(code: str) -> dict:
    """The blank release with a cell of `code` added after the setup cell."""
    notebook = json.loads((pipeline.EXERCISES / A / f"{NB}.ipynb").read_text())
    at = next(
        i
        for i, c in enumerate(notebook["cells"])
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "setup"
    )
    notebook["cells"].insert(at + 1, nbformat.v4.new_code_cell(code))
    return notebook


# Attacks on the scoring itself, each added to the blank release: each must score what
# the blank release scores (0), however the kernel is bent. The checks and the scoring
# run in the checker (autograder/checker.py), which no kernel code reaches.
NO_DISPLAY = 'import IPython\nIPython.get_ipython().ast_node_interactivity = "none"'
WALK_FRAMES = """
import sys

def step(x):
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if type(value).__name__ == "Checks":
                value.results = [("forged", 1.0, "PASS", "")]
                value.score = lambda: value.points
        frame = frame.f_back
    try:
        raise RuntimeError
    except RuntimeError as error:
        error.__traceback__.tb_frame.f_globals["forged"] = True
    return x
"""
REPLACE_CODE = """
import rnncourse.checks as c
c.Checks.score.__code__ = (lambda self: float(self.points)).__code__
c.Checks.report.__code__ = (lambda self, **kw: (float(self.points), [])).__code__
c.expect_close.__code__ = (lambda *a, **k: None).__code__
"""
UNHOOK_AND_PATCH = """
import rnncourse.checks as c
ip = get_ipython()
for event in ip.events.callbacks:
    ip.events.callbacks[event] = []
type.__setattr__(c.Checks, "score", lambda self: float(self.points))
type.__setattr__(
    c.Checks, "check", lambda self, name, w, fn: self.results.append((name, w, "PASS", ""))
)
"""
PATCHING_THREAD = """
import threading, time, rnncourse.checks as c

def patch_forever():
    while True:
        c.Checks.score = lambda self: float(self.points)
        ns = get_ipython().user_ns
        if "checks" in ns:
            ns["checks"].results = [("forged", 1.0, "PASS", "")]
        time.sleep(0.001)

threading.Thread(target=patch_forever, daemon=True).start()
"""
AGREEABLE_TENSOR = """
import torch

class Agreeable(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        out = super().__torch_function__(func, types, args, kwargs or {})
        if getattr(func, "__name__", "") in ("isclose", "isfinite", "equal", "allclose"):
            return torch.ones_like(out, dtype=torch.bool) if isinstance(out, torch.Tensor) else True
        return out

def step(x):
    return torch.zeros_like(x).as_subclass(Agreeable)

sigmoid = tanh = relu = softplus = step
"""
FORGED_REPORT = """
from IPython.display import HTML, display
print("step and step_grad: 4 of 4 points\\n  PASS (4) everything")
display(HTML("<script>document.title = 'forged'</script><b>48 of 48</b>"))
4.0
"""
# Junk on the connection to the checker: it only ever costs the sender.
GARBAGE_ON_THE_WIRE = """
import rnncourse.remote as r
r.connect_from_environment()
if r._connection is not None:
    r._connection.sendall(bytes(range(256)) * 4)
"""
# Only the hidden checks hold this name: the student's process must never see it.
MARKER = "layer_stack_gradients"
SEARCH_FOR_HIDDEN = f"""
import gc, sys
found = []

def search():
    for name, module in list(sys.modules.items()):
        if "hidden_checks" in name or {MARKER!r} in dir(module):
            found.append(name)
    for obj in gc.get_objects():
        try:
            if getattr(obj, "__name__", None) == {MARKER!r}:
                found.append(repr(obj))
            elif isinstance(obj, str) and {MARKER!r} in obj and obj is not SEARCH_SOURCE:
                found.append(obj[:80])
        except Exception:
            pass
    for path in {[str(SECRET_FILE), str(SOLUTION_FILE)]!r}:
        try:
            if {MARKER!r} in open(path).read():
                found.append(path)
        except OSError:
            pass

SEARCH_SOURCE = {("'" + MARKER + "'")!r}

def step(x):
    search()  # while the checker is asking
    raise NotImplementedError
"""
SEARCH_REPORT = "print('hidden things found:', len(found), found[:3])"

# student id -> (submission, what its score must be, whether it must be flagged)
CLASS = {
    "reference": (student_notebook(A, NB), FULL, False),
    "wrong-step": (student_notebook(A, NB, {"step": WRONG_STEP}), FULL - 2, False),
    "raises": (with_cell("raise RuntimeError('not finished')"), FULL, False),
    "sys-exit": (with_cell("import sys\nsys.exit(1)"), FULL, True),
    "os-exit": (with_cell("import os\nos._exit(0)"), FULL, True),
    "fork": (with_cell("import os\nos.fork()"), FULL, True),
    "infinite-loop": (with_cell("while True:\n    pass"), FULL, False),
    "huge-print": (
        with_cell("print('x' * 20_000_000)\nfor i in range(10**5): print(i)"),
        FULL,
        False,
    ),
    "patch-isclose": (
        with_cell(
            "torch.isclose = lambda a, b, **kw: torch.ones(a.shape, dtype=torch.bool)",
            step=WRONG_STEP,
        ),
        WRONG,
        True,
    ),
    # Patching the kernel's torch while the checker calls it changes nothing: the checks
    # compare in the checker's own process. It scores as the plain wrong answer.
    "patch-during-test": (student_notebook(A, NB, {"step": PATCH_DURING_TEST}), WRONG, True),
    "patch-many": (with_cell(PATCH_MANY, step=WRONG_STEP), WRONG, True),
    "fake-checks": (with_cell(FAKE_CHECKS, step=WRONG_STEP), WRONG, True),
    "patch-builtins": (
        with_cell("import builtins\nbuiltins.round = lambda *a: 0", step=WRONG_STEP),
        WRONG,
        True,
    ),
    # Restored before grading, so they score as the plain wrong answer; flagged all the same.
    "edited-test-cells": (edited_test_cells(), WRONG, True),
    "reordered-test-cells": (reordered_test_cells(), FULL - 4, False),  # step tested too soon
    "breaks-the-kernel": (with_cell("import builtins\nbuiltins.isinstance = print"), 0.0, True),
    "renamed-notebook": (student_notebook(A, NB), FULL, False),
    "old-nbformat": (old_format(), FULL, False),
    "blank": (release_with_cell("pass"), 0.0, False),
    "no-display": (release_with_cell(NO_DISPLAY), 0.0, True),
    "walk-frames": (release_with_cell(WALK_FRAMES), 0.0, False),
    "replace-code": (release_with_cell(REPLACE_CODE), 0.0, True),
    "unhook-and-patch": (release_with_cell(UNHOOK_AND_PATCH), 0.0, True),
    "patching-thread": (release_with_cell(PATCHING_THREAD), 0.0, True),
    "agreeable-tensor": (release_with_cell(AGREEABLE_TENSOR), 0.0, False),
    "forged-report": (_forged := release_with_cell(FORGED_REPORT), 0.0, False),
    "garbage-on-the-wire": (with_cell(GARBAGE_ON_THE_WIRE), 0.0, True),
}
# A Markdown cell of the student's own: its raw HTML must not run in the feedback page.
_forged["cells"].insert(2, nbformat.v4.new_markdown_cell("<script>window.forged = 1</script>"))
_search = release_with_cell(SEARCH_FOR_HIDDEN + "\nsearch()")
# The report runs after step's test and before the last graded cell (the grader runs no
# cell after that one).
_search["cells"].insert(
    max(
        i for i, c in enumerate(_search["cells"]) if c["metadata"].get("nbgrader", {}).get("grade")
    ),
    nbformat.v4.new_code_cell("search()\n" + SEARCH_REPORT),
)
CLASS["search-for-hidden"] = (_search, 0.0, True)
# A student's experiment after the last graded cell cannot change a score: never run.
_after = student_notebook(A, NB)
_after["cells"].append(nbformat.v4.new_code_cell('print("ran" + "-after-the-tests")'))
CLASS["experiment-after-the-tests"] = (_after, FULL, False)
OWN_TMP = "/tmp/rnncourse-hostile.txt"
WRITE_OUTSIDE = f"""
GRADEBOOK = "../../../gradebook.db"  # seen from OUT/_nbgrader/autograded/<student>/<assignment>
for path in [{str(pipeline.SOLUTIONS / A / "x.txt")!r}, "../../x.txt", GRADEBOOK, {OWN_TMP!r}]:
    try:
        open(path, "w").write("x")
    except OSError as error:
        print(error)
"""
READ_HIDDEN = f"""
for path in [{str(SECRET_FILE)!r}, {str(SOLUTION_FILE)!r}, "activations.ipynb"]:
    try:
        print(open(path).read())
    except OSError as error:
        print(error)
"""
# The grading workers fork from multiprocessing's fork server, kernels from the kernel fork
# server: a submission that finds their sockets could ask them for a process of the grader.
REACH_FORK_SERVERS = """
import socket
bound = [line.split()[-1] for line in open("/proc/net/unix").read().splitlines()[1:]]
servers = [path for path in bound if "pymp-" in path or "forkserver" in path]
reached = []
for path in servers:
    try:
        socket.socket(socket.AF_UNIX).connect(path)
        reached.append(path)
    except OSError:
        pass
print("fork server sockets seen:", len(servers), "reached:", len(reached), reached)
"""
# Without the sandbox these would really read the answers and write into the repository.
if sandbox.unavailable_reason() is None:
    CLASS["reach-the-fork-servers"] = (with_cell(REACH_FORK_SERVERS), FULL, True)
    CLASS["write-outside"] = (with_cell(WRITE_OUTSIDE), FULL, True)
    CLASS["read-hidden"] = (with_cell(READ_HIDDEN), FULL, True)
    CLASS["memory-hog"] = (with_cell("x = bytearray(4 * 2**30)"), FULL, False)
    CLASS["infinite-loop-stubborn"] = (with_cell(STUBBORN_LOOP), 0.0, True)
    CLASS["leaves-a-process"] = (with_cell(LEAVES_A_PROCESS), FULL, True)
    CLASS["ctypes-fork"] = (with_cell(CTYPES_FORK), FULL, True)
    CLASS["posix-spawn"] = (
        with_cell("import os\nos.posix_spawn('/bin/sleep', ['sleep', '3600'], {})"),
        FULL,
        True,
    )
    CLASS["posix-exit"] = (with_cell("import posix\nposix._exit(3)"), FULL, True)
    CLASS["ctypes-exit"] = (with_cell("import ctypes\nctypes.CDLL(None)._exit(3)"), 0.0, True)


def tree_digest(folder) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    subs, out = tmp_path_factory.mktemp("hostile-subs"), tmp_path_factory.mktemp("hostile-out")
    for student, (content, _, _) in CLASS.items():
        path = write_submission(subs, student, A, NB, content)
    path = subs / "renamed-notebook" / A / f"{NB}.ipynb"
    path.rename(path.with_name(f"{NB} (1).ipynb"))  # as a browser names a second download
    guarded = [pipeline.SOLUTIONS, pipeline.REPO / "autograder", pipeline.EXERCISES]
    before = [tree_digest(folder) for folder in guarded]
    pipeline.grade(A, subs, out, limits=LIMITS)
    after = [tree_digest(folder) for folder in guarded]
    with open(out / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    return rows, out, before, after


@pytest.mark.parametrize("student", list(CLASS))
def test_each_submission_gets_its_grade(graded, student):
    rows, *_ = graded
    _, score, _ = CLASS[student]
    if score == WRONG:
        score = float(rows["wrong-step"]["score"])
    assert float(rows[student]["score"]) == score, rows[student]


@pytest.mark.parametrize("student", list(CLASS))
def test_suspicious_submissions_are_flagged_and_others_not(graded, student):
    rows, *_ = graded
    _, _, suspicious = CLASS[student]
    assert bool(rows[student]["flags"]) == suspicious, rows[student]["flags"]


def test_tampering_is_named_in_the_flags(graded):
    rows, *_ = graded
    assert "torch.isclose" in rows["patch-isclose"]["flags"]
    assert "torch.isclose" in rows["patch-during-test"]["flags"]
    assert "`Checks`" in rows["fake-checks"]["flags"]
    assert "builtins.round" in rows["patch-builtins"]["flags"]
    assert "sys.exit" in rows["sys-exit"]["flags"]
    for replaced in ("torch.allclose", "numpy.testing.assert_allclose", "sys.modules"):
        assert replaced in rows["patch-many"]["flags"]


def test_edited_test_cells_are_named_in_the_flags(graded):
    rows, *_ = graded
    assert (
        "edited test cell test_step (the course's restored)" in rows["edited-test-cells"]["flags"]
    )


def test_a_kernel_that_breaks_the_protocol_is_flagged(graded):
    rows, *_ = graded
    assert "broke the grading protocol" in rows["garbage-on-the-wire"]["flags"]


def test_a_renamed_notebook_is_graded_and_noted_not_flagged(graded):
    """A browser saves a second download as `activations (1).ipynb`: nothing suspicious."""
    rows, *_ = graded
    row = rows["renamed-notebook"]
    assert "graded 'activations (1).ipynb' as activations.ipynb" in row["notes"]
    assert row["flags"] == ""


def test_a_kernel_that_stops_answering_gets_a_reason(graded):
    rows, *_ = graded
    # A fresh kernel hangs on its way out (it stops answering); a forked one exits.
    status = rows["breaks-the-kernel"]["status"]
    assert "stopped answering" in status or "the kernel died" in status


def test_nothing_outside_the_grading_changed(graded):
    _, _, before, after = graded
    assert before == after
    assert not (pipeline.SOLUTIONS / A / "x.txt").exists()


def test_feedback_is_written_and_hides_the_hidden_tests(graded):
    rows, out, *_ = graded
    for student in ("reference", "read-hidden", "huge-print"):
        page = out / "feedback" / student / A / f"{NB}.html"
        text = html.unescape(page.read_text())
        assert HIDDEN_LINE not in text
        assert len(page.read_bytes()) < 3_000_000, "output was not cut short"


def needs_sandbox():
    reason = sandbox.unavailable_reason()
    if reason and os.environ.get("REQUIRE_SANDBOX") == "1":
        pytest.fail(f"REQUIRE_SANDBOX=1 but the sandbox is unavailable: {reason}")
    if reason:
        pytest.skip(f"the grading sandbox is unavailable here: {reason}")


def test_sandbox_hides_the_answers_and_stops_runaway_kernels(graded):
    needs_sandbox()
    rows, out, *_ = graded
    feedback = html.unescape((out / "feedback" / "read-hidden" / A / f"{NB}.html").read_text())
    assert feedback.count("No such file or directory") == 2  # hidden checks, solutions
    assert "def elementwise_checks" not in feedback
    assert "ran past its time limit" in rows["infinite-loop-stubborn"]["status"]
    assert "kernel died" in rows["ctypes-exit"]["status"]
    for student, call in (("posix-exit", "posix._exit"), ("posix-spawn", "os.posix_spawn")):
        page = html.unescape((out / "feedback" / student / A / f"{NB}.html").read_text())
        assert f"{call} is not allowed while grading" in page, student
    write = html.unescape((out / "feedback" / "write-outside" / A / f"{NB}.html").read_text())
    # The repository and the grading folder are out of reach; /tmp is the kernel's own.
    assert write.count("Permission denied") + write.count("No such file") == 3
    assert not os.path.exists(OWN_TMP)


def test_leftover_kernel_processes_are_gone(graded):
    needs_sandbox()
    _, out, *_ = graded

    def cwd(pid):
        try:
            return os.readlink(f"/proc/{pid}/cwd")
        except OSError:  # gone meanwhile
            return ""

    kernels = [
        pid
        for pid in os.listdir("/proc")
        if pid.isdigit() and os.stat(f"/proc/{pid}").st_uid >= sandbox.UID_BASE
    ]
    assert [pid for pid in kernels if cwd(pid).startswith(str(out))] == []


def test_fresh_sandboxed_kernels_as_on_gpu_graders(tmp_path, monkeypatch):
    """GPU graders start every kernel afresh (CUDA does not survive a fork), in the
    same sandbox."""
    needs_sandbox()
    monkeypatch.setattr(forkserver, "available", lambda: False)
    subs, out = tmp_path / "subs", tmp_path / "out"
    for student in ("reference", "read-hidden"):
        write_submission(subs, student, A, NB, CLASS[student][0])
    pipeline.grade(A, subs, out, limits=LIMITS)
    spec = next((out / "_nbgrader" / "jupyter" / "kernels").glob("*/kernel.json"))
    assert "autograder.sandbox" in json.loads(spec.read_text())["argv"]
    with open(out / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert float(rows["reference"]["score"]) == FULL
    feedback = html.unescape((out / "feedback" / "read-hidden" / A / f"{NB}.html").read_text())
    assert feedback.count("No such file or directory") == 2  # hidden checks, solutions


def test_a_later_run_keeps_the_fork_server_and_its_kernels_get_their_own_settings(tmp_path):
    """A process that grades again keeps its kernels' fork server (a suite grades dozens
    of classes), but a kernel takes its run's settings from its own request, never from
    the run that started the server: a second run, with a notebook limit of 3 s, stops
    the notebook that slept 8 s through the first. Each run hands its kernels their
    settings and leaves the grading process's own environment as it was."""
    needs_sandbox()
    if not forkserver.available():
        pytest.skip("forked kernels need POSIX and no GPU (CUDA does not survive a fork)")
    sleeper = with_cell("import time\ntime.sleep(8)")
    servers, rows = [], []
    environment = dict(os.environ)
    for run, limits in (
        ("first", LIMITS),
        ("second", dataclasses.replace(LIMITS, notebook_timeout=3)),
    ):
        subs, out = tmp_path / run / "subs", tmp_path / run / "out"
        write_submission(subs, "sleeper", A, NB, sleeper)
        pipeline.grade(A, subs, out, limits=limits)
        # (nbgrader's own `setenv` leaves NBGRADER_EXECUTION behind when a notebook fails.)
        assert {**os.environ, "NBGRADER_EXECUTION": ""} == {**environment, "NBGRADER_EXECUTION": ""}
        servers.append(forkserver._server[1].pid)
        with open(out / "grades.csv") as f:
            rows.append(next(csv.DictReader(f)))
    assert servers[0] == servers[1]
    assert rows[0]["status"] == "graded" and float(rows[0]["score"]) == FULL
    assert "ran past its time limit (3 s)" in rows[1]["status"], rows[1]


def test_the_students_process_never_holds_the_hidden_checks(graded):
    """A submission searches its whole process (modules, gc objects, files it can open),
    before the tests and while the checker calls it, for a name only the hidden checks
    hold: it finds nothing, and no feedback page shows it."""
    _, out, *_ = graded
    page = html.unescape((out / "feedback" / "search-for-hidden" / A / f"{NB}.html").read_text())
    assert "hidden things found: 0 []" in page
    for page in (out / "feedback").rglob("*.html"):
        if page.parent.parent.name != "search-for-hidden":  # its own code names it
            assert MARKER not in page.read_text(), page


def test_no_kernel_reaches_the_graders_fork_servers(graded):
    """The sockets of the workers' fork server (in a 0700 folder of the grader's /tmp) and
    of the kernel fork server: a kernel that connects to every one it can find among the
    machine's Unix sockets reaches none (its /tmp is its own, its user another)."""
    needs_sandbox()
    _, out, *_ = graded
    student = "reach-the-fork-servers"
    page = html.unescape((out / "feedback" / student / A / f"{NB}.html").read_text())
    seen = re.search(r"fork server sockets seen: (\d+) reached: 0 \[\]", page)
    assert seen and int(seen[1]) >= 1, "the attack found no socket to try"  # else it proves nothing


def test_cells_after_the_last_graded_one_are_not_run(graded):
    """They cannot change a score, so the grader does not spend time on them (a project's
    closing training run, an endless loop) and its feedback says so."""
    _, out, *_ = graded
    folder = out / "feedback" / "experiment-after-the-tests" / A
    page = html.unescape((folder / f"{NB}.html").read_text())
    assert "ran-after-the-tests" not in page
    assert page.count(checked_execute.NOT_RUN.strip()) == 2  # 01's "try it" cell, and this


def test_feedback_shows_what_student_cells_display_as_text_only(graded):
    _, out, *_ = graded
    page = (out / "feedback" / "forged-report" / A / f"{NB}.html").read_text()
    assert "<script>document.title" not in page
    assert "<b>48 of 48</b>" not in page
    assert "<script>window.forged" not in page
    # The report under each graded cell is the checker's: 0 points, whatever was printed.
    assert "step: 0 of 4 points" in html.unescape(page)


def test_checks_that_lend_hidden_models_cannot_be_skipped_by_hiding_output(tmp_path):
    """On an assignment whose checks lend hidden models to the student's training loop
    (03): hiding every output (nbgrader's full marks for a cell that shows nothing)
    scores 0; a correct notebook scores full."""
    from helpers import EXERCISE_SPECS

    assignment = "03-language-models"
    notebook = EXERCISE_SPECS[assignment].notebook
    release = json.loads((pipeline.EXERCISES / assignment / f"{notebook}.ipynb").read_text())
    release["cells"].insert(1, nbformat.v4.new_code_cell(NO_DISPLAY))
    write_submission(tmp_path / "in", "no-display", assignment, notebook, release)
    write_submission(
        tmp_path / "in", "reference", assignment, notebook, student_notebook(assignment, notebook)
    )
    pipeline.grade(assignment, tmp_path / "in", tmp_path / "out", limits=LIMITS)
    with open(tmp_path / "out" / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert float(rows["no-display"]["score"]) == 0
    assert float(rows["reference"]["score"]) == EXERCISE_SPECS[assignment].points


# The reference's probe results (what names a slip's family in a hint) must stay with the
# grader: exercise 2's visible check feeds rnn_forward the probe's own input, so a function
# that found them could pass that check without computing anything.
ANSWERS_FROM_THE_PROBES = '''
def rnn_forward(x, W_ih, W_hh, b, h0=None):
    """Computes nothing: answers from the reference's probe results wherever found."""
    import json

    found = {}
    try:
        from rnncourse import diagnosis

        found = diagnosis.reference_fingerprints()
    except Exception:
        pass
    for path in PLACES:
        try:
            found = found or json.loads(open(path).read())
        except OSError:
            pass
    if "rnn_forward" in found:
        results = [
            torch.tensor(r["values"], dtype=torch.float64).reshape(r["shape"])
            for r in found["rnn_forward"]
        ]
        if x.shape == results[4].shape and torch.allclose(x.cpu().double(), results[4]):
            pair = results[0:2] if h0 is not None else results[2:4]
            return tuple(r.to(x.dtype).to(x.device) for r in pair)
    return x.new_zeros(*x.shape[:2], W_hh.shape[0]), x.new_zeros(x.shape[0], W_hh.shape[0])
'''
ZEROS = """
def rnn_forward(x, W_ih, W_hh, b, h0=None):
    return x.new_zeros(*x.shape[:2], W_hh.shape[0]), x.new_zeros(x.shape[0], W_hh.shape[0])
"""
STATES_ONE_STEP_LATE = """
def rnn_forward(x, W_ih, W_hh, b, h0=None):
    h = x.new_zeros(x.shape[0], W_hh.shape[0]) if h0 is None else h0
    states = []
    for x_t in x.unbind(dim=1):
        states.append(h)
        h = rnn_cell(x_t, h, W_ih, W_hh, b)
    return torch.stack(states, dim=1), h
"""


def test_no_function_can_answer_from_the_probes_results_and_families_reach_feedback(tmp_path):
    """Graded through the real pipeline: the lookup scores exactly as its fallback, and the
    family of a slip outside the bank is named in the graded feedback, where the checker
    holds the reference's probe results."""
    places = [
        str(pipeline.REPO / "rnncourse" / "reference_fingerprints.json"),
        str(pipeline.SOLUTIONS / "reference_fingerprints.json"),
    ]
    lookup = ANSWERS_FROM_THE_PROBES.replace("PLACES", repr(places))
    subs, out = tmp_path / "in", tmp_path / "out"
    for student, code in (("lookup", lookup), ("zeros", ZEROS), ("late", STATES_ONE_STEP_LATE)):
        notebook = student_notebook("02-bptt", "bptt", {"rnn_forward": code})
        write_submission(subs, student, "02-bptt", "bptt", notebook)
    pipeline.grade("02-bptt", subs, out, limits=LIMITS)
    with open(out / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    cell = "bptt:test_rnn_forward"
    assert float(rows["zeros"][cell]) < 6
    assert rows["lookup"][cell] == rows["zeros"][cell]
    feedback = (out / "feedback" / "late" / "02-bptt" / "bptt.html").read_text()
    assert "one step late along dimension 1" in html.unescape(feedback)


# Exercise 8 counts the torch calls a scan makes, in the student's process, to tell a
# loop over time from a scan of depth log T. Three ways a loop could try to hide there.
LOOP_BODY = """
    h, states = h0, []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        states.append(h)
    return torch.stack(states, dim=1)
"""
HIDDEN_LOOPS = {
    # PyTorch's own switch for every function mode: the counter sees nothing.
    "switched-off": "def parallel_scan(a, b, h0):\n    with torch._C.DisableTorchFunction():"
    + LOOP_BODY.replace("\n    ", "\n        "),
    # The helper package's own pause (meant for values on their way to the grader).
    "on-the-wire": "def parallel_scan(a, b, h0):\n    from rnncourse import observing\n\n"
    "    with observing.on_the_wire():" + LOOP_BODY.replace("\n    ", "\n        "),
    # The loop in NumPy: a handful of torch calls, whatever T.
    "numpy": """
def parallel_scan(a, b, h0):
    a_, b_ = a.detach().cpu().numpy(), b.detach().cpu().numpy().copy()
    h = h0.detach().cpu().numpy()
    for t in range(a_.shape[1]):
        h = a_[:, t] * h + b_[:, t]
        b_[:, t] = h
    return torch.from_numpy(b_).to(a.device)
""",
}


def test_a_loop_hidden_from_the_call_counter_loses_the_points_or_is_flagged(tmp_path):
    """Through the real pipeline: a loop in NumPy loses the log-depth check (and the
    gradient and GPU checks) without a flag; a loop hidden from the counter by PyTorch's
    switch or by the helper package's pause keeps those points but is flagged for a
    person to read; the reference is neither."""
    assignment, notebook = "08-linear-recurrences", "linear_recurrences"
    subs, out = tmp_path / "in", tmp_path / "out"
    write_submission(
        subs, "reference", assignment, notebook, student_notebook(assignment, notebook)
    )
    for student, code in HIDDEN_LOOPS.items():
        submission = student_notebook(assignment, notebook, {"parallel_scan": code})
        write_submission(subs, student, assignment, notebook, submission)
    pipeline.grade(assignment, subs, out, limits=LIMITS)
    with open(out / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    cell = f"{notebook}:test_scan"
    assert float(rows["reference"][cell]) == 7 and not rows["reference"]["flags"]
    assert float(rows["numpy"][cell]) <= 7 - 2 and not rows["numpy"]["flags"]
    assert "torch._C" in rows["switched-off"]["flags"]
    assert "rnncourse.observing" in rows["on-the-wire"]["flags"]
    feedback = html.unescape(
        (out / "feedback" / "numpy" / assignment / f"{notebook}.html").read_text()
    )
    assert "takes values out of PyTorch" in feedback


# Exercise 4 counts the fast layer's torch calls in the student's process (a loop that
# updates the cell sample by sample makes many more): the same three ways to hide them.
SLOW_UPDATE = """
        c = torch.stack([torch.sigmoid(f[n]) * c[n] + torch.sigmoid(i[n]) * torch.tanh(g[n])
                         for n in range(len(c))])
        h = torch.stack([torch.sigmoid(o[n]) * torch.tanh(c[n]) for n in range(len(c))])"""
NUMPY_UPDATE = """
        import numpy as np

        i, f, g, o, c = (t.detach().cpu().numpy() for t in (i, f, g, o, c))
        c = 1 / (1 + np.exp(-f)) * c + 1 / (1 + np.exp(-i)) * np.tanh(g)
        h = torch.from_numpy(1 / (1 + np.exp(-o)) * np.tanh(c)).to(x.device)
        c = torch.from_numpy(c).to(x.device)"""


def fast_layer(prelude: str, update: str) -> str:
    return f"""
def fast_lstm_forward(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh):
    projected = x.transpose(0, 1) @ weight_ih.T + (bias_ih + bias_hh)
    h, c = h0, c0
    outputs = []
    for step in projected:
        i, f, g, o = (step + h @ weight_hh.T).chunk(4, dim=1){prelude}{update}
        outputs.append(h)
    return torch.stack(outputs, dim=1), (h, c)
"""


SLOW_LAYERS = {
    "switched-off": fast_layer(
        "\n        with torch._C.DisableTorchFunction():", SLOW_UPDATE.replace("\n", "\n    ")
    ),
    "on-the-wire": fast_layer(
        "\n        from rnncourse import observing\n\n        with observing.on_the_wire():",
        SLOW_UPDATE.replace("\n", "\n    "),
    ),
    "numpy": fast_layer("", NUMPY_UPDATE),
}


def test_a_slow_layer_hidden_from_the_call_counter_loses_the_point_or_is_flagged(tmp_path):
    """Through the real pipeline, exercise 4's fast layer: an update in NumPy loses the
    counted-work point without a flag; one hidden from the counter by PyTorch's switch or
    by the helper package's pause keeps it but is flagged for a person to read."""
    assignment, notebook = "04-lstm-gru", "lstm_gru"
    subs, out = tmp_path / "in", tmp_path / "out"
    write_submission(
        subs, "reference", assignment, notebook, student_notebook(assignment, notebook)
    )
    for student, code in SLOW_LAYERS.items():
        submission = student_notebook(assignment, notebook, {"fast_lstm_forward": code})
        write_submission(subs, student, assignment, notebook, submission)
    pipeline.grade(assignment, subs, out, limits=LIMITS)
    with open(out / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    cell = f"{notebook}:test_fast_lstm"
    full = float(rows["reference"][cell])
    assert full == 6 and not rows["reference"]["flags"]
    assert float(rows["numpy"][cell]) < full and not rows["numpy"]["flags"]
    assert "torch._C" in rows["switched-off"]["flags"]
    assert "rnncourse.observing" in rows["on-the-wire"]["flags"]
    feedback = html.unescape(
        (out / "feedback" / "numpy" / assignment / f"{notebook}.html").read_text()
    )
    assert "takes values out of PyTorch" in feedback
