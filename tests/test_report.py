"""What an instructor reads after grading (autograder/report.py): numbers of graded students."""

import csv

from autograder.pipeline import StudentResult, print_summary
from autograder.report import score_line, summary_figure, write_summary

CELLS = [("nb", "test_a", 4.0), ("nb", "test_b", 6.0)]


def result(student, a, b, status="graded"):
    score = a + b
    cells = {"nb:test_a": a, "nb:test_b": b}
    return StudentResult(student, score=score, max_score=10.0, cells=cells, status=status)


CLASS = [
    result("ada", 4, 6),
    result("alan", 2, 0),
    result("grace", 4, 3),
    result("broken", 0, 0, status="not graded: no readable notebook named nb.ipynb"),
]


def test_means_and_medians_count_only_graded_students(tmp_path, capsys):
    line = score_line(CLASS)
    assert line.startswith("3 of 4 submission(s) graded")
    assert "mean 6.33" in line and "median 7" in line
    assert "1 could not be graded" in line

    write_summary(tmp_path, "a", CELLS, CLASS)
    with open(tmp_path / "summary.csv") as f:
        rows = {row["cell"]: row for row in csv.DictReader(f)}
    assert float(rows["total"]["mean_points"]) == round(19 / 3, 3)
    assert float(rows["nb:test_a"]["full_points_share"]) == round(2 / 3, 3)

    print_summary("a", CLASS, [])
    printed = capsys.readouterr().out
    assert "broken: not graded: no readable notebook" in printed


def test_an_even_class_has_the_middle_two_as_median():
    assert "median 5" in score_line([result("a", 4, 6), result("b", 0, 0)])


def test_the_histogram_counts_whole_students():
    rows = [{"cell": "nb:test_a", "full_share": 0.5}, {"cell": "total", "points": 10.0}]
    figure = summary_figure("a", rows, [3.0, 7.5, 7.5], submissions=4)
    histogram = figure.axes[0]
    assert all(float(tick).is_integer() for tick in histogram.get_yticks())
    assert "3 graded students (1 not graded)" in histogram.get_title()


def test_each_limit_not_in_force_is_said_once_at_the_start(tmp_path, monkeypatch, capsys):
    """Without the sandbox (no root, no unshare), the grader lists what it cannot enforce."""
    from autograder import protection, sandbox
    from autograder.pipeline import Limits

    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: "it needs root")
    limits = Limits(cell_timeout=30, notebook_timeout=300, memory_bytes=2 * 2**30)
    protection.kernel_environment(
        "01-activations", ["activations"], submissions=tmp_path, out=tmp_path, limits=limits
    )
    warning = capsys.readouterr().err
    assert warning.count("grading without the sandbox, as it needs root") == 1
    for words in ("--memory-limit (2 GiB", "--notebook-timeout (300 s", "--cell-timeout (30 s"):
        assert warning.count(words) == 1, warning
    assert "hidden checks" in warning and "processes" in warning
