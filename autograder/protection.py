"""What keeps a grading safe, as the pipeline uses it.

- `kernel_environment`: what every grading kernel gets: the guard's list of locked
  cells (autograder/guard.py) and, where the machine allows it, the sandbox
  (autograder/sandbox.py);
- `scan_submission`: the static scan of a student's own cells (autograder/scan.py);
- `apply_guard_reports`: reads the guard's reports in a graded notebook, flags them,
  and gives zero to a test cell during which the tested code changed the checks;
- `failure_reason`: why nbgrader could not grade a notebook, in one line.
"""

import json
import re
import sys
from functools import cache
from pathlib import Path

from autograder import forkserver, guard, sandbox, scan
from autograder.config import REPO, SOLUTIONS


@cache  # read once per grading, not once per student
def locked_cells_by_id(assignment: str, notebook: str) -> tuple[list[str], dict[str, str]]:
    """(setup cell sources, test cell source by grade id) of a solution notebook: what the
    checker (autograder/checker.py) runs, hidden tests included."""
    setup, tests = [], {}
    path = SOLUTIONS / assignment / f"{notebook}.ipynb"
    for cell in json.loads(path.read_text())["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("locked"):
            source = "".join(cell["source"])
            if meta.get("grade"):
                tests[meta["grade_id"]] = source
            else:
                setup.append(source)
    return setup, tests


def locked_cells(assignment: str, notebook: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(setup cell sources, test cell sources) of a solution notebook: the locked code
    cells, hidden tests included (for the grader's eyes only)."""
    setup, tests = locked_cells_by_id(assignment, notebook)
    return tuple(setup), tuple(tests.values())


def kernel_environment(
    assignment: str, notebooks: list[str], *, submissions: Path, out: Path, limits
) -> tuple[str | None, dict, str | None]:
    """(kernel name, environment variables, the folder of its kernelspec) for the grading
    kernels of `assignment`.

    Kernels are forked from a warm process (autograder/forkserver.py) where the machine
    allows it, and sandboxed (autograder/sandbox.py) where it allows that (else with a
    warning). `out/_nbgrader/jupyter` receives the kernelspec; the kernel name (and the
    folder) is None where neither works (the notebook's own Python kernel).
    """
    setup, tests = (), ()
    for notebook in notebooks:
        s, t = locked_cells(assignment, notebook)
        setup, tests = setup + s, tests + t
    env = {
        guard.SETTINGS_ENV: json.dumps(
            {
                "setup_cells": [guard.cell_hash(c) for c in setup],
                "test_cells": [guard.cell_hash(c) for c in tests],
            }
        )
    }
    reason = sandbox.unavailable_reason()
    if reason:
        print(
            f"warning: grading without the sandbox, as {reason}; not in force:",
            *(f"  - {line}" for line in limits_not_in_force(limits)),
            sep="\n",
            file=sys.stderr,
        )
    else:
        # (The hidden checks are never loaded here: the checker runs them, in the grader.)
        env[sandbox.POLICY_ENV] = sandbox.policy(
            hide=[
                REPO,
                Path(submissions).resolve(),
                Path(out).resolve(),
                Path.home(),
                "/home",
                "/root",
            ],
            keep=[REPO / "rnncourse"],
            notebook_timeout=limits.notebook_timeout,
            memory_bytes=limits.memory_bytes,
        )
    kernelspecs = Path(out) / "_nbgrader" / "jupyter"
    if forkserver.available():  # kernels forked from a warm process (then sandboxed)
        forkserver.install_kernelspec(kernelspecs)
        name = forkserver.KERNEL_NAME
    elif not reason:  # GPU graders: a fresh sandboxed process per kernel
        sandbox.install_kernelspec(kernelspecs)
        name = sandbox.KERNEL_NAME
    else:
        return None, env, None
    return name, env, str(kernelspecs)


def limits_not_in_force(limits) -> list[str]:
    """What the sandbox enforces (autograder/sandbox.py), which a grading without it lacks."""
    return [
        "hiding the repository (solutions, hidden checks), the other submissions and the "
        "gradebook: student code could read them, and write outside its folder",
        f"--memory-limit ({limits.memory_bytes / 2**30:g} GiB per kernel)",
        f"--notebook-timeout ({limits.notebook_timeout} s per notebook); each cell still "
        f"stops after --cell-timeout ({limits.cell_timeout} s)",
        "the limits on processes and file sizes, and a user of its own for each kernel",
    ]


def scan_submission(root: Path, assignment: str, student: str) -> list[str]:
    """The static scan's flags for one student's notebooks (see autograder.scan)."""
    found = []
    for path in sorted((root / "submitted" / student / assignment).glob("*.ipynb")):
        setup, tests = locked_cells(assignment, path.stem)
        locked = {guard.cell_hash(c) for c in setup + tests}
        own = [
            "".join(c["source"])
            for c in json.loads(path.read_text())["cells"]
            if c["cell_type"] == "code"
            and not c.get("metadata", {}).get("nbgrader", {}).get("locked")
            and guard.cell_hash("".join(c["source"])) not in locked
        ]
        found += [f"{path.stem}: {flag}" for flag in scan.flags(own, setup + tests)]
    return found


def apply_guard_reports(root: Path, assignment: str, student: str, db_url: str) -> list[str]:
    """Flag the guard's reports in a student's graded notebooks, and give zero to each
    test cell during which the tested code changed the checking machinery."""
    from nbgrader.api import Gradebook

    flags = []
    folder = root / "autograded" / student / assignment
    with Gradebook(db_url) as gradebook:
        for path in sorted(folder.glob("*.ipynb")):
            for cell in json.loads(path.read_text())["cells"]:
                meta = cell.get("metadata", {}).get("nbgrader", {})
                for line in stdout_lines(cell):
                    if not line.startswith(guard.MARKER):
                        continue
                    where = f"{path.stem}:{meta.get('grade_id', '?')}"
                    flags.append(f"{where}: {line[len(guard.MARKER) :].strip()}")
                    if guard.DURING_TEST in line and meta.get("grade"):
                        grade = gradebook.find_grade(
                            meta["grade_id"], path.stem, assignment, student
                        )
                        grade.manual_score = 0.0
                        gradebook.db.commit()
    return flags


def stdout_lines(cell: dict) -> list[str]:
    lines = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            text = output.get("text", "")
            lines += ("".join(text) if isinstance(text, list) else text).splitlines()
    return lines


def failure_reason(log: str, cell_timeout: int) -> str:
    """Why nbgrader could not grade a notebook, in one line."""
    if "ran past its time limit" in log:
        return log.splitlines()[-1]
    if "DeadKernelError" in log or "Kernel died" in log:
        return "the kernel died (the code exited, crashed, or ran out of memory)"
    if "CellTimeoutError" in log:
        return f"a cell ran past its time limit ({cell_timeout} s) and its kernel stopped answering"
    errors = re.findall(r"^\s*(\w+(?:Error|Exception)\b.*)$", log, flags=re.MULTILINE)
    lines = errors or [line for line in log.splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else "unknown error"
