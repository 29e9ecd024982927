"""What an instructor reads after grading: a summary table and a plot next to grades.csv.

summary.csv  one row per graded cell: points, mean points, and the share of students
             with full points on it (a low share points at a hard or broken exercise);
             then a row for the whole assignment
summary.png  the score distribution, and the full-points share of every cell
"""

import csv
from pathlib import Path


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


def write_summary(out: Path, assignment: str, cells, results) -> None:
    rows = cell_statistics(cells, results)
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
    _plot(Path(out) / "summary.png", assignment, rows, [r.score for r in results])


def _plot(path: Path, assignment: str, rows: list[dict], scores: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no screen on a grading machine
    import matplotlib.pyplot as plt

    per_cell = rows[:-1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    left.hist(scores, bins=20, range=(0, rows[-1]["points"]))
    left.set(
        title=f"{assignment}: scores of {len(scores)} students",
        xlabel="score",
        ylabel="students",
    )
    names = [row["cell"].split(":", 1)[1] for row in per_cell]
    right.barh(names, [row["full_share"] for row in per_cell])
    right.set(title="share of students with full points", xlim=(0, 1))
    right.invert_yaxis()  # notebook order, top to bottom
    fig.savefig(path, dpi=100)
    plt.close(fig)
