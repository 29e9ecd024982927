"""One student's notebooks through nbgrader's autograde, in a worker process: a local one
(autograder/pipeline.py) or one on a Dask cluster (autograder/scale.py). `Job` is what
every notebook of a grading run shares; it travels to the workers."""

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from autograder import forkserver, protection, sandbox
from autograder.config import (
    CELL_TIMEOUT,
    MEMORY_LIMIT,
    NOTEBOOK_TIMEOUT,
    REPO,
    kernel_socket_dir,
    nbgrader_config,
)


@dataclass
class Limits:
    """How long and how much a grading kernel may take."""

    cell_timeout: int = CELL_TIMEOUT
    notebook_timeout: int = NOTEBOOK_TIMEOUT
    memory_bytes: int = MEMORY_LIMIT


@dataclass
class Job:
    """What every notebook of one grading shares; it travels to the worker processes."""

    assignment: str
    root: Path  # OUT/_nbgrader
    db_url: str
    limits: Limits
    kernel_name: str | None  # the sandbox's kernel, or None for the notebook's own
    kernel_env: dict  # environment variables for the grading kernels
    kernel_specs: str | None = None  # the folder of the grading kernel's kernelspec
    threads: int = 1  # each kernel's share of the cores (a Dask worker sets its own)
    forkserver: str | None = None  # the socket of a fork server the workers share


def threads_per_kernel(kernels: int) -> int:
    """Each of `kernels` kernels' share of this machine's cores: PyTorch in every kernel
    would otherwise start one thread per core, and their threads would fight over them."""
    return max(1, (os.cpu_count() or 1) // kernels)


def kernel_settings(job: Job) -> dict:
    """What a grading kernel's environment adds to this process's, handed to each kernel
    as it starts (autograder/checked_execute.py), never set in the process that grades:
    the job's variables (the guard's and the sandbox's settings), this process's course
    first on the import path (so that a kernel imports the code its checker runs, on a
    Dask worker too) and the kernel's share of the cores."""
    repo = str(REPO)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != repo]
    return {
        **job.kernel_env,
        "PYTHONPATH": os.pathsep.join([repo, *paths]),
        "OMP_NUM_THREADS": str(job.threads),
    }


def nbgrader_api(root: Path, **kwargs):
    """nbgrader's own API for a course folder at `root`, with the course's settings."""
    from nbgrader.apps import NbGraderAPI

    # nbgrader runs `alembic` (next to this Python) to set up its gradebook.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")

    return NbGraderAPI(config=nbgrader_config(root, **kwargs))


def autograde_one(job: Job, student: str) -> tuple[str, tuple[bool, str, list[str]]]:
    """Autograde one student and write their feedback; (student, (success, log, flags)).

    Runs in a worker process (local or on a Dask cluster), or in the grading process:
    the kernels' environment comes with the job (`kernel_settings`), and this
    process's own is left as it is."""
    from autograder.checked_execute import FLAGS  # (imports torch: only workers need it)

    # nbgrader's gradebook triggers harmless SQLAlchemy "not in session" warnings.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    env = kernel_settings(job)
    if job.forkserver:  # the grading process's own, shared by its workers
        env[forkserver.SOCKET_ENV] = job.forkserver
    elif job.kernel_name == forkserver.KERNEL_NAME:
        env[forkserver.SOCKET_ENV] = forkserver.ensure_server(env)
    api = nbgrader_api(
        job.root,
        db_url=job.db_url,
        cell_timeout=job.limits.cell_timeout,
        kernel_name=job.kernel_name,
        kernel_specs=job.kernel_specs,
        kernel_env=env,
    )
    graded = api.autograde(job.assignment, student, force=True, create=True)
    flags = []
    for key in [k for k in FLAGS if k[0] == student]:
        flags += FLAGS.pop(key)
    if graded["success"]:
        flags += protection.apply_guard_reports(job.root, job.assignment, student, job.db_url)
        api.generate_feedback(job.assignment, student, force=True)
    log = graded.get("log") or ""
    timeout_note = kernel_socket_dir() / sandbox.TIMEOUT_NOTE
    if timeout_note.exists():
        timeout_note.unlink()
        log += f"\nthe notebook ran past its time limit ({job.limits.notebook_timeout} s)"
    return student, (bool(graded["success"]), log, flags)
