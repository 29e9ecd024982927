"""Grading without Jupyter: a notebook's code runs in a Python process of its own, which
answers the real checker (autograder/checker.py) at each graded cell, as a kernel does.

What it keeps from real grading: the checker, its hidden checks from `solutions/`, the
protocol over a Unix socket, the instruments and canaries. What it leaves out: the
Jupyter kernel, the sandbox and nbgrader (tests/test_exercises.py grades real
notebooks through all of them). It is for the many notebooks whose per-cell points
are all that matters, such as one per known mistake: each costs its own code's time
and little more, where a kernel and nbgrader add several seconds.

A graded cell whose check can only see what the reference solution showed it is not
checked again: its points are the reference's (see `Unchanged`). That is what makes a
known mistake in one function cheap when another cell trains a model for seconds, or
checks a later function with correct versions of the earlier ones lent in their place.
"""

import contextlib
import hashlib
import multiprocessing
import os
import pickle
import socket
import sys
import threading
import time
import types
from dataclasses import dataclass

import torch

from autograder import checker, pipeline
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
    reused: list[str]  # graded cells whose points are the reference's (see `Unchanged`)


class Unchanged:
    """What each graded cell's check saw of the reference solution's namespace: the names
    it asked the kernel for, and every name their code uses in turn, each with a
    fingerprint of its value just before the cell.

    A notebook whose namespace holds the same fingerprints under those names before the
    cell gives the checker nothing new to see there, so the check (deterministic: the
    checker seeds every call) would give the reference's points again: they are reused.
    Fingerprints are conservative: a value they cannot read (a model object, a closure)
    never matches, and its cell is checked.

    A name the check lent a value of its own for the whole time it talked to the notebook
    (`replaced(globals(), name=...)`, around every request) is left out: the notebook's
    own value was never seen."""

    def __init__(self):
        self.seen: dict[str, tuple[dict, tuple[float, str]]] = {}

    def record(self, grade_id, asked, namespace, before, outcome, lent=frozenset()):
        names = _closure(asked, namespace, lent)
        self.seen[grade_id] = ({n: before.get(n, _MISSING) for n in names}, outcome)

    def outcome_if_unchanged(self, grade_id, namespace):
        if grade_id not in self.seen:
            return None
        fingerprints, outcome = self.seen[grade_id]
        for name, expected in fingerprints.items():
            found = _fingerprint(namespace[name]) if name in namespace else _MISSING
            if found != expected:
                return None
        return outcome


_MISSING = ("missing",)


def _codes(value):
    """The code objects of a function or of a notebook class's methods."""
    if isinstance(value, types.FunctionType):
        return [value.__code__]
    if isinstance(value, type) and value.__module__ == "__main__":
        found = []
        for member in vars(value).values():
            member = getattr(member, "__func__", member)  # staticmethod, classmethod
            if isinstance(member, property):
                found += [f.__code__ for f in (member.fget, member.fset) if f]
            elif isinstance(member, types.FunctionType):
                found.append(member.__code__)
        return found
    return []


def _names_in(code) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_in(const)
    return names


def _closure(names, namespace, lent=frozenset()) -> set[str]:
    """`names`, and every name that the code of their values uses, transitively; `lent`
    names, which the notebook's code could only find lent, neither, nor what they use."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen or name in lent:
            continue
        seen.add(name)
        for code in _codes(namespace.get(name)):
            todo.extend(_names_in(code) - seen)
    return seen


def _code_fingerprint(code) -> tuple:
    consts = tuple(
        _code_fingerprint(c) if isinstance(c, types.CodeType) else _fingerprint(c)
        for c in code.co_consts
    )
    return (code.co_code, code.co_names, code.co_varnames, code.co_freevars, consts)


def _fingerprint(value):
    """A comparable summary of `value`, or a fresh object (equal to nothing) for a value
    it cannot summarise."""
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return ("value", type(value).__name__, repr(value))
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    if isinstance(value, torch.Tensor) and value.layout == torch.strided:
        data = value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
        digest = hashlib.sha1(data.tobytes()).hexdigest()
        return ("tensor", str(value.dtype), tuple(value.shape), value.requires_grad, digest)
    if isinstance(value, torch.device | torch.dtype):
        return ("torch", repr(value))
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(_fingerprint(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((_fingerprint(k), _fingerprint(v)) for k, v in value.items()))
    if getattr(value, "__module__", None) != "__main__" and isinstance(
        value, types.FunctionType | types.BuiltinFunctionType | type
    ):
        return ("library", value.__module__, value.__qualname__)
    if isinstance(value, types.FunctionType) and value.__closure__ is None:
        defaults = _fingerprint(value.__defaults__), _fingerprint(value.__kwdefaults__)
        return ("function", _code_fingerprint(value.__code__), defaults)
    if isinstance(value, type) and value.__module__ == "__main__":
        members = tuple(
            (k, _fingerprint(getattr(v, "__func__", v)))
            for k, v in vars(value).items()
            if k not in ("__dict__", "__weakref__", "__module__", "__doc__", "__qualname__")
        )
        return ("class", value.__name__, tuple(_fingerprint(b) for b in value.__bases__), members)
    if isinstance(value, property):
        return ("property", _fingerprint(value.fget), _fingerprint(value.fset))
    return ("opaque", object())


class _RecordingPeer(remote.KernelPeer):
    """A kernel peer that notes which names of the notebook the checker asks for, and
    which names were lent (`self.lent`, the kernel peer's stack) during every request
    that could read the namespace or run the notebook's code."""

    BOOKKEEPING = ("lend", "unlend", "release", "done")

    @staticmethod
    def reads_the_notebook(message) -> bool:
        """False for a request that cannot reach the notebook's names or code: bookkeeping,
        and a call of a library function by name (such as the checker's canaries) with
        no object of the notebook among its arguments."""
        op = message.get("op")
        if op in _RecordingPeer.BOOKKEEPING:
            return False
        target = message.get("target")
        by_name = isinstance(target, dict) and target.get("t") == "ref"
        return not (op == "call" and by_name and not _mentions_handle(message))

    def __init__(self, sock, namespace, asked: set):
        super().__init__(sock, namespace)
        self.asked = asked
        self.always_lent: set[str] | None = None  # None: no request yet

    def handle_request(self, message, data):
        op = message.get("op")
        if op == "global":
            self.asked.add(str(message.get("name")))
        if self.reads_the_notebook(message):
            lent_now = set().union(*self.lent)
            self.always_lent = lent_now if self.always_lent is None else self.always_lent & lent_now
        return super().handle_request(message, data)


def _mentions_handle(value) -> bool:
    """Whether an encoded message holds a handle (an object living in the notebook)."""
    if isinstance(value, dict):
        return value.get("t") == "handle" or any(_mentions_handle(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_handle(v) for v in value)
    return False


# The reference solution's checks, recorded by each pool worker's warm-up; the children
# it forks inherit it.
_reference: Unchanged | None = None


def _grade(assignment: str, notebook: str, nb: dict, record: Unchanged | None = None) -> Graded:
    """One notebook's points and reports; run in a child process (it runs the notebook's
    code in this process's globals). With `record`, note what each check saw."""
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
    graded, reused = {}, []
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
            known = _reference and _reference.outcome_if_unchanged(grade_id, namespace)
            if known:
                graded[grade_id] = known
                reused.append(grade_id)
                continue
            before = {n: _fingerprint(v) for n, v in namespace.items()} if record else {}
            worker = threading.Thread(target=session.check_cell, args=(grade_id, stop))
            worker.start()
            asked = set()
            peer = _RecordingPeer(sock, namespace, asked)
            while not peer.done:
                message, data = peer.receive()
                peer.serve_one(message, data)
            worker.join()
            timings.append((grade_id, time.perf_counter() - start))
            graded[grade_id] = session.outcome(grade_id, float(meta["points"]))
            if record:
                lent = peer.always_lent or set()
                record.record(grade_id, asked, namespace, before, graded[grade_id], lent)
    finally:
        sock.close()
        session.close()
    return Graded(graded, list(session.tampered), timings, reused)


def _warm_up(assignment: str, notebook: str, reuse: bool) -> None:
    """Run once in each pool worker: grade the reference solution, so that what every
    notebook of the assignment pays once (imports, data files parsed and cached, such as
    Project A's chorales) is paid before the worker forks a child per notebook; with `reuse`,
    record what its checks saw."""
    global _reference
    torch.set_num_threads(1)  # before any computation: a fork must not inherit OpenMP threads
    from helpers import student_notebook

    seen = Unchanged()
    _grade(assignment, notebook, student_notebook(assignment, notebook), seen)
    _reference = seen if reuse else None


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


def grade_many(
    assignment: str, notebook: str, notebooks: dict[str, dict], workers: int = 2, reuse=True
):
    """{name: Graded} for each notebook of `notebooks` (name -> notebook), each in a fresh
    process, `workers` at a time; with `reuse`, a cell that can see nothing other than the
    reference showed it gets the reference's points without being checked again.

    Each worker forks from multiprocessing's fork server, which has imported torch and the
    checker but never computed: a process forked from one whose OpenMP threads ran (as
    pytest's has) hangs at its first parallel matmul. A worker warms up on the reference
    solution with one thread, then forks a child per notebook."""
    context = multiprocessing.get_context("forkserver")
    # One fork server per process, whichever starts it first: the pipeline's workers
    # (autograder/pipeline.py) fork from it too, so it preloads what both need.
    context.set_forkserver_preload([*pipeline.WORKER_MODULES, __name__])
    jobs = [(assignment, notebook, nb) for nb in notebooks.values()]
    with context.Pool(
        workers, initializer=_warm_up, initargs=(assignment, notebook, reuse)
    ) as pool:
        results = pool.map(_grade_in_child, jobs, chunksize=1)
    return dict(zip(notebooks, results, strict=True))
