"""Release exercises and grade a class, as small steps over nbgrader.

grade() runs, in order:
  1. prepare_course   a fresh nbgrader course folder under OUT/_nbgrader
  2. collect          copy each student's notebooks into nbgrader's layout
  3. generate         record the assignment (with its hidden tests) in the gradebook
  4. autograde        run every submission; locked test cells are restored from source
  5. feedback         one HTML page per notebook, hidden tests removed
  6. write_grades     grades.csv: one row per student, one column per graded cell
  7. write_summary    summary.csv and summary.png: score distribution, pass rate per cell
"""

import csv
import json
import multiprocessing
import os
import re
import shutil
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from autograder import scale
from autograder.config import EXERCISES, REPO, SOLUTIONS, nbgrader_config
from autograder.report import write_summary

# A student id becomes a folder name: keep it to plain characters.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


@dataclass
class StudentResult:
    student_id: str
    score: float = 0.0
    max_score: float = 0.0
    cells: dict = field(default_factory=dict)  # "notebook:grade_id" -> points
    status: str = "graded"


def assignments() -> list[str]:
    """Every assignment that has a folder of solution notebooks."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def grade_cells(assignment: str) -> list[tuple[str, str, float]]:
    """(notebook, grade_id, points) for every graded cell, in notebook order."""
    cells = []
    for path in sorted((SOLUTIONS / assignment).glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                cells.append((path.stem, meta["grade_id"], float(meta["points"])))
    return cells


def nbgrader_api(root: Path, **kwargs):
    """nbgrader's own API for a course folder at `root`, with the course's settings."""
    from nbgrader.apps import NbGraderAPI

    # nbgrader runs `alembic` (next to this Python) to set up its gradebook.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")

    return NbGraderAPI(config=nbgrader_config(root, **kwargs))


def release(assignment: str, exercises: Path = EXERCISES, workdir: Path | None = None) -> None:
    """Write the student version of `assignment` (solutions and hidden tests removed)."""
    workdir = Path(workdir or REPO / "_grading" / "release")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "gradebook.db").unlink(missing_ok=True)  # a release needs no history
    api = nbgrader_api(workdir, release=Path(exercises))
    result = api.generate_assignment(assignment, force=True)
    if not result["success"]:
        raise RuntimeError(f"release of {assignment} failed:\n{result.get('log', '')}")


def prepare_course(out: Path) -> Path:
    root = Path(out) / "_nbgrader"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    return root


def collect(assignment: str, submissions: Path, root: Path):
    """Copy submissions into `root/submitted`.

    Returns (student ids, problems: student id -> what was wrong with their files,
    skipped: messages about folders that are not students). An unreadable notebook
    is left out (it scores zero) instead of stopping the student's whole grading.
    """
    import nbformat

    students, problems, skipped = [], {}, []
    for folder in sorted(Path(submissions).iterdir()):
        if not folder.is_dir():
            continue
        if not STUDENT_ID.match(folder.name):
            skipped.append(f"{folder.name!r}: not a valid student id, skipped")
            continue
        source = folder / assignment
        target = root / "submitted" / folder.name / assignment
        target.mkdir(parents=True)
        found = []
        for notebook in sorted(source.glob("*.ipynb")) if source.is_dir() else []:
            if not notebook.is_file() or notebook.is_symlink():
                continue
            try:
                nbformat.read(notebook, as_version=4)
            except Exception as error:  # any unreadable file: report it, grade the rest
                found.append(f"unreadable {notebook.name} ({type(error).__name__})")
                continue
            shutil.copyfile(notebook, target / notebook.name)
        if not any(target.iterdir()):
            found.append("no readable notebook submitted")
        if found:
            problems[folder.name] = "; ".join(found)
        students.append(folder.name)
    return students, problems, skipped


def grade(
    assignment: str,
    submissions: Path,
    out: Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    db: str | None = None,
) -> list[StudentResult]:
    """Autograde every student's `assignment` under `submissions`; write results to `out`.

    `workers` notebooks are graded at once, each in its own process and kernel
    (default: one per CPU core); the results do not depend on it. `scheduler` (a Dask
    scheduler's address) grades on that cluster instead, `db` (a database URL) keeps the
    gradebook there instead of OUT/_nbgrader: see autograder/scale.py.
    """
    if assignment not in assignments():
        raise SystemExit(f"unknown assignment {assignment!r}; known: {', '.join(assignments())}")
    out = Path(out).resolve()
    root = prepare_course(out)
    students, problems, skipped = collect(assignment, Path(submissions), root)
    db_url = scale.gradebook_url(root, db)
    if db:  # a gradebook that outlives OUT/_nbgrader: forget this assignment's last run
        scale.prepare_gradebook(db_url, assignment)
    # Grading kernels import the hidden checks from this repository.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    api = nbgrader_api(root, db_url=db_url)
    generated = api.generate_assignment(assignment, force=True)
    if not generated["success"]:
        raise RuntimeError(f"could not prepare {assignment}:\n{generated.get('log', '')}")

    to_grade = [s for s in students if any((root / "submitted" / s / assignment).iterdir())]
    workers = workers or os.cpu_count() or 1
    # Share the cores between the kernels: PyTorch in every kernel would otherwise start
    # one thread per core, and their threads would fight over the same cores.
    threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    try:
        outcomes = dict(_autograde_all(root, assignment, to_grade, workers, db_url, scheduler))
    finally:
        if threads is None:
            os.environ.pop("OMP_NUM_THREADS")
        else:
            os.environ["OMP_NUM_THREADS"] = threads

    cells = grade_cells(assignment)
    results = []
    for student in students:
        result = StudentResult(student, max_score=sum(points for *_, points in cells))
        if student not in outcomes:
            result.status = "not graded: " + problems[student]
        else:
            success, log = outcomes[student]
            if success:
                _read_scores(db_url, assignment, student, cells, result)
            else:
                result.status = "not graded: " + _last_error(log)
            if student in problems:
                result.status = problems[student]
        result.cells = {f"{nb}:{gid}": result.cells.get(f"{nb}:{gid}", 0.0) for nb, gid, _ in cells}
        results.append(result)

    _copy_feedback(root, out, assignment)
    write_grades(out / "grades.csv", assignment, cells, results)
    write_summary(out, assignment, cells, results)
    print_summary(assignment, results, skipped)
    return results


def _autograde_one(
    root: Path, assignment: str, student: str, db_url: str | None = None
) -> tuple[str, tuple[bool, str]]:
    """Autograde one student and write their feedback; (student, (success, log))."""
    # nbgrader's gradebook triggers harmless SQLAlchemy "not in session" warnings.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    api = nbgrader_api(root, db_url=db_url)
    graded = api.autograde(assignment, student, force=True, create=True)
    if graded["success"]:
        api.generate_feedback(assignment, student, force=True)
    return student, (bool(graded["success"]), graded.get("log") or "")


def _autograde_all(
    root: Path, assignment: str, students: list[str], workers: int, db_url=None, scheduler=None
):
    """Yield (student, (success, log)) for every student, `workers` at a time
    (or on the Dask cluster at `scheduler`), with a progress bar on stderr."""
    from tqdm import tqdm

    progress = tqdm(total=len(students), desc=f"grading {assignment}", unit="notebook")
    with progress:
        if scheduler:
            for outcome in scale.grade_on_cluster(scheduler, root, assignment, students, db_url):
                yield outcome
                progress.update()
            return
        if workers <= 1 or len(students) <= 1:
            for student in students:
                yield _autograde_one(root, assignment, student, db_url)
                progress.update()
            return
        # Fresh interpreters (spawn), not forks of a process that may hold threads.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_autograde_one, root, assignment, s, db_url) for s in students]
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


def _last_error(log: str) -> str:
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "unknown error"


def _copy_feedback(root: Path, out: Path, assignment: str) -> None:
    for page in (root / "feedback").glob(f"*/{assignment}/*.html"):
        target = out / "feedback" / page.relative_to(root / "feedback")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target)


def write_grades(path: Path, assignment: str, cells, results: list[StudentResult]) -> None:
    columns = [f"{nb}:{gid}" for nb, gid, _ in cells]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "assignment", "score", "max_score", *columns, "status"])
        for r in results:
            writer.writerow(
                [
                    r.student_id,
                    assignment,
                    f"{r.score:g}",
                    f"{r.max_score:g}",
                    *(f"{r.cells[c]:g}" for c in columns),
                    r.status,
                ]
            )


def print_summary(assignment: str, results: list[StudentResult], skipped: list[str]) -> None:
    out = sys.stdout
    print(f"{assignment}: graded {len(results)} submission(s)", file=out)
    if results:
        scores = sorted(r.score for r in results)
        print(
            f"  max score {results[0].max_score:g}; mean {sum(scores) / len(scores):.2f}; "
            f"median {scores[len(scores) // 2]:g}",
            file=out,
        )
    for r in results:
        if r.status != "graded":
            print(f"  {r.student_id}: {r.status}", file=out)
    for message in skipped:
        print(f"  {message}", file=out)
