"""Release exercises and grade a class, as small steps over nbgrader.

grade() runs, in order, holding OUT/.grading.lock (autograder/resume.py):
  1. prepare_course   the nbgrader course folder OUT/_nbgrader (kept between runs)
  2. collect          copy each student's notebooks into nbgrader's layout
  3. generate         record the assignment (with its hidden tests) in the gradebook
  4. autograde        run every new or changed submission in a guarded, sandboxed
                      kernel (autograder/protection.py); locked test cells are
                      restored from source
  5. feedback         one HTML page per notebook, hidden tests removed
  6. write_grades     grades.csv: one row per student, one column per graded cell,
                      a status and the flags for review
  7. write_summary    summary.csv and summary.png: score distribution, pass rate per cell
  8. similarity       similarity.csv and .html: students with similar answers, for a
                      person to read (autograder/similarity.py); never a grade
"""

import contextlib
import csv
import dataclasses
import importlib
import json
import multiprocessing
import os
import re
import select
import shutil
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from autograder import (
    forkserver,
    intake,
    lms,
    protection,
    resume,
    safe_feedback,
    scale,
)
from autograder.autograde import (
    Job,
    Limits,
    autograde_one,
    kernel_settings,
    nbgrader_api,
    threads_per_kernel,
)
from autograder.config import (
    EXERCISES,
    REPO,
    SOLUTIONS,
    gradebook_url,
)
from autograder.report import score_line, write_summary

# A student id becomes a folder name: keep it to plain characters.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


@dataclass
class StudentResult:
    student_id: str
    score: float = 0.0
    max_score: float = 0.0
    cells: dict = field(default_factory=dict)  # "notebook:grade_id" -> points
    status: str = "graded"
    flags: list = field(default_factory=list)  # reasons for a human to look at it
    notes: list = field(default_factory=list)  # what was done, nothing suspicious


def assignments() -> list[str]:
    """Every assignment, in the order of course.toml."""
    from autograder.course import chapters

    return [c.slug for c in chapters()]


def grade_cells(assignment: str) -> list[tuple[str, str, float]]:
    """(notebook, grade_id, points) for every graded cell, in notebook order."""
    cells = []
    for path in sorted((SOLUTIONS / assignment).glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                cells.append((path.stem, meta["grade_id"], float(meta["points"])))
    return cells


def release(assignment: str, exercises: Path = EXERCISES, workdir: Path | None = None) -> None:
    """Write the student version of `assignment` (solutions and hidden tests removed)."""
    workdir = Path(workdir or REPO / "_grading" / "release")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "gradebook.db").unlink(missing_ok=True)  # a release needs no history
    api = nbgrader_api(workdir, release=Path(exercises))
    result = api.generate_assignment(assignment, force=True)
    if not result["success"]:
        raise RuntimeError(f"release of {assignment} failed:\n{result.get('log', '')}")


def prepare_course(out: Path, *, restart: bool = False) -> Path:
    """OUT/_nbgrader, kept from an earlier run unless `restart`."""
    root = Path(out) / "_nbgrader"
    if restart and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    return root


def collect(assignment: str, submissions: Path, root: Path):
    """Copy submissions into `root/submitted`.

    Returns (student ids, problems: student id -> what was wrong with their files,
    notes: student id -> remarks for the notes column, flags: student id -> what their
    notebooks' cells and metadata show (autograder/intake.py), skipped: messages about
    folders that are not students). An unreadable notebook is left out (it scores
    zero) instead of stopping the student's whole grading; a single notebook under
    another name ("activations (1).ipynb", as browsers save a second download) is
    graded as the one that is missing.
    """
    import nbformat

    expected = {f"{nb}.ipynb" for nb, _, _ in grade_cells(assignment)}
    students, problems, notes, flags, skipped = [], {}, {}, {}, []
    for folder in sorted(Path(submissions).iterdir()):
        if not folder.is_dir():
            continue
        if not STUDENT_ID.match(folder.name):
            skipped.append(f"{folder.name!r}: not a valid student id, skipped")
            continue
        source = folder / assignment
        target = root / "submitted" / folder.name / assignment
        if target.exists():  # from an earlier run: this run's files replace them
            shutil.rmtree(target)
        target.mkdir(parents=True)
        found, readable, versions = [], {}, {}
        for notebook in sorted(source.glob("*.ipynb")) if source.is_dir() else []:
            if not notebook.is_file() or notebook.is_symlink():
                continue
            try:
                text = notebook.read_text(encoding="utf-8")
                versions[notebook.name] = json.loads(text).get("nbformat")
                # Older formats (nbformat 3) are converted; nbgrader grades version 4.
                readable[notebook.name] = nbformat.reads(text, as_version=4)
            except Exception as error:  # any unreadable file: report it, grade the rest
                found.append(f"unreadable {notebook.name} ({type(error).__name__})")
        unknown = sorted(readable.keys() - expected)
        missing = sorted(expected - readable.keys())
        noted = notes.setdefault(folder.name, [])
        if len(unknown) == 1 and len(missing) == 1:
            readable[missing[0]] = readable.pop(unknown[0])
            versions[missing[0]] = versions.pop(unknown[0])
            noted.append(f"graded {unknown[0]!r} as {missing[0]}")
        elif unknown:
            noted.append(f"ignored unexpected notebook(s): {', '.join(unknown)}")
        for name in sorted(expected & readable.keys()):
            seen, suspicious = intake.inspect(
                readable[name], assignment, Path(name).stem, versions[name]
            )
            noted += seen
            flags.setdefault(folder.name, []).extend(suspicious)
            nbformat.write(readable[name], target / name)
        if not any(target.iterdir()):
            found.append(f"no readable notebook named {' or '.join(sorted(expected))}")
        if found:
            problems[folder.name] = "; ".join(found)
        students.append(folder.name)
    return students, problems, notes, flags, skipped


def grade(
    assignment: str,
    submissions: Path,
    out: Path,
    *,
    workers: int | None = None,
    limits: Limits | None = None,
    scheduler: str | None = None,
    db: str | None = None,
    restart: bool = False,
) -> list[StudentResult]:
    """Autograde every student's `assignment` under `submissions`; write results to `out`.

    `workers` notebooks are graded at once, each in its own process and kernel
    (default: one per CPU core); the results do not depend on it. `scheduler` (a Dask
    scheduler's address) grades on that cluster instead, `db` (a database URL) keeps the
    gradebook there instead of OUT/_nbgrader: see autograder/scale.py. A re-run grades
    only new or changed submissions (all of them with `restart`): see autograder/resume.py.
    """
    if assignment not in assignments():
        raise SystemExit(f"unknown assignment {assignment!r}; known: {', '.join(assignments())}")
    out = Path(out).resolve()
    with resume.exclusive(out):
        return _grade(
            assignment, Path(submissions), out, workers, limits or Limits(), scheduler, db, restart
        )


def _grade(assignment, submissions, out, workers, limits, scheduler, db, restart):
    root = prepare_course(out, restart=restart)
    db_url = gradebook_url(root, db)
    notebooks = sorted({nb for nb, _, _ in grade_cells(assignment)})
    kernel_name, kernel_env, kernel_specs = protection.kernel_environment(
        assignment, notebooks, submissions=submissions, out=out, limits=limits
    )
    workers = workers or os.cpu_count() or 1
    threads = threads_per_kernel(workers)
    job = Job(assignment, root, db_url, limits, kernel_name, kernel_env, kernel_specs, threads)
    # The worker processes start (and warm up) while this one prepares the class.
    with _local_workers(job, workers, scheduler) as (pool, job):
        records = resume.Records(root, assignment)
        students, problems, notes, flags, skipped = collect(assignment, submissions, root)
        if db and (restart or records.empty()):
            # A gradebook that outlives OUT/_nbgrader: forget this assignment's last run.
            scale.prepare_gradebook(db_url, assignment)
        api = nbgrader_api(root, db_url=db_url)
        generated = api.generate_assignment(assignment, force=True)
        if not generated["success"]:
            raise RuntimeError(f"could not prepare {assignment}:\n{generated.get('log', '')}")

        # Students graded before, with the same files and the same grading, keep their grade.
        course = resume.course_fingerprint(assignment, repr(limits))
        fingerprints, outcomes = {}, {}
        for student in students:
            folder = root / "submitted" / student / assignment
            if any(folder.iterdir()):
                fingerprints[student] = resume.submission_fingerprint(folder, course)
                outcome = records.get(student, fingerprints[student])
                if outcome and _still_in_gradebook(db_url, assignment, student):
                    outcomes[student] = outcome
        to_grade = [s for s in fingerprints if s not in outcomes]
        if outcomes:
            print(
                f"{len(outcomes)} submission(s) unchanged since the last run: kept",
                file=sys.stderr,
            )
        try:
            for student, outcome in _autograde_all(job, to_grade, pool, scheduler):
                records.put(student, fingerprints[student], outcome)
                outcomes[student] = outcome
        except KeyboardInterrupt:
            raise Interrupted(len(outcomes), len(fingerprints)) from None

    cells = grade_cells(assignment)
    results = [
        _result(
            job, student, outcomes, problems, cells, notes.get(student, []), flags.get(student, [])
        )
        for student in students
    ]
    _copy_feedback(root, out, assignment)
    write_grades(out / "grades.csv", assignment, cells, results)
    write_summary(out, assignment, cells, results)
    # Who is who on the learning platform (lms.collect), for `export`.
    if (submissions / lms.ROSTER).is_file():
        shutil.copyfile(submissions / lms.ROSTER, out / lms.ROSTER)
    from autograder import similarity  # copydetect and pygments: only once grading is done

    try:
        similar = similarity.report(
            assignment, EXERCISES / assignment, root / "submitted", students, out
        )
    except Exception as error:  # the grades are written; a report that fails must not undo that
        similar = []
        print(f"the similarity report failed ({type(error).__name__}: {error})", file=sys.stderr)
    print_summary(assignment, results, skipped, similar)
    return results


def _result(job: Job, student, outcomes, problems, cells, notes, flags) -> StudentResult:
    """One student's row: scores from the gradebook, status, and flags."""
    result = StudentResult(student, max_score=sum(points for *_, points in cells))
    grading_flags = []
    if student not in outcomes:
        result.status = "not graded: " + problems[student]
    else:
        success, log, grading_flags = outcomes[student]
        if success:
            _read_scores(job.db_url, job.assignment, student, cells, result)
        else:
            result.status = "not graded: " + protection.failure_reason(log, job.limits.cell_timeout)
            grading_flags = [*grading_flags, result.status]
        if student in problems:
            result.status = problems[student]
    result.notes = notes
    result.flags = flags + protection.scan_submission(job.root, job.assignment, student)
    result.flags += grading_flags
    result.cells = {f"{nb}:{gid}": result.cells.get(f"{nb}:{gid}", 0.0) for nb, gid, _ in cells}
    return result


def _still_in_gradebook(db_url: str, assignment: str, student: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gradebook:
        try:
            gradebook.find_submission(assignment, student)
        except MissingEntry:
            return False
    return True


@contextlib.contextmanager
def _local_workers(job: Job, workers: int, scheduler: str | None):
    """(`workers` worker processes for this machine, started now, or None where grading
    runs in this process or on a cluster; the job they share). The workers share one fork
    server of kernels, which this process starts now too."""
    if scheduler or workers <= 1:
        yield None, job
        return
    if job.kernel_name == forkserver.KERNEL_NAME:
        path = forkserver.ensure_server(kernel_settings(job), wait=False)
        job = dataclasses.replace(job, forkserver=path)
    # Workers are forked from multiprocessing's fork server, not from this process (which
    # may hold threads): a fresh interpreter that imports the grading code once and never
    # computes. Each worker then starts in milliseconds instead of importing for seconds,
    # and a process that grades several classes (a test suite) keeps the one server.
    context = multiprocessing.get_context(WORKER_START)
    if WORKER_START == "forkserver":
        context.set_forkserver_preload(WORKER_MODULES)  # (ignored once the server runs)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_warm_up,
        initargs=(os.getpid(), dict(os.environ), job.threads),
    )
    try:
        for _ in range(workers):  # a process starts for each task that finds none idle
            pool.submit(int)
        yield pool, job
    except BaseException:  # Ctrl-C, or an error: the notebooks being graded are abandoned
        processes = list(pool._processes.values())  # (no public way to stop a running task)
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.kill()
        raise
    # Their exit (PyTorch torn down) overlaps the summary; the interpreter waits for them
    # before it exits.
    pool.shutdown(wait=False, cancel_futures=True)


# How worker processes start (benchmarks/worker_start.py compares "spawn", a fresh
# interpreter per worker that imports everything itself).
WORKER_START = "forkserver"
# What a worker imports before it grades: in the fork server, once.
WORKER_MODULES = [
    "nbgrader.apps",
    "autograder.checked_execute",  # PyTorch and the checker
    "torch._dynamo",  # imported by the first optimizer a check builds: 1.5 s
]


def _warm_up(grader: int, environ: dict, threads: int) -> None:
    """A worker's start: take the grading process's environment (a worker has the fork
    server's, from when it started), tie its life to the grading process's, and load the
    grading code (already there when forked from the server)."""
    # Ctrl-C reaches every process of the terminal's group: the grader alone handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(environ)
    die_with(grader)
    for name in WORKER_MODULES:
        importlib.import_module(name)
    import torch

    # A kernel's share of the cores (the job's `threads`), for the checks run here.
    torch.set_num_threads(threads)


def die_with(grader: int) -> None:
    """End this process when the process `grader` ends, even by SIGKILL: a thread waits
    for its end. (A worker's parent is the fork server, which outlives the grader as long
    as workers hold its pipe open: PR_SET_PDEATHSIG on the parent would wait forever.) Its
    own children (kernel proxies, kernels) then see it go and end too
    (autograder/forkserver.py)."""
    import threading

    def watch():
        try:
            ended = os.pidfd_open(grader)  # Linux: readable once the process has ended
        except ProcessLookupError:
            os._exit(1)
        except (AttributeError, OSError):  # elsewhere: ask every second
            while _alive(grader):
                time.sleep(1)
        else:
            select.select([ended], [], [])
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="die-with-grader").start()
    if not _alive(grader):  # it went before we could watch
        os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class Interrupted(Exception):
    """Ctrl-C during grading: what was graded is kept, and the same command resumes."""

    def __init__(self, done: int, total: int):
        super().__init__(
            f"interrupted after {done} of {total} notebooks; run the same command to resume"
        )


def _autograde_all(job: Job, students: list[str], pool, scheduler: str | None):
    """Yield (student, (success, log, flags)) for every student: in the worker processes
    of `pool`, on the Dask cluster at `scheduler`, or else one after another here; with
    a progress bar on stderr."""
    from tqdm import tqdm

    progress = tqdm(total=len(students), desc=f"grading {job.assignment}", unit="notebook")
    with progress:
        if scheduler:
            for outcome in scale.grade_on_cluster(scheduler, job, students):
                yield outcome
                progress.update()
            return
        if pool is None:
            for student in students:
                yield autograde_one(job, student)
                progress.update()
            return
        forkserver.wait_until_ready()
        futures = [pool.submit(autograde_one, job, s) for s in students]
        for future in as_completed(futures):
            yield future.result()
            progress.update()


def _read_scores(db_url: str, assignment: str, student: str, cells, result: StudentResult):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gradebook:
        for notebook in sorted({nb for nb, _, _ in cells}):
            try:
                submission = gradebook.find_submission_notebook(notebook, assignment, student)
            except MissingEntry:
                result.status = f"missing notebook {notebook}.ipynb"
                continue
            for g in submission.grades:
                result.cells[f"{notebook}:{g.name}"] = float(g.score or 0.0)
    result.score = round(sum(result.cells.values()), 4)


def _copy_feedback(root: Path, out: Path, assignment: str) -> None:
    """OUT/feedback/<student>/<assignment>/<notebook>.html, with MathJax beside them in
    OUT/feedback/_static (autograder/safe_feedback.py): the pages need no internet."""
    safe_feedback.install_mathjax(out / "feedback")
    script = "../../_static/mathjax/tex-chtml.js"  # from <student>/<assignment>/
    for page in (root / "feedback").glob(f"*/{assignment}/*.html"):
        target = out / "feedback" / page.relative_to(root / "feedback")
        target.parent.mkdir(parents=True, exist_ok=True)
        text = page.read_text(encoding="utf-8")
        target.write_text(safe_feedback.with_local_mathjax(text, script), encoding="utf-8")


def write_grades(path: Path, assignment: str, cells, results: list[StudentResult]) -> None:
    columns = [f"{nb}:{gid}" for nb, gid, _ in cells]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        header = [
            *("student_id", "assignment", "score", "max_score", *columns),
            *("notes", "status", "flags"),
        ]
        writer.writerow(header)
        for r in results:
            writer.writerow(
                [
                    r.student_id,
                    assignment,
                    f"{r.score:g}",
                    f"{r.max_score:g}",
                    *(f"{r.cells[c]:g}" for c in columns),
                    " | ".join(r.notes),
                    r.status,
                    " | ".join(r.flags),
                ]
            )


def print_summary(
    assignment: str, results: list[StudentResult], skipped: list[str], similar=()
) -> None:
    out = sys.stdout
    print(f"{assignment}: {score_line(results)}", file=out)
    for r in results:
        if r.status != "graded":
            print(f"  {r.student_id}: {r.status}", file=out)
    for message in skipped:
        print(f"  {message}", file=out)
    noted = [r.student_id for r in results if r.notes]
    if noted:
        print(f"  noted (see the notes column): {', '.join(noted)}", file=out)
    flagged = [r.student_id for r in results if r.flags]
    if flagged:
        print(f"  flagged for review (see the flags column): {', '.join(flagged)}", file=out)
    if similar:
        top = ", ".join(f"{p.first} and {p.second} ({p.similarity:.0%})" for p in similar[:5])
        more = f" and {len(similar) - 5} more" if len(similar) > 5 else ""
        print(f"  similar answers, for a person to read (similarity.html): {top}{more}", file=out)
