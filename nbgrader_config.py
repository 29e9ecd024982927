"""Lets nbgrader's own commands (validate, generate_assignment, formgrader) run from the
repository root with the course's settings: see autograder/config.py."""

from autograder.config import EXERCISES, REPO, nbgrader_config

c = get_config()  # noqa: F821 (provided by nbgrader when it reads this file)
c.merge(nbgrader_config(REPO / "_grading" / "course", release=EXERCISES))
# A student's `nbgrader validate` (or the Validate button) runs their own notebook as they
# would: without the grading guard, which is not installed outside the grader, and prints
# only its verdict.
c.ValidateApp.log_level = "WARN"
c.Validator.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
