"""Every exercise, graded through the real nbgrader pipeline: the reference, the
alternatives, the release, broken submissions and a sample of known mistakes (in one
notebook); every known mistake graded by the same checker without Jupyter (see
conftest.py)."""

import csv
import html
import json
import re
from pathlib import Path

import pytest

from autograder.config import GRADER_MODULES
from autograder.mistakes import for_assignment
from autograder.pipeline import grade_cells
from helpers import (
    EXERCISE_SPECS,
    SAMPLED,
    diagnosable_mistakes,
    sampled_mistakes,
    solution_lines,
)

ASSIGNMENTS = list(EXERCISE_SPECS)


def cells(assignment):
    return {f"{nb}:{gid}": points for nb, gid, points in grade_cells(assignment)}


def scores(assignment, row):
    return {cell: float(row[cell]) for cell in cells(assignment)}


def mistake_scores(mistakes_graded, assignment, name):
    """Per-cell points of a known mistake, graded without Jupyter, keyed like grades.csv."""
    notebook = EXERCISE_SPECS[assignment].notebook
    graded = mistakes_graded(assignment)[name]
    return {f"{notebook}:{gid}": points for gid, (points, _) in graded.cells.items()}


ALL_MISTAKES = [
    pytest.param(assignment, mistake, id=f"{assignment}:{mistake.name}")
    for assignment in ASSIGNMENTS
    for mistake in for_assignment(assignment)[0]
]


def test_every_assignment_is_covered_here():
    from autograder.pipeline import assignments

    assert set(assignments()) == set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solution_gets_full_marks(graded_class, assignment):
    rows, _ = graded_class(assignment)
    assert scores(assignment, rows["reference"]) == cells(assignment)
    assert float(rows["reference"]["score"]) == EXERCISE_SPECS[assignment].points
    assert sum(cells(assignment).values()) == EXERCISE_SPECS[assignment].points


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_honest_work_is_never_flagged(graded_class, mistakes_graded, assignment):
    """Right or wrong, plain student code raises no flag (tests/test_hostile.py: what does)."""
    rows, _ = graded_class(assignment)
    honest = [
        student for student in rows if student in ("reference", "alternatives", "release", SAMPLED)
    ]
    assert len(honest) > 3
    assert {s: rows[s]["flags"] for s in honest if rows[s]["flags"]} == {}
    flagged = {name: g.flags for name, g in mistakes_graded(assignment).items() if g.flags}
    assert flagged == {}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_gets_zero_without_crashing(graded_class, assignment):
    rows, _ = graded_class(assignment)
    assert rows["release"]["status"] == "graded"
    assert set(scores(assignment, rows["release"]).values()) == {0.0}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_correct_alternatives_keep_full_marks(graded_class, assignment):
    rows, _ = graded_class(assignment)
    assert scores(assignment, rows["alternatives"]) == cells(assignment)


@pytest.mark.parametrize(("assignment", "mistake"), ALL_MISTAKES)
def test_each_mistake_loses_points_in_its_own_cell_only(mistakes_graded, assignment, mistake):
    got = mistake_scores(mistakes_graded, assignment, mistake.name)
    full = cells(assignment)
    target = f"{EXERCISE_SPECS[assignment].notebook}:{mistake.test_cell}"
    assert got[target] < full[target], f"{mistake.name} kept full marks in {target}"
    others = {cell: got[cell] for cell in full if cell != target}
    assert others == {cell: full[cell] for cell in others}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_mistakes_graded_without_jupyter_get_what_nbgrader_gives(
    graded_class, mistakes_graded, assignment
):
    """The notebook of the sampled mistakes, graded both ways: the same points in every
    cell, where each mistake costs points. Also the proof that a notebook gets the same
    grades when graded again in another process."""
    rows, _ = graded_class(assignment)
    got = scores(assignment, rows[SAMPLED])
    assert got == mistake_scores(mistakes_graded, assignment, SAMPLED)
    full, notebook = cells(assignment), EXERCISE_SPECS[assignment].notebook
    for mistake in sampled_mistakes(assignment):
        cell = f"{notebook}:{mistake.test_cell}"
        assert got[cell] < full[cell], mistake.name


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_broken_and_empty_submissions_score_zero_with_a_reason(graded_class, assignment):
    rows, _ = graded_class(assignment)
    for student in ("broken-json", "empty-folder"):
        assert float(rows[student]["score"]) == 0
    notebook = EXERCISE_SPECS[assignment].notebook
    assert f"unreadable {notebook}.ipynb" in rows["broken-json"]["status"]
    reason = f"not graded: no readable notebook named {notebook}.ipynb"
    assert rows["empty-folder"]["status"] == reason


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_invalid_student_folder_is_skipped(graded_class, assignment):
    rows, _ = graded_class(assignment)
    assert "bad name!" not in rows


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_has_check_report_but_no_hidden_tests(graded_class, assignment):
    _, out = graded_class(assignment)
    spec = EXERCISE_SPECS[assignment]
    page = (out / "feedback" / "reference" / assignment / f"{spec.notebook}.html").read_text()
    assert spec.report_line in page
    assert "BEGIN HIDDEN TESTS" not in page
    assert "hidden_checks" not in page
    # Nor are the grader's modules copied into a submission's folder or its feedback.
    assert not [p for pattern in GRADER_MODULES for p in out.rglob(pattern)]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_grades_csv_has_one_column_per_graded_cell(graded_class, assignment):
    _, out = graded_class(assignment)
    header = (out / "grades.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["student_id", "assignment", "score", "max_score"]
    assert header[4:-3] == list(cells(assignment))
    assert header[-3:] == ["notes", "status", "flags"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_summary_table_and_plot_are_written_next_to_the_grades(graded_class, assignment):
    rows, out = graded_class(assignment)
    with open(out / "summary.csv") as f:
        summary = {row["cell"]: row for row in csv.DictReader(f)}
    assert list(summary)[:-1] == list(cells(assignment)) and list(summary)[-1] == "total"
    total = summary["total"]
    graded = [row for row in rows.values() if not row["status"].startswith("not graded")]
    assert len(graded) < len(rows)  # the class has broken notebooks: they are left out
    scores = [float(row["score"]) for row in graded]
    assert float(total["mean_points"]) == pytest.approx(sum(scores) / len(scores), abs=1e-3)
    full = sum(float(row["score"]) == float(row["max_score"]) for row in graded)
    assert float(total["full_points_share"]) == pytest.approx(full / len(graded), abs=1e-3)
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_mistake_is_named_once_and_every_cell_has_some(assignment):
    mistakes, _ = for_assignment(assignment)
    names = [m.name for m in mistakes]
    assert len(names) == len(set(names))
    assert {m.test_cell for m in mistakes} == {c.split(":")[1] for c in cells(assignment)}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_deleted_test_cells_are_restored_and_a_missing_function_costs_its_own_cell_only(
    graded_class, assignment
):
    """One notebook, every test cell deleted and one function renamed: each test cell is
    restored and run, the renamed function's cell scores 0 and every other cell full."""
    rows, _ = graded_class(assignment)
    row = rows["renamed-function-deleted-tests"]
    assert row["status"] == "graded"
    spec = EXERCISE_SPECS[assignment]
    target = f"{spec.notebook}:{spec.renamed[1]}"
    got = scores(assignment, row)
    assert got[target] == 0
    full = cells(assignment)
    assert {c: p for c, p in got.items() if c != target} == {
        c: p for c, p in full.items() if c != target
    }


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_feedback_page_shows_hidden_test_code(graded_class, assignment):
    _, out = graded_class(assignment)
    pages = list((out / "feedback").rglob("*.html"))
    assert len(pages) >= 5  # reference, alternatives, release, sampled mistakes, renamed
    hidden = [line for line in solution_lines(assignment) if "checks" in line]
    assert hidden
    for page in pages:
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        for line in hidden:
            assert line not in text, f"{page.parent.parent.name}: hidden test shown: {line}"


DIAGNOSED = [
    pytest.param(assignment, name, function, id=f"{assignment}:{name}")
    for assignment in ASSIGNMENTS
    for name, function, _ in diagnosable_mistakes(assignment)
]


@pytest.mark.parametrize(("assignment", "name", "function"), DIAGNOSED)
def test_the_report_names_each_diagnosable_mistake(mistakes_graded, assignment, name, function):
    reports = "\n".join(report for _, report in mistakes_graded(assignment)[name].cells.values())
    assert f"HINT your {function} behaves like a known mistake" in reports


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_feedback_page_shows_the_hint(graded_class, assignment):
    _, out = graded_class(assignment)
    notebook = EXERCISE_SPECS[assignment].notebook
    diagnosed = {name: function for name, function, _ in diagnosable_mistakes(assignment)}
    shown = [m for m in sampled_mistakes(assignment) if m.name in diagnosed]
    assert shown
    page = out / "feedback" / SAMPLED / assignment / f"{notebook}.html"
    text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
    for mistake in shown:
        assert f"HINT your {mistake.function} behaves like a known mistake" in text


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_feedback_has_no_hint(graded_class, assignment):
    _, out = graded_class(assignment)
    notebook = EXERCISE_SPECS[assignment].notebook
    for student in ("reference", "alternatives"):
        page = out / "feedback" / student / assignment / f"{notebook}.html"
        assert "HINT" not in page.read_text()


def test_parallel_grading_gives_the_same_grades_as_sequential(tmp_path):
    from autograder import pipeline
    from helpers import student_notebook, write_submission

    assignment, notebook = "02-bptt", "bptt"
    mistakes, _ = for_assignment(assignment)
    write_submission(
        tmp_path / "in", "reference", assignment, notebook, student_notebook(assignment, notebook)
    )
    for mistake in mistakes[::20]:
        write_submission(
            tmp_path / "in",
            f"m.{mistake.name}",
            assignment,
            notebook,
            student_notebook(assignment, notebook, {mistake.function: mistake.code}),
        )
    write_submission(tmp_path / "in", "broken", assignment, notebook, "{")
    for workers in (1, 2):
        pipeline.grade(assignment, tmp_path / "in", tmp_path / f"out{workers}", workers=workers)
    sequential = (tmp_path / "out1" / "grades.csv").read_text()
    assert sequential == (tmp_path / "out2" / "grades.csv").read_text()
    assert sequential.count("\n") == 2 + len(mistakes[::20]) + 1


# Per-cell points of every reference, alternative and known mistake, graded when the
# tests still ran inside the student's kernel (before autograder/checker.py).
IN_KERNEL = json.loads(
    (Path(__file__).parent / "data" / "per_cell_points_in_kernel.json").read_text()
)


# Cells whose checks were added to on purpose after that grading, and why.
_ON_SIMULATED_GPU = "issue 22 (kind 4): its GPU check runs on the simulated GPU (was NOT RUN)"
CHECKS_ADDED = {
    "esn:test_make_reservoir": "issue 22 (kind 3): a forecast with the student's reservoir",
    "bptt:test_tbptt": _ON_SIMULATED_GPU,
    "language_models:test_char_rnn": _ON_SIMULATED_GPU,
    "language_models:test_train": _ON_SIMULATED_GPU,
    "music:test_model": _ON_SIMULATED_GPU,
    "music:test_train": _ON_SIMULATED_GPU,
    "plays:test_lstm": _ON_SIMULATED_GPU,
    "plays:test_train": _ON_SIMULATED_GPU,
}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_checker_keeps_every_honest_per_cell_score(graded_class, mistakes_graded, assignment):
    """Moving the checks out of the kernel changes no honest grade: reference,
    alternatives and each known mistake earn, cell by cell, what they earned before."""
    if assignment not in IN_KERNEL:
        pytest.skip(f"{assignment} was written after the checker: never graded in the kernel")
    rows, _ = graded_class(assignment)
    before = IN_KERNEL[assignment]
    # Every mistake of then is still in the bank (mistakes and cells added since, which
    # were never graded in the kernel, are held to losing points by the tests above).
    names = {m.name for m in for_assignment(assignment)[0]}
    assert {s.removeprefix("mistake.") for s in before if s.startswith("mistake.")} <= names
    now = {s: scores(assignment, rows[s]) for s in ("reference", "alternatives")}
    for student in before:
        if student.startswith("mistake."):
            name = student.removeprefix("mistake.")
            now[student] = mistake_scores(mistakes_graded, assignment, name)
    # Cells added since (exercise 4's lstm_cell_backward), and cells given a new check on
    # purpose since (CHECKS_ADDED), are held by the tests above.
    cells_then = {cell for points in before.values() for cell in points} - set(CHECKS_ADDED)
    now = {s: {c: p for c, p in points.items() if c in cells_then} for s, points in now.items()}
    before = {
        s: {c: p for c, p in points.items() if c in cells_then} for s, points in before.items()
    }
    assert now == before


def test_the_oracles_lent_to_later_cells_pass_the_checks_of_their_own_cells():
    """A cell graded with a lent oracle (exercises 7 and 8) must get a correct one. The
    scans lent in exercise 8 earn full marks on the checks of the function they stand in
    for (which compare with other oracles: the unrolled sum, the step-by-step logs); the
    GRU update written out for exercise 7's decoder step equals PyTorch's GRUCell."""
    import torch

    import linear_recurrences_hidden_checks as scans
    import seq2seq_hidden_checks as seq2seq
    from rnncourse.checks import Checks

    for checks_of, oracle in (
        (scans.scan_checks, scans.blelloch_scan),
        (scans.log_scan_checks, scans.log_scan_by_doubling),
    ):
        checks = Checks(oracle.__name__, points=1)
        checks_of(checks, oracle)
        points, lines = checks.report()
        assert points == 1, "\n".join(lines)
    torch.manual_seed(0)
    cell = torch.nn.GRUCell(5, 3).double()
    x, h = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(seq2seq.gru_by_hand(cell, x, h), cell(x, h), rtol=1e-12, atol=1e-12)
