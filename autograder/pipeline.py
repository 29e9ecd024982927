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

from autograder import guard, sandbox, scan
from autograder.config import (
    CELL_TIMEOUT,
    EXERCISES,
    MEMORY_LIMIT,
    NOTEBOOK_TIMEOUT,
    REPO,
    SOLUTIONS,
    kernel_socket_dir,
    nbgrader_config,
)
from autograder.report import write_summary

HIDDEN_CHECKS = REPO / "autograder" / "hidden_checks"
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


@dataclass
class Limits:
    """How long and how much a grading kernel may take."""

    cell_timeout: int = CELL_TIMEOUT
    notebook_timeout: int = NOTEBOOK_TIMEOUT
    memory_bytes: int = MEMORY_LIMIT


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


def locked_cells(assignment: str, notebook: str) -> tuple[list[str], list[str]]:
    """(setup cell sources, test cell sources) of a solution notebook: the locked code
    cells, hidden tests included (for the grader's eyes only)."""
    setup, tests = [], []
    path = SOLUTIONS / assignment / f"{notebook}.ipynb"
    for cell in json.loads(path.read_text())["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("locked"):
            (tests if meta.get("grade") else setup).append("".join(cell["source"]))
    return setup, tests


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
    notes: student id -> remarks for the flags column, skipped: messages about
    folders that are not students). An unreadable notebook is left out (it scores
    zero) instead of stopping the student's whole grading; a single notebook under
    another name ("activations (1).ipynb", as browsers save a second download) is
    graded as the one that is missing.
    """
    import nbformat

    expected = {f"{nb}.ipynb" for nb, _, _ in grade_cells(assignment)}
    students, problems, notes, skipped = [], {}, {}, []
    for folder in sorted(Path(submissions).iterdir()):
        if not folder.is_dir():
            continue
        if not STUDENT_ID.match(folder.name):
            skipped.append(f"{folder.name!r}: not a valid student id, skipped")
            continue
        source = folder / assignment
        target = root / "submitted" / folder.name / assignment
        target.mkdir(parents=True)
        found, readable = [], {}
        for notebook in sorted(source.glob("*.ipynb")) if source.is_dir() else []:
            if not notebook.is_file() or notebook.is_symlink():
                continue
            try:
                # Older formats (nbformat 3) are converted; nbgrader grades version 4.
                readable[notebook.name] = nbformat.read(notebook, as_version=4)
            except Exception as error:  # any unreadable file: report it, grade the rest
                found.append(f"unreadable {notebook.name} ({type(error).__name__})")
        unknown = sorted(readable.keys() - expected)
        missing = sorted(expected - readable.keys())
        if len(unknown) == 1 and len(missing) == 1:
            readable[missing[0]] = readable.pop(unknown[0])
            notes[folder.name] = [f"graded {unknown[0]!r} as {missing[0]}"]
        elif unknown:
            notes[folder.name] = [f"ignored unexpected notebook(s): {', '.join(unknown)}"]
        for name in expected & readable.keys():
            nbformat.write(readable[name], target / name)
        if not any(target.iterdir()):
            found.append(f"no readable notebook named {' or '.join(sorted(expected))}")
        if found:
            problems[folder.name] = "; ".join(found)
        students.append(folder.name)
    return students, problems, notes, skipped


def grade(
    assignment: str,
    submissions: Path,
    out: Path,
    *,
    workers: int | None = None,
    limits: Limits | None = None,
) -> list[StudentResult]:
    """Autograde every student's `assignment` under `submissions`; write results to `out`.

    `workers` notebooks are graded at once, each in its own process and kernel
    (default: one per CPU core); the results do not depend on it.
    """
    limits = limits or Limits()
    if assignment not in assignments():
        raise SystemExit(f"unknown assignment {assignment!r}; known: {', '.join(assignments())}")
    out = Path(out).resolve()
    root = prepare_course(out)
    students, problems, notes, skipped = collect(assignment, Path(submissions), root)
    # Grading kernels import the hidden checks from this repository.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    kernel_name = _prepare_kernels(assignment, Path(submissions), out, root, limits)
    api = nbgrader_api(root)
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
        outcomes = dict(_autograde_all(root, assignment, to_grade, workers, kernel_name, limits))
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
        flags_from_grading = []
        if student in outcomes:
            success, log, flags_from_grading = outcomes[student]
            if success:
                _read_scores(root, assignment, student, cells, result)
            else:
                result.status = "not graded: " + _failure_reason(log, limits)
                flags_from_grading.append(result.status)
            if student in problems:
                result.status = problems[student]
        result.flags = notes.get(student, []) + scan_submission(root, assignment, student)
        result.flags += flags_from_grading
        result.cells = {f"{nb}:{gid}": result.cells.get(f"{nb}:{gid}", 0.0) for nb, gid, _ in cells}
        results.append(result)

    _copy_feedback(root, out, assignment)
    write_grades(out / "grades.csv", assignment, cells, results)
    write_summary(out, assignment, cells, results)
    print_summary(assignment, results, skipped)
    return results


def _prepare_kernels(assignment, submissions: Path, out: Path, root: Path, limits: Limits):
    """Set up what every grading kernel gets: the guard's list of locked cells, and
    the sandbox (kernelspec and policy) where this machine allows one. Returns the
    kernel name to grade with (None: the notebook's own Python kernel)."""
    setup, tests = [], []
    for notebook in sorted({nb for nb, _, _ in grade_cells(assignment)}):
        s, t = locked_cells(assignment, notebook)
        setup += s
        tests += t
    os.environ[guard.SETTINGS_ENV] = json.dumps(
        {
            "setup_cells": [guard.cell_hash(c) for c in setup],
            "test_cells": [guard.cell_hash(c) for c in tests],
        }
    )
    reason = sandbox.unavailable_reason()
    if reason:
        print(
            f"warning: grading without the sandbox, as {reason}: student code can read "
            "the hidden tests and write outside its folder",
            file=sys.stderr,
        )
        return None
    homes = [str(Path.home()), "/home", "/root"]
    os.environ[sandbox.POLICY_ENV] = sandbox.policy(
        hide=[REPO, submissions.resolve(), out, *homes],
        keep=[REPO / "rnncourse"],
        preload=[f"autograder.hidden_checks.{m.stem}" for m in HIDDEN_CHECKS.glob("[a-z]*.py")],
        notebook_timeout=limits.notebook_timeout,
        memory_bytes=limits.memory_bytes,
    )
    folder = sandbox.install_kernelspec(root / "jupyter")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(folder), os.environ.get("JUPYTER_PATH", "")) if p
    )
    return sandbox.KERNEL_NAME


def scan_submission(root: Path, assignment: str, student: str) -> list[str]:
    """The static scan's flags for one student's notebooks (see autograder.scan)."""
    found = []
    for path in sorted((root / "submitted" / student / assignment).glob("*.ipynb")):
        try:
            setup, tests = locked_cells(assignment, path.stem)
        except FileNotFoundError:
            continue
        locked = {guard.cell_hash(c) for c in setup + tests}
        cells = json.loads(path.read_text())["cells"]
        own = [
            "".join(c["source"])
            for c in cells
            if c["cell_type"] == "code"
            and not c.get("metadata", {}).get("nbgrader", {}).get("locked")
            and guard.cell_hash("".join(c["source"])) not in locked
        ]
        found += [f"{path.stem}: {flag}" for flag in scan.flags(own, setup + tests)]
    return found


def _autograde_one(
    root: Path, assignment: str, student: str, kernel_name: str | None, limits: Limits
) -> tuple[str, tuple[bool, str, list[str]]]:
    """Autograde one student and write their feedback; (student, (success, log, flags))."""
    # nbgrader's gradebook triggers harmless SQLAlchemy "not in session" warnings.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    api = nbgrader_api(root, cell_timeout=limits.cell_timeout, kernel_name=kernel_name)
    graded = api.autograde(assignment, student, force=True, create=True)
    flags = []
    if graded["success"]:
        flags = _apply_guard_reports(root, assignment, student)
        api.generate_feedback(assignment, student, force=True)
    log = graded.get("log") or ""
    timeout_note = kernel_socket_dir() / sandbox.TIMEOUT_NOTE
    if timeout_note.exists():
        timeout_note.unlink()
        log += f"\nthe notebook ran past its time limit ({limits.notebook_timeout} s)"
    return student, (bool(graded["success"]), log, flags)


def _apply_guard_reports(root: Path, assignment: str, student: str) -> list[str]:
    """Read the guard's reports in the graded notebooks: flag them, and give zero to a
    test cell during which the tested code changed the checking machinery."""
    from nbgrader.api import Gradebook

    flags = []
    folder = root / "autograded" / student / assignment
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for path in sorted(folder.glob("*.ipynb")):
            for cell in json.loads(path.read_text())["cells"]:
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "?")
                for line in _stdout_lines(cell):
                    if not line.startswith(guard.MARKER):
                        continue
                    flags.append(f"{path.stem}:{grade_id}: {line[len(guard.MARKER) :].strip()}")
                    if guard.DURING_TEST in line and cell["metadata"]["nbgrader"].get("grade"):
                        grade = gradebook.find_grade(grade_id, path.stem, assignment, student)
                        grade.manual_score = 0.0
                        gradebook.db.commit()
    return flags


def _stdout_lines(cell: dict) -> list[str]:
    lines = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            text = output.get("text", "")
            lines += ("".join(text) if isinstance(text, list) else text).splitlines()
    return lines


def _autograde_all(root, assignment, students, workers, kernel_name, limits):
    """Yield (student, (success, log, flags)) for every student, `workers` at a time,
    with a progress bar on stderr."""
    from tqdm import tqdm

    progress = tqdm(total=len(students), desc=f"grading {assignment}", unit="notebook")
    with progress:
        if workers <= 1 or len(students) <= 1:
            for student in students:
                yield _autograde_one(root, assignment, student, kernel_name, limits)
                progress.update()
            return
        # Fresh interpreters (spawn), not forks of a process that may hold threads.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [
                pool.submit(_autograde_one, root, assignment, s, kernel_name, limits)
                for s in students
            ]
            for future in as_completed(futures):
                yield future.result()
                progress.update()


def _read_scores(root: Path, assignment: str, student: str, cells, result: StudentResult):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for notebook in sorted({nb for nb, _, _ in cells}):
            try:
                submission = gradebook.find_submission_notebook(notebook, assignment, student)
            except MissingEntry:
                result.status = f"missing notebook {notebook}.ipynb"
                continue
            for g in submission.grades:
                result.cells[f"{notebook}:{g.name}"] = float(g.score or 0.0)
    result.score = round(sum(result.cells.values()), 4)


def _failure_reason(log: str, limits: Limits) -> str:
    """Why nbgrader could not grade a notebook, in one line."""
    if "ran past its time limit" in log:
        return log.splitlines()[-1]
    if "DeadKernelError" in log or "Kernel died" in log:
        return "the kernel died (the code exited, crashed, or ran out of memory)"
    if "CellTimeoutError" in log:
        return (
            f"a cell ran past its time limit ({limits.cell_timeout} s) and its kernel "
            "stopped answering"
        )
    errors = re.findall(r"^\s*(\w+(?:Error|Exception)\b.*)$", log, flags=re.MULTILINE)
    lines = errors or [line for line in log.splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else "unknown error"


def _copy_feedback(root: Path, out: Path, assignment: str) -> None:
    for page in (root / "feedback").glob(f"*/{assignment}/*.html"):
        target = out / "feedback" / page.relative_to(root / "feedback")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target)


def write_grades(path: Path, assignment: str, cells, results: list[StudentResult]) -> None:
    columns = [f"{nb}:{gid}" for nb, gid, _ in cells]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        header = ["student_id", "assignment", "score", "max_score", *columns, "status", "flags"]
        writer.writerow(header)
        for r in results:
            writer.writerow(
                [
                    r.student_id,
                    assignment,
                    f"{r.score:g}",
                    f"{r.max_score:g}",
                    *(f"{r.cells[c]:g}" for c in columns),
                    r.status,
                    " | ".join(r.flags),
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
    flagged = [r.student_id for r in results if r.flags]
    if flagged:
        print(f"  flagged for review (see the flags column): {', '.join(flagged)}", file=out)
