"""The student edition (make student-edition): what a student is handed works on its own,
and holds no answer.

One fresh virtual environment is built from the edition alone (pip install -r
requirements.txt, as its README says; about a minute) and shared by the tests below: the
release notebooks run in its kernel, `nbgrader validate` runs from it, and JupyterLab is
served from it (tests/test_jupyterlab_in_browser.py).
"""

import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml
from nbgrader.utils import determine_grade

from autograder import student_edition
from autograder.config import EXERCISES, REPO, SOLUTIONS
from autograder.course import chapters
from autograder.pipeline import grade_cells
from helpers import solution_lines, student_notebook

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# Where the grader's side lives: none of their files, and none of their lines, may reach a student.
GRADER_SIDE = (REPO / "autograder", SOLUTIONS)


def student_environment(python: Path) -> dict:
    """This process's environment less what points into the repository or its own
    environment, with `python`'s folder first on PATH: what a student's terminal has."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHON", "JUPYTER", "VIRTUAL_ENV", "RNNCOURSE"))
    }
    env["PATH"] = os.pathsep.join([str(python.parent), "/usr/local/bin", "/usr/bin", "/bin"])
    return env


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
        for p in (REPO / "rnncourse").rglob("*.py")
        for line in p.read_text().splitlines()
    }
    lines = set()
    for c in chapters():
        for module in (c.hidden_checks, c.mistakes):
            path = SOLUTIONS / c.slug / f"{module}.py"
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
    assert names == notebooks | {"README.md", "requirements.txt", "binder/requirements.txt", wheel}
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
    package = {
        p.relative_to(REPO / "rnncourse").as_posix()
        for p in (REPO / "rnncourse").rglob("*")
        if p.suffix in (".py", ".json") and "__pycache__" not in p.parts
    }
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
    python = venv / "bin" / "python"
    env = student_environment(python)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + ["--no-compile"]  # Python compiles what it imports; not all of torch up front
        + ["-r", "requirements.txt"],
        cwd=edition,
        check=True,
        capture_output=True,
        env=env,
    )
    return python


def test_the_edition_installs_alone_and_imports_its_own_rnncourse(student_python, edition):
    where = subprocess.run(
        [str(student_python), "-c", "import rnncourse, sys; print(rnncourse.__file__)"],
        cwd=edition / "exercises",
        capture_output=True,
        text=True,
        check=True,
        env=student_environment(student_python),
    ).stdout.strip()
    assert where.startswith(str(student_python.parent.parent)), where
    # The grader's package is not there: a release notebook never needs it.
    missing = subprocess.run(
        [str(student_python), "-c", "import autograder"],
        cwd=edition,
        env=student_environment(student_python),
    )
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
        [str(student_python), "-c", RUN_NOTEBOOKS, *map(str, notebooks)],
        cwd=edition,
        check=True,
        env=student_environment(student_python),
    )
    return edition


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.slug)
def test_release_runs_top_to_bottom_and_says_what_is_missing(
    chapter, release_run_in_the_edition, student_python
):
    """No cell raises, and every test cell prints its score (zero), says which function
    is not written yet, and writes nothing to stderr (no warning before the functions
    exist); `nbgrader validate` would list every test cell as failed (its own rule: a
    score below the cell's points)."""
    path = release_run_in_the_edition / f"exercises/{chapter.slug}/{chapter.notebook}.run.ipynb"
    nb = nbformat.read(path, as_version=4)  # joins the stored lines of each output
    for cell in nb["cells"]:
        outputs = cell.get("outputs", [])
        assert all(o.get("name") != "stderr" for o in outputs), "".join(cell["source"])[:200]
        meta = cell["metadata"].get("nbgrader", {})
        if not meta.get("grade"):
            continue
        assert determine_grade(cell) == (0, meta["points"]), meta["grade_id"]
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
        env=student_environment(python),
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


# ---------------------------------------------------------------------------
# JupyterLab from the edition's environment, in a real browser
# ---------------------------------------------------------------------------

TOKEN = "student-edition-test"


@pytest.fixture(scope="module")
def jupyterlab(student_python, edition, tmp_path_factory):
    """JupyterLab served on loopback from the edition's environment, with a fresh home (no
    settings of this machine's user), on a copy of the edition's folder."""
    home = tmp_path_factory.mktemp("student-home")
    work = home / "course"
    shutil.copytree(edition / "exercises", work / "exercises")
    # Every cell stays in the page (JupyterLab otherwise renders only the visible ones).
    settings = home / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = student_environment(student_python) | {
        "HOME": str(home),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
    }
    server = subprocess.Popen(
        [str(student_python), "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1"]
        + [f"--port={port}", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={work}"]
        + ["--allow-root"],  # CI runs as root
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"JupyterLab did not start: {server.stderr.read()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        yield url, work
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for_a_ready_kernel(page, url: str, timeout: float = 120) -> None:
    """Until the server has a kernel that is idle and connected to the page. The page's own
    status indicator says idle before that; a "Run All Cells" clicked while the kernel is
    still starting (seconds, on a busy machine) would be lost."""
    deadline, kernels = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/kernels?token={TOKEN}", timeout=5) as answer:
                kernels = json.load(answer)
        except urllib.error.HTTPError as error:
            # Seen once in a clean-clone run: a 500 while the kernel was still starting.
            kernels = f"HTTP {error.code} from /api/kernels"
        else:
            if any(k["execution_state"] == "idle" and k["connections"] > 0 for k in kernels):
                return
        page.wait_for_timeout(500)  # the page keeps running meanwhile
    pytest.fail(f"no kernel was idle and connected after {timeout:.0f} s: {kernels}")


def run_all_cells(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def wait_for_reports(page, graded: int, words: str) -> list[str]:
    """The text of every output that holds `words`, once there are `graded` of them."""
    outputs = page.locator(".jp-OutputArea-output", has_text=words)
    page.wait_for_function(
        "([words, n]) => [...document.querySelectorAll('.jp-OutputArea-output')]"
        ".filter(o => o.innerText.includes(words)).length >= n",
        arg=[words, graded],
        timeout=180_000,
    )
    return outputs.all_inner_texts()


def test_jupyterlab_runs_an_exercise_and_shows_its_report(jupyterlab, tmp_path):
    """A student opens an exercise in the edition's JupyterLab, runs it and reads "0 of N
    points ... not implemented yet" under each function; with the answers in (written from
    outside the edition), every test cell shows its full points. nbgrader's instructor tools
    are not there; Validate and the assignment list are; nothing is fetched from the internet."""
    from test_html_in_browser import CHROMIUM, CHROMIUM_FLAGS, why_no_browser

    reason = why_no_browser()
    if reason and os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    url, work = jupyterlab
    chapter = chapters()[0]
    notebook = f"exercises/{chapter.slug}/{chapter.notebook}.ipynb"
    graded = len(grade_cells(chapter.slug))
    points = [
        cell["metadata"]["nbgrader"]["points"]
        for cell in json.loads((work / notebook).read_text())["cells"]
        if cell["metadata"].get("nbgrader", {}).get("grade")
    ]
    external, errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.on("pageerror", lambda error: errors.append(str(error)))

        def refuse(route):
            external.append(route.request.url)
            route.abort()

        # Only requests that leave the server are routed to Python (a pattern the browser
        # matches itself): had every request waited for this thread, the page would stall
        # whenever the test waits outside Playwright, and under load requests were lost.
        page.route(re.compile("^(?!" + re.escape(url + "/") + ")"), refuse)
        page.goto(f"{url}/lab/tree/{notebook}?token={TOKEN}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for()
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for()

        # A student's tools, and no instructor's.
        menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
        assert "Nbgrader" in menus, menus
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        entries = page.locator(".lm-Menu-itemLabel").all_inner_texts()
        page.keyboard.press("Escape")
        assert any("Assignment List" in e for e in entries), entries
        instructor = ("Formgrader", "Course List", "Create assignment", "Create Assignment")
        assert not any(tool in e for e in entries for tool in instructor), entries
        assert page.get_by_role("button", name="Validate").count() >= 1
        assert page.get_by_text("Create Assignment").count() == 0

        wait_for_a_ready_kernel(page, url)
        run_all_cells(page)
        reports = wait_for_reports(page, graded, "not implemented yet")
        for n in points:
            assert any(f"0 of {n:g} points" in r for r in reports), (n, reports)

        # The answers, pasted in from outside the edition (the reference solution).
        (work / notebook).write_text(
            json.dumps(student_notebook(chapter.slug, chapter.notebook), indent=1)
        )
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).click()
        page.locator(".lm-Menu-itemLabel", has_text="Reload Notebook from Disk").click()
        # The notebook has unsaved outputs: JupyterLab asks first.
        page.locator(".jp-Dialog").get_by_role("button", name="Reload").click()
        page.locator(".jp-OutputArea-output", has_text="not implemented yet").first.wait_for(
            state="detached"
        )
        wait_for_a_ready_kernel(page, url)
        run_all_cells(page)
        full = [f"{n:g} of {n:g} points" for n in points]
        reports = wait_for_reports(page, graded, " points")
        assert all(any(f in r for r in reports) for f in full), reports
        assert not any("FAIL" in r for r in reports), reports
        page.screenshot(path=str(tmp_path / "jupyterlab.png"))
        browser.close()
    assert not errors, errors
    assert not external, f"JupyterLab fetched from the internet: {external}"


# ---------------------------------------------------------------------------
# Launch buttons
# ---------------------------------------------------------------------------


def launch_links(page: Path) -> list[str]:
    text = page.read_text()
    return [html.unescape(url) for url in re.findall(r'href="(https://[^"]+)"', text)]


def test_launch_buttons_open_the_edition_when_a_course_switches_them_on(tmp_path, edition):
    """Off as shipped. With a JupyterHub and a Binder URL set in _config.yml, an exercise
    page's launch links clone the student edition's repository and open that exercise at
    its path there (a one-page book built with the course's own configuration)."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    providers = ("jupyterhub_url", "binderhub_url", "colab_url")
    assert not any(config["launch_buttons"][p] for p in providers), "launch buttons are on"
    chapter = chapters()[0]
    page = f"exercises/{chapter.slug}/{chapter.notebook}"
    built = REPO / "_build" / "html" / f"{page}.html"
    if built.exists():  # the course's own book: no launch link at all
        assert not [u for u in launch_links(built) if "git-pull" in u or "/v2/gh/" in u]

    site = tmp_path / "site"
    (site / page).parent.mkdir(parents=True)
    shutil.copyfile(REPO / f"{page}.ipynb", site / f"{page}.ipynb")
    shutil.copytree(REPO / "_ext", site / "_ext")
    (site / "index.md").write_text("# Launch buttons\n")
    toc = {"format": "jb-book", "root": "index", "chapters": [{"file": page}]}
    (site / "_toc.yml").write_text(yaml.safe_dump(toc))
    config["launch_buttons"].update(
        jupyterhub_url="https://hub.example.edu", binderhub_url="https://mybinder.org"
    )
    (site / "_config.yml").write_text(yaml.safe_dump(config))
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    run = subprocess.run(
        [str(jupyter_book), "build", "--warningiserror", str(site)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    links = launch_links(site / "_build" / "html" / f"{page}.html")
    repository, branch = config["repository"]["url"], config["repository"]["branch"]
    owner_and_name = urllib.parse.urlsplit(repository).path.strip("/")
    assert (edition / f"{page}.ipynb").is_file()  # where the links lead, in the edition
    (hub,) = [u for u in links if u.startswith("https://hub.example.edu/")]
    split = urllib.parse.urlsplit(hub)
    assert split.path == "/hub/user-redirect/git-pull"
    query = dict(urllib.parse.parse_qsl(split.query))
    name = owner_and_name.split("/")[1]
    assert query == {
        "repo": repository,
        "branch": branch,
        "urlpath": f"lab/tree/{name}/{page}.ipynb",
    }
    (binder,) = [u for u in links if u.startswith("https://mybinder.org/")]
    assert (
        binder
        == f"https://mybinder.org/v2/gh/{owner_and_name}/{branch}?urlpath=lab/tree/{page}.ipynb"
    )


def test_the_student_guide_offers_the_edition_and_the_current_wheel():
    guide = (REPO / "book" / "student-guide.md").read_text()
    assert "<../dist/rnncourse-student.zip>" in guide
    assert f"<../dist/student/{student_edition.wheel_name()}>" in guide
    assert f"pip install {student_edition.wheel_name()}" in guide
