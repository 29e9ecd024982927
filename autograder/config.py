"""The nbgrader settings of the course, in one place."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from traitlets.config import Config

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"

# An exercise's grader-only modules, beside its solution notebook in solutions/<slug>/
# (autograder/course.py names them). nbgrader copies a source folder's other files into
# the release and into every graded submission's folder: it is told to leave these out.
GRADER_MODULES = ("*_hidden_checks.py", "*_mistakes.py")

# Seconds one cell may run when graded before it is stopped (and scores zero).
CELL_TIMEOUT = 120
# Seconds a whole notebook may run (in the sandbox) before its kernel is killed.
NOTEBOOK_TIMEOUT = 900
# Bytes of memory (address space) a sandboxed grading kernel may use (CPU graders).
MEMORY_LIMIT = 6 * 2**30


def kernel_socket_dir() -> Path:
    """A folder for this process's kernel sockets (the sandbox keeps it visible),
    removed when the process exits."""
    folder = Path(tempfile.gettempdir()) / f"rnncourse-kernels-{os.getpid()}"
    if not folder.exists():
        folder.mkdir()
        atexit.register(shutil.rmtree, folder, True)
    return folder


def gradebook_url(root: Path, db: str | None = None) -> str:
    """The gradebook's database URL: `db`, or the SQLite file in the course folder `root`
    (parallel graders share it: they wait for its lock instead of failing)."""
    return db or f"sqlite:///{Path(root).resolve() / 'gradebook.db'}?timeout=60"


def nbgrader_config(
    root: Path,
    *,
    source: Path = SOLUTIONS,
    release: Path | None = None,
    db_url: str | None = None,
    cell_timeout: int = CELL_TIMEOUT,
    kernel_name: str | None = None,
    kernel_specs: str | None = None,
    kernel_env: dict | None = None,
) -> Config:
    """nbgrader's configuration for a course folder at `root`.

    `source` holds the solution notebooks; everything nbgrader writes
    (release, submitted, autograded, feedback, gradebook) lives under `root`.
    """
    from nbgrader.coursedir import CourseDirectory

    root = Path(root).resolve()
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.source_directory = str(Path(source).resolve())
    c.CourseDirectory.release_directory = str(release.resolve()) if release else "release"
    c.CourseDirectory.submitted_directory = "submitted"
    c.CourseDirectory.autograded_directory = "autograded"
    c.CourseDirectory.feedback_directory = "feedback"
    c.CourseDirectory.db_url = gradebook_url(root, db_url)
    # Never copied into the release or a graded submission's folder (nor is a student's
    # file of the same name copied in: it could stand in for them).
    nbgraders_own = CourseDirectory.class_traits()["ignore"].default()
    c.CourseDirectory.ignore = [*nbgraders_own, *GRADER_MODULES]
    # A test cell a student deleted (or whose metadata they stripped) is put back and run.
    c.OverwriteCells.add_missing_cells = True
    c.Execute.timeout = cell_timeout
    # Every grading kernel loads the guard (autograder/guard.py) before any student code;
    # `kernel_name` picks the sandboxed kernel (autograder/sandbox.py) where there is one.
    c.Execute.extra_arguments = [
        "--HistoryManager.hist_file=:memory:",
        "--IPKernelApp.extensions=autograder.guard",
    ]
    if kernel_name:
        c.Execute.kernel_name = kernel_name
    if kernel_specs:  # the folder where that kernel's kernelspec is
        c.CheckedExecute.kernel_specs = kernel_specs
    if kernel_env:  # what the kernel's environment adds to this process's
        c.CheckedExecute.kernel_env = kernel_env
    # The test cells run in the checker (autograder/checker.py), outside the student's
    # kernel, so that student code can neither read nor forge them: it decides every score.
    # (By name: only the processes that grade import it, and with it PyTorch.)
    from nbgrader.converters.autograde import Autograde

    c.Autograde.autograde_preprocessors = [
        "autograder.checked_execute.CheckedExecute" if step.__name__ == "Execute" else step
        for step in Autograde.class_traits()["autograde_preprocessors"].default()
    ]
    # Kernels talk over Unix sockets named after this process, not TCP ports: parallel
    # graders picking free TCP ports at the same moment can pick the same one, and the
    # second kernel then dies at start-up ("Address already in use").
    c.KernelManager.transport = "ipc"
    c.KernelManager.ip = str(kernel_socket_dir() / "kernel")
    # Feedback shows the student's work and our check report, never the hidden tests.
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "nbgrader.preprocessors.ClearHiddenTests",
        "autograder.safe_feedback.EscapeStudentHTML",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    c.NbGraderAPI.log_level = "WARN"
    read_gradebook_revision_here()
    return c


def read_gradebook_revision_here() -> None:
    """Make nbgrader read its gradebook's schema revision in this process. It runs the
    `alembic` command for it whenever it creates a gradebook: a new Python process, 2 s
    of each grading run. Same answer: the head revision of nbgrader's own migrations."""
    import nbgrader.api

    def head_revision() -> str:
        from alembic.config import Config as AlembicConfig
        from alembic.script import ScriptDirectory

        settings = AlembicConfig()
        migrations = Path(nbgrader.api.__file__).parent / "alembic"
        settings.set_main_option("script_location", str(migrations))
        return ScriptDirectory.from_config(settings).get_current_head()

    nbgrader.api.get_alembic_version = head_revision
