"""Which students handed in the same answers: a report for a person to read, never a grade.

    OUT/similarity.csv   every pair of students whose answers overlap noticeably
    OUT/similarity.html  the pairs at or above THRESHOLD, sortable, each side by side
                         with the shared code highlighted

What is compared: the code each student wrote in the answer cells of the assignment (the
cells the release leaves for them, found by their grade ids), with the release's own
starter code in those cells removed, so that the function headers and docstrings everyone
was given count for nothing. The comparison is copydetect's (the winnowing algorithm of
MOSS): the code is tokenised and normalised first (every variable becomes `V`, every
function name `F`, comments and layout are dropped), so that renaming variables,
reformatting or reordering functions does not hide a copy; then every run of NOISE
normalised characters is hashed, and a pair's similarity is the share of a student's
code covered by runs that the other student's code has too.

A pair is reported with both shares: a student who copied one function from a classmate
who wrote everything shows a high share on one side only. The higher share ranks the pair.
"""

import csv
import html
import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import nbformat
from copydetect.detector import CodeFingerprint, compare_files
from copydetect.utils import highlight_overlap

# copydetect's defaults: runs of 25 normalised characters are "noise" below which a match
# means nothing; every match of 30 or more is guaranteed to be found.
NOISE, GUARANTEE = 25, 30
# Pairs at or above this share are shown in similarity.html and named on the terminal;
# the CSV lists every pair at or above REPORT_FLOOR, for an instructor who looks further.
THRESHOLD = 0.6
REPORT_FLOOR = 0.25
# The page shows this many pairs side by side (all flagged pairs are in its table).
MOST_SHOWN = 100
# A student's answers are compared up to this many characters (a hostile notebook can be
# huge; a real answer is a few thousand).
MOST_CHARACTERS = 200_000


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    share_first: float  # of first's code, the share found in second's
    share_second: float
    shared_tokens: int

    @property
    def similarity(self) -> float:
        return max(self.share_first, self.share_second)


def answer_cells(release_notebook: Path) -> list[tuple[str, str]]:
    """(grade_id, starter code) of the cells a student writes, in notebook order."""
    notebook = nbformat.read(release_notebook, as_version=4)
    return [
        (cell.metadata["nbgrader"]["grade_id"], cell.source)
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")
    ]


def answers_of(notebook_path: Path, grade_ids: list[str]) -> str:
    """A submission's answer cells (by grade id, first of each), joined; '' for a notebook
    that cannot be read, however it is broken."""
    try:
        notebook = nbformat.read(notebook_path, as_version=4)
        found = {}
        for cell in notebook.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if cell.get("cell_type") == "code" and grade_id in grade_ids:
                found.setdefault(grade_id, str(cell.get("source", "")))
    except Exception:  # a broken or hostile notebook has no answers to compare
        return ""
    answers = "\n\n".join(found.get(grade_id, "") for grade_id in grade_ids)
    return answers[:MOST_CHARACTERS]


def fingerprint(code: str, boilerplate=()):
    return CodeFingerprint(
        "answers.py",
        NOISE,
        GUARANTEE - NOISE + 1,
        boilerplate=list(boilerplate),
        fp=io.StringIO(code),
        language="python",
    )


def compare_class(answers: dict[str, str], starter: str) -> tuple[list[Pair], dict]:
    """Every pair of students whose answers share code, most similar first; and the
    fingerprints (for the side-by-side view)."""
    boilerplate = fingerprint(starter).hashes
    prints = {student: fingerprint(code, boilerplate) for student, code in answers.items()}
    pairs = []
    for a, b in itertools.combinations(sorted(prints), 2):
        # Most pairs share nothing: a set intersection says so before the detailed count.
        if not prints[a].hashes & prints[b].hashes:
            continue
        tokens, (share_a, share_b), _ = compare_files(prints[a], prints[b])
        pair = Pair(a, b, float(share_a), float(share_b), int(tokens))
        if pair.similarity >= REPORT_FLOOR:
            pairs.append(pair)
    pairs.sort(key=lambda p: (-p.similarity, p.first, p.second))
    return pairs, prints


def report(assignment: str, release: Path, submitted: Path, students: list[str], out: Path):
    """Write OUT/similarity.csv and OUT/similarity.html for `students`' notebooks under
    `submitted/<student>/<assignment>/`; return the pairs at or above THRESHOLD."""
    notebooks = sorted(release.glob("*.ipynb"))
    cells = {nb.name: answer_cells(nb) for nb in notebooks}
    starter = "\n\n".join(code for nb in notebooks for _, code in cells[nb.name])
    answers = {
        student: "\n\n".join(
            answers_of(submitted / student / assignment / nb.name, [g for g, _ in cells[nb.name]])
            for nb in notebooks
        )
        for student in students
    }
    pairs, prints = compare_class(answers, starter)
    with open(out / "similarity.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_a", "student_b", "similarity", "share_a", "share_b", "tokens"])
        for p in pairs:
            writer.writerow(
                [p.first, p.second, f"{p.similarity:.3f}", f"{p.share_first:.3f}"]
                + [f"{p.share_second:.3f}", p.shared_tokens]
            )
    flagged = [p for p in pairs if p.similarity >= THRESHOLD]
    (out / "similarity.html").write_text(_html(assignment, len(students), flagged, prints))
    return flagged


def _side_by_side(pair: Pair, prints) -> tuple[str, str]:
    _, _, (slices_a, slices_b) = compare_files(prints[pair.first], prints[pair.second])
    views = []
    for student, slices in ((pair.first, slices_a), (pair.second, slices_b)):
        code = prints[student].raw_code
        marked, _ = highlight_overlap(code, slices, "<mark>", "</mark>", escape_html=True)
        views.append(marked)
    return views[0], views[1]


def _html(assignment: str, class_size: int, pairs: list[Pair], prints) -> str:
    rows, details = [], []
    for number, pair in enumerate(pairs, 1):
        a, b = html.escape(pair.first), html.escape(pair.second)
        rows.append(
            f'<tr><td><a href="#pair-{number}">{number}</a></td><td>{a}</td><td>{b}</td>'
            f"<td>{pair.similarity:.0%}</td><td>{pair.share_first:.0%}</td>"
            f"<td>{pair.share_second:.0%}</td><td>{pair.shared_tokens}</td></tr>"
        )
        if number > MOST_SHOWN:
            continue
        left, right = _side_by_side(pair, prints)
        details.append(
            f'<section id="pair-{number}"><h2>{number}. {a} and {b}: {pair.similarity:.0%}</h2>'
            f'<div class="pair"><div><h3>{a} ({pair.share_first:.0%} shared)</h3>'
            f"<pre>{left}</pre></div><div><h3>{b} ({pair.share_second:.0%} shared)</h3>"
            f"<pre>{right}</pre></div></div></section>"
        )
    table = (
        "<table id='pairs'><thead><tr><th>#</th><th>student</th><th>student</th>"
        "<th>similarity</th><th>share of the first</th><th>share of the second</th>"
        "<th>shared tokens</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        if pairs
        else "<p>No pair reaches the threshold.</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Similarity: {html.escape(assignment)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; }}
th {{ cursor: pointer; background: #f3f3f3; }}
.pair {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }}
pre {{ background: #fafafa; border: 1px solid #ddd; padding: 0.5em; overflow-x: auto; }}
mark {{ background: #ffe08a; }}
</style></head><body>
<h1>Similar answers: {html.escape(assignment)}</h1>
<p>{class_size} students; pairs whose answer cells share at least {THRESHOLD:.0%} of one
student's code (after the release's starter code is removed; names and layout do not
count). This is for a person to read: it changes no grade, and a high share can have an
innocent reason (a short exercise, a hint everybody followed). Click a column to sort.</p>
{table}
{"".join(details)}
<script>
document.querySelectorAll("#pairs th").forEach((th, column) => th.addEventListener("click", () => {{
  const body = document.querySelector("#pairs tbody");
  const key = row => {{
    const text = row.children[column].textContent;
    const number = parseFloat(text);
    return isNaN(number) ? text : number;
  }};
  const rows = [...body.rows];
  const ascending = th.dataset.order !== "ascending";
  rows.sort((x, y) => (key(x) > key(y) ? 1 : key(x) < key(y) ? -1 : 0) * (ascending ? 1 : -1));
  th.dataset.order = ascending ? "ascending" : "descending";
  rows.forEach(row => body.appendChild(row));
}}));
</script>
</body></html>
"""
