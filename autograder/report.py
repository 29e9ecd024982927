"""What an instructor reads after grading: a summary table and a plot next to grades.csv.

summary.csv  one row per graded cell: points, mean points, and the share of students
             with full points on it (a low share points at a hard or broken exercise);
             then a row for the whole assignment
summary.png  the score distribution, and the full-points share of every cell

Both count the students whose work was graded: a submission that could not be graded
(no readable notebook, a kernel that died) scores 0 in grades.csv, but would only pull
the means down; the summary says how many there were.
"""

import csv
import statistics
from pathlib import Path


def was_graded(result) -> bool:
    """Whether the grader graded this submission (its score is a grade, not a zero)."""
    return not result.status.startswith("not graded")


def cell_statistics(cells, results) -> list[dict]:
    """Per graded cell (and the total): points, mean points and full-points share."""
    rows = []
    n = max(len(results), 1)
    for notebook, grade_id, points in cells:
        key = f"{notebook}:{grade_id}"
        earned = [r.cells.get(key, 0.0) for r in results]
        rows.append(
            {
                "cell": key,
                "points": points,
                "mean": sum(earned) / n,
                "full_share": sum(e >= points for e in earned) / n,
            }
        )
    total = sum(points for *_, points in cells)
    scores = [r.score for r in results]
    rows.append(
        {
            "cell": "total",
            "points": total,
            "mean": sum(scores) / n,
            "full_share": sum(s >= total for s in scores) / n,
        }
    )
    return rows


def score_line(results) -> str:
    """The terminal's summary of the scores: of the graded students only."""
    scores = [r.score for r in results if was_graded(r)]
    line = f"{len(scores)} of {len(results)} submission(s) graded"
    if scores:
        line += (
            f"; max score {results[0].max_score:g}; mean {statistics.fmean(scores):.2f}; "
            f"median {statistics.median(scores):g}"
        )
    if len(scores) < len(results):
        line += f"; {len(results) - len(scores)} could not be graded (0 in grades.csv; why below)"
    return line


def write_summary(out: Path, assignment: str, cells, results) -> None:
    graded = [r for r in results if was_graded(r)]
    rows = cell_statistics(cells, graded)
    with open(Path(out) / "summary.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["assignment", "cell", "points", "mean_points", "full_points_share"])
        for row in rows:
            writer.writerow(
                [
                    assignment,
                    row["cell"],
                    f"{row['points']:g}",
                    f"{row['mean']:.3f}",
                    f"{row['full_share']:.3f}",
                ]
            )
    figure = summary_figure(assignment, rows, [r.score for r in graded], len(results))
    figure.savefig(Path(out) / "summary.png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(figure)


def summary_figure(assignment: str, rows: list[dict], scores: list[float], submissions: int):
    import matplotlib

    matplotlib.use("Agg")  # no screen on a grading machine
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    per_cell = rows[:-1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    left.hist(scores, bins=20, range=(0, rows[-1]["points"]))
    ungraded = submissions - len(scores)
    left.set(
        title=f"{assignment}: scores of {len(scores)} graded students"
        + (f" ({ungraded} not graded)" if ungraded else ""),
        xlabel="score",
        ylabel="students",
    )
    left.yaxis.set_major_locator(MaxNLocator(integer=True))  # whole students
    names = [row["cell"].split(":", 1)[1] for row in per_cell]
    right.barh(names, [row["full_share"] for row in per_cell])
    right.set(title="share of students with full points", xlim=(0, 1))
    right.invert_yaxis()  # notebook order, top to bottom
    return fig
