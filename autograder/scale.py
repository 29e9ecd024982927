"""Grading a class that outgrows one machine: a Dask cluster, a gradebook on a server.

`python -m autograder grade ... --scheduler tcp://HOST:8786` sends each student's
notebook to an existing Dask cluster instead of local processes; `--db URL` keeps
nbgrader's gradebook in a database server (PostgreSQL) instead of the SQLite file
OUT/_nbgrader/gradebook.db. Either one alone, or both.

The cluster's workers must see the course folder (this repository) and OUT at the
same absolute paths as the machine that runs the command: a shared file system.
Each worker runs one grading kernel at a time (start them with `--nthreads 1`, and
`--nworkers N` for N kernels on a machine); `grade_on_cluster` checks what it can
before it submits anything.
"""

import dataclasses
import os
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path

from autograder.config import REPO

# Waiting for a first worker to join, and for the scheduler to answer, in seconds.
CONNECT_TIMEOUT = 60


def prepare_gradebook(db_url: str, assignment: str) -> None:
    """Make a gradebook that outlives OUT/_nbgrader ready for a run of `assignment`.

    Removes the assignment and every submission graded for it, so a re-run on the
    same database starts clean (other assignments and students stay). And adds the
    course with the empty id that nbgrader files assignments under when no course id
    is configured: SQLite does not check that foreign key, PostgreSQL does."""
    import warnings

    from nbgrader.api import Course, Gradebook, MissingEntry

    from autograder.config import read_gradebook_revision_here

    read_gradebook_revision_here()
    warnings.filterwarnings("ignore", message=".*not in session.*")
    with Gradebook(db_url) as gradebook:
        try:
            gradebook.remove_assignment(assignment)
        except MissingEntry:
            pass
        if gradebook.db.get(Course, "") is None:
            gradebook.db.add(Course(id=""))
            gradebook.db.commit()


def grade_on_cluster(scheduler: str, job, students: list[str]):
    """Yield (student, (success, log, flags)) for every student, as the cluster at
    `scheduler` finishes them: the same outcome as `autograde.autograde_one` gives locally."""
    from distributed import Client, as_completed

    root = Path(job.root).resolve()
    with Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False) as client:
        slots = _check_workers(client, root)
        run = uuid.uuid4().hex[:8]
        futures = [
            client.submit(
                _grade_on_worker,
                job,
                student,
                slots,
                key=f"autograde-{job.assignment}-{student}-{run}",
                pure=False,
            )
            for student in students
        ]
        for future in as_completed(futures, loop=client.loop):
            yield future.result()


def _check_workers(client, root: Path) -> dict[str, int]:
    """Fail early, with the reason, where workers cannot grade; return the number of
    worker processes on each host (they share its cores)."""
    from distributed.comm import get_address_host

    if not client.nthreads():
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except TimeoutError:
            raise SystemExit(
                f"no Dask worker joined the scheduler within {CONNECT_TIMEOUT} s"
            ) from None
    try:
        # The scheduler unpickles the tasks too: it must import the autograder.
        client.run_on_scheduler(_missing_folders, [])
        missing = client.run(_missing_folders, [str(REPO), str(root)])
    except Exception as error:  # the remote error comes back as a plain Exception
        raise SystemExit(
            f"the Dask scheduler or a worker could not run the autograder ({error}): start "
            f"them with the course's Python environment and PYTHONPATH={REPO}"
        ) from None
    blind = {worker: paths for worker, paths in missing.items() if paths}
    if blind:
        worker, paths = next(iter(blind.items()))
        raise SystemExit(
            f"{len(blind)} Dask worker(s) cannot see the course folder, e.g. {worker} lacks "
            f"{', '.join(paths)}: --scheduler needs a file system shared at the same paths"
        )
    nthreads = client.nthreads()
    if any(n > 1 for n in nthreads.values()):
        print(
            "note: workers with several threads grade one notebook at a time; "
            "start them with --nthreads 1 --nworkers N for N kernels per machine",
            file=sys.stderr,
        )
    return dict(Counter(get_address_host(address) for address in nthreads))


def _missing_folders(paths: list[str]) -> list[str]:
    """Runs on every worker: the folders of `paths` that this worker cannot see."""
    return [path for path in paths if not os.path.isdir(path)]


# A worker process grades one notebook at a time: nbgrader's captured log and the
# kernel's socket names are per process, not per thread.
_ONE_AT_A_TIME = threading.Lock()


def _grade_on_worker(job, student, slots_by_host):
    """Runs on a Dask worker: grade one student's notebook in its own kernel.

    What the kernel's environment takes from the worker, never from the client: the
    course's code where this worker imports it (autograde.kernel_settings), and the
    host's cores shared between the worker processes on it."""
    from distributed import get_worker
    from distributed.comm import get_address_host

    from autograder.autograde import autograde_one, threads_per_kernel

    worker = get_worker()
    processes = slots_by_host.get(get_address_host(worker.address), 1)
    threads = threads_per_kernel(processes)
    with _ONE_AT_A_TIME:
        return autograde_one(dataclasses.replace(job, threads=threads), student)
