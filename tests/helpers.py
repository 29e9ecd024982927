"""Building student submissions for the tests: from the release, as a student would."""

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

from autograder.config import EXERCISES, SOLUTIONS
from autograder.course import chapters
from autograder.mistakes import for_assignment, replace_function

NBGRADER = "nbgrader"


@dataclass(frozen=True)
class Exercise:
    notebook: str  # the notebook's name in solutions/<assignment>/
    points: float  # total points of its test cells
    renamed: tuple[str, str]  # a function, and the test cell that loses everything without it
    report_line: str  # a line the reference solution's feedback page shows


# Per chapter: a function, the test cell that loses everything without it, and a line
# of that cell's report (test data; the chapters themselves come from course.toml). A
# chapter without an entry uses its last graded function (`last_example`).
EXAMPLES = {
    "01-activations": (("sigmoid", "test_sigmoid"), "sigmoid and sigmoid_grad: 8 of 8 points"),
    "02-bptt": (("rnn_backward", "test_rnn_backward"), "rnn_backward: 10 of 10 points"),
    "03-language-models": (("sample", "test_sample"), "sample: 6 of 6 points"),
    "04-lstm-gru": (("gru_cell", "test_gru_cell"), "gru_cell: 7 of 7 points"),
    "05-esn": (("fit_readout", "test_fit_readout"), "fit_readout: 5 of 5 points"),
    "06-clockwork": (("clockwork_step", "test_step"), "clockwork_step: 9 of 9 points"),
    "09-music": (("sample_melody", "test_sample"), "sample_melody: 6 of 6 points"),
    "10-plays": (("average_embeddings", "test_average"), "average_embeddings: 6 of 6 points"),
}


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text())


DEFINITIONS = ast.FunctionDef | ast.ClassDef


def last_example(assignment: str, notebook: str) -> tuple[tuple[str, str], str]:
    """((function, test cell), report line) of the notebook's last graded cell: later
    functions use earlier ones, never the other way round, so only its cell needs it."""
    function, last = None, None
    for cell in load(SOLUTIONS / assignment / f"{notebook}.ipynb")["cells"]:
        meta, source = cell["metadata"].get("nbgrader", {}), "".join(cell["source"])
        if meta.get("solution") and not meta.get("grade"):
            defined = [n.name for n in ast.parse(source).body if isinstance(n, DEFINITIONS)]
            function = defined[0] if defined else function
        elif meta.get("grade"):
            last = (function, meta["grade_id"], source)
    function, test_cell, source = last
    name, points = re.search(r'Checks\(\s*"([^"]+)",\s*points=(\d+)', source).groups()
    return (function, test_cell), f"{name}: {points} of {points} points"


EXERCISE_SPECS = {
    c.slug: Exercise(
        c.notebook, c.points, *(EXAMPLES.get(c.slug) or last_example(c.slug, c.notebook))
    )
    for c in chapters()
}


def solution_cells(assignment: str, notebook: str) -> dict[str, str]:
    """grade_id -> source of every solution cell of the reference notebook."""
    nb = load(SOLUTIONS / assignment / f"{notebook}.ipynb")
    return {
        c["metadata"][NBGRADER]["grade_id"]: "".join(c["source"])
        for c in nb["cells"]
        if c["metadata"].get(NBGRADER, {}).get("solution")
    }


def student_notebook(assignment: str, notebook: str, replacements: dict | None = None) -> dict:
    """The release notebook with every solution cell answered by the reference solution,
    except the functions in `replacements` (function name -> code)."""
    answers = solution_cells(assignment, notebook)
    nb = load(EXERCISES / assignment / f"{notebook}.ipynb")
    for cell in nb["cells"]:
        meta = cell["metadata"].get(NBGRADER, {})
        if meta.get("solution"):
            source = answers[meta["grade_id"]]
            for function, code in (replacements or {}).items():
                if f"def {function}(" in source or f"class {function}(" in source:
                    source = replace_function(source, function, code)
            cell["source"] = source
    return nb


def write_submission(root: Path, student: str, assignment: str, notebook: str, content) -> Path:
    """Write one submitted notebook (a dict, or raw text for broken files)."""
    folder = Path(root) / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook}.ipynb"
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=1))
    return path


# Boilerplate every PyTorch training loop has: not a leak when the book shows it.
COMMON_LINES = {
    "optimizer.zero_grad()",
    "for _ in range(n_steps):",
    "with torch.no_grad():",
    "losses.append(loss.item())",
    "for t in range(x.shape[1]):",
}


def solution_lines(assignment: str, *, min_length: int = 20) -> list[str]:
    """Distinctive lines of the reference solutions and hidden tests: none may leak."""
    lines = []
    for path in (SOLUTIONS / assignment).glob("*.ipynb"):
        for cell in load(path)["cells"]:
            inside = False
            for line in "".join(cell["source"]).splitlines():
                marker = line.strip()
                if marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                    inside = True
                elif marker in ("### END SOLUTION", "### END HIDDEN TESTS"):
                    inside = False
                elif (
                    inside
                    and len(marker) >= min_length
                    and not marker.startswith("#")
                    and marker not in COMMON_LINES
                ):
                    lines.append(marker)
    return lines


def diagnosable_mistakes(assignment: str) -> list[tuple[str, str, str]]:
    """(mistake name, function, hint) of the assignment's mistakes that the shipped
    fingerprints (rnncourse/known_mistakes.json) name."""
    from rnncourse.diagnosis import known_mistakes

    names = {m.name for m in for_assignment(assignment)[0]}
    return [
        (name, function, entry["hint"])
        for function, entries in known_mistakes().items()
        for entry in entries
        for name in entry["mistakes"]
        if name in names
    ]


def sampled_mistakes(assignment: str) -> list:
    """The known mistakes graded through nbgrader too (every one is graded without it, by
    the same checker: see `mistakes_graded`): the first (in the notebook's first function),
    the last, and the first whose feedback names it; one per function."""
    mistakes, _ = for_assignment(assignment)
    named = {name for name, _, _ in diagnosable_mistakes(assignment)}
    diagnosed = next(m for m in mistakes if m.name in named)
    # The named one last: it keeps its place when it shares a function with another.
    return list({m.function: m for m in (mistakes[0], mistakes[-1], diagnosed)}.values())


# The sampled mistakes, made together in one notebook: one grading through nbgrader per
# exercise proves for all of them that it gives the points the checker gives without it.
SAMPLED = "sampled-mistakes"


def sampled_mistakes_notebook(assignment: str) -> dict:
    """The reference notebook with every sampled mistake in place of its function."""
    notebook = EXERCISE_SPECS[assignment].notebook
    mistakes = {m.function: m.code for m in sampled_mistakes(assignment)}
    return student_notebook(assignment, notebook, mistakes)
