"""The student edition (make student-edition): what a student is handed works on its own,
and holds no answer.

One fresh virtual environment is built from the edition alone (pip install -r
requirements.txt, as its README says; about a minute) and shared by the tests below: the
release notebooks run in its kernel, `nbgrader validate` runs from it, and JupyterLab is
served from it (tests/test_jupyterlab_in_browser.py).
"""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import student_edition
from autograder.config import EXERCISES, REPO, SOLUTIONS
from autograder.course import chapters
from autograder.pipeline import grade_cells
from helpers import solution_lines, student_notebook

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# Where the grader's side lives: none of their files, and none of their lines, may reach a student.
GRADER_SIDE = (REPO / "autograder", SOLUTIONS)


@pytest.fixture(scope="session")
def edition(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("edition")
    student_edition.write(root / "student", root / "rnncourse-student.zip")
    return root / "student"


def wheel_files(edition: Path) -> dict[str, bytes]:
    (wheel,) = edition.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def edition_files(edition: Path) -> dict[str, bytes]:
    """Every file a student receives: the edition's, the zip's and the wheel's contents."""
    files = {str(p.relative_to(edition)): p.read_bytes() for p in edition.rglob("*") if p.is_file()}
    with zipfile.ZipFile(edition.parent / "rnncourse-student.zip") as archive:
        files |= {f"zip:{name}": archive.read(name) for name in archive.namelist()}
    files |= {f"wheel:{name}": data for name, data in wheel_files(edition).items()}
    return files


def grader_lines(min_length: int = 30) -> list[str]:
    """Distinctive code lines of the hidden checks and the banks of known mistakes, less
    what students are meant to have: lines of the release notebooks (signatures, visible
    tests), quoted text (the hints, which ship as data) and lines the helper package shares
    with them (its probes build the same small inputs; the package itself is audited in
    tests/test_package_audit.py)."""
    release = {
        line.strip()
        for c in chapters()
        for cell in json.loads((EXERCISES / c.slug / f"{c.notebook}.ipynb").read_text())["cells"]
        for line in "".join(cell["source"]).splitlines()
    }
    release |= {
        line.strip()
        for p in (REPO / "rnncourse").glob("*.py")
        for line in p.read_text().splitlines()
    }
    lines = set()
    for folder in ("hidden_checks", "mistakes"):
        for path in (REPO / "autograder" / folder).glob("*.py"):
            lines |= {line.strip() for line in path.read_text().splitlines()}
    return sorted(
        line
        for line in lines - release
        if len(line) >= min_length and not line.startswith(("#", "from ", "import ", '"', "'"))
    )


def test_edition_holds_the_release_the_wheel_a_readme_and_requirements(edition):
    notebooks = {f"exercises/{c.slug}/{c.notebook}.ipynb" for c in chapters()}
    wheel = student_edition.wheel_name()
    names = {str(p.relative_to(edition)) for p in edition.rglob("*") if p.is_file()}
    assert names == notebooks | {"README.md", "requirements.txt", wheel}
    for name in notebooks:
        assert (edition / name).read_bytes() == (EXERCISES.parent / name).read_bytes()
    with zipfile.ZipFile(edition.parent / "rnncourse-student.zip") as archive:
        assert sorted(archive.namelist()) == sorted(f"rnncourse-student/{n}" for n in names)
    requirements = (edition / "requirements.txt").read_text().splitlines()
    assert f"./{wheel}" in requirements
    readme = (edition / "README.md").read_text()
    assert "pip install -r requirements.txt" in readme and "nbgrader validate" in readme


def test_the_wheel_holds_the_helper_package_and_pins_what_the_notebooks_need(edition):
    files = wheel_files(edition)
    package = {p.name for p in (REPO / "rnncourse").iterdir() if p.suffix in (".py", ".json")}
    assert {n.split("/", 1)[1] for n in files if n.startswith("rnncourse/")} == package
    for name in package:  # the package as audited, byte for byte
        assert files[f"rnncourse/{name}"] == (REPO / "rnncourse" / name).read_bytes(), name
    others = {n for n in files if not n.startswith(("rnncourse/", "rnncourse-"))}
    assert not others, f"the wheel holds more than the helper package: {others}"
    (metadata,) = (data for name, data in files.items() if name.endswith("METADATA"))
    requires = [
        line.split(": ", 1)[1]
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    assert requires == student_edition.pinned_requirements()
    assert not any(r.split("==")[0] in ("pytest", "dask", "psycopg", "ruff") for r in requires)


def test_nothing_of_the_solutions_or_the_grader_reaches_a_student(edition):
    files = edition_files(edition)
    grader_files = {
        p.read_bytes()
        for root in GRADER_SIDE
        for p in root.rglob("*")
        if p.is_file()
        if p.suffix in (".py", ".ipynb")
    }
    for name, data in files.items():
        assert "autograder" not in name and "solutions" not in name and "hidden" not in name
        assert data not in grader_files, f"{name} is a file of solutions/ or autograder/"
    text = "\n".join(
        data.decode("utf-8", "replace")
        for name, data in files.items()
        if not name.endswith((".whl", ".zip"))
    )
    for marker in MARKERS:
        assert marker not in text
    assert "hidden_checks" not in text
    leaked = [line for c in chapters() for line in solution_lines(c.slug) if line in text]
    # Notebooks hold their lines JSON-escaped: compare unescaped text too.
    notebooks = "\n".join(
        "".join(cell["source"])
        for name, data in files.items()
        if name.endswith(".ipynb")
        for cell in json.loads(data)["cells"]
    )
    leaked += [line for c in chapters() for line in solution_lines(c.slug) if line in notebooks]
    assert not leaked, f"solution or hidden-test lines reach students: {leaked[:5]}"
    shipped = {line.strip() for line in (text + "\n" + notebooks).splitlines()}
    from_grader = [line for line in grader_lines() if line in shipped]
    assert not from_grader, f"lines of the hidden checks or mistakes reach students: {from_grader}"


# ---------------------------------------------------------------------------
# A fresh environment built from the edition alone
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def student_python(edition, tmp_path_factory) -> Path:
    """The Python of a new virtual environment where only the edition was installed."""
    venv = tmp_path_factory.mktemp("student-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + ["-r", "requirements.txt"],
        cwd=edition,
        check=True,
        capture_output=True,
    )
    return python


def test_the_edition_installs_alone_and_imports_its_own_rnncourse(student_python, edition):
    where = subprocess.run(
        [str(student_python), "-c", "import rnncourse, sys; print(rnncourse.__file__)"],
        cwd=edition / "exercises",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(student_python.parent.parent)), where
    # The grader's package is not there: a release notebook never needs it.
    missing = subprocess.run([str(student_python), "-c", "import autograder"], cwd=edition)
    assert missing.returncode != 0


RUN_NOTEBOOKS = """
import sys
from pathlib import Path

import nbformat
import rnncourse
from nbclient import NotebookClient

for path in map(Path, sys.argv[1:]):
    nb = nbformat.read(path, as_version=4)
    # The kernel must be this environment's: rnncourse comes from its wheel.
    nb.cells.append(nbformat.v4.new_code_cell("import rnncourse; print(rnncourse.__file__)"))
    NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path.with_suffix(".run.ipynb"))
"""


@pytest.fixture(scope="session")
def release_run_in_the_edition(student_python, edition) -> Path:
    """Every release notebook of the edition, run top to bottom in its environment's kernel
    (a student's first "Run All"); the executed copies are <notebook>.run.ipynb."""
    notebooks = [edition / f"exercises/{c.slug}/{c.notebook}.ipynb" for c in chapters()]
    subprocess.run(
        [str(student_python), "-c", RUN_NOTEBOOKS, *map(str, notebooks)], cwd=edition, check=True
    )
    return edition


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.slug)
def test_release_runs_top_to_bottom_and_says_what_is_missing(
    chapter, release_run_in_the_edition, student_python
):
    """No cell raises, and every test cell prints its score (zero), says which function
    is not written yet, and writes nothing to stderr (no warning before the functions exist)."""
    path = release_run_in_the_edition / f"exercises/{chapter.slug}/{chapter.notebook}.run.ipynb"
    nb = nbformat.read(path, as_version=4)  # joins the stored lines of each output
    for cell in nb["cells"]:
        outputs = cell.get("outputs", [])
        assert all(o.get("name") != "stderr" for o in outputs), "".join(cell["source"])[:200]
        meta = cell["metadata"].get("nbgrader", {})
        if not meta.get("grade"):
            continue
        text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
        assert f"0 of {meta['points']:g} points" in text, (meta["grade_id"], text)
        assert "not implemented yet" in text, (meta["grade_id"], text)
    last = nb["cells"][-1]["outputs"][0]["text"].strip()
    assert last.startswith(str(student_python.parent.parent)), last


def nbgrader_validate(python: Path, notebook: Path, cwd: Path) -> tuple[int, str]:
    run = subprocess.run(
        [str(python), "-m", "nbgrader", "validate", str(notebook)],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    return run.returncode, run.stdout + run.stderr


def verdict_only(output: str) -> bool:
    """nbgrader's verdict and the cells it lists, with no log line, warning or traceback."""
    return not any(
        word in output
        for word in ("WARNING", "Traceback", "[ValidateApp", "[IPKernelApp", "Error in loading")
    )


@pytest.mark.parametrize("where", ["edition", "repository"])
def test_validate_prints_only_its_verdict(where, edition, student_python, tmp_path):
    """A student's `nbgrader validate`, run where the guides say: in the edition's folder
    with its environment, or in the repository with the course's."""
    chapter = chapters()[0]
    if where == "edition":
        python, folder = student_python, edition
    else:
        python, folder = REPO / ".venv" / "bin" / "python", REPO
        if not python.exists():
            python = Path(sys.executable)
    blank = folder / f"exercises/{chapter.slug}/{chapter.notebook}.ipynb"
    done = tmp_path / f"{chapter.notebook}.ipynb"
    done.write_text(json.dumps(student_notebook(chapter.slug, chapter.notebook)))

    code, output = nbgrader_validate(python, blank, folder)
    assert code == 0 and verdict_only(output), output
    assert output.lstrip().startswith("VALIDATION FAILED ON"), output
    assert output.count("The following cell failed") == len(grade_cells(chapter.slug))

    code, output = nbgrader_validate(python, done, folder)
    assert code == 0 and verdict_only(output), output
    assert output.strip() == "Success! Your notebook passes all the tests.", output
