"""The similarity report (autograder/similarity.py): a disguised copy is found, the
starter code everyone was given raises nothing, honest students stay below the threshold."""

import ast
import csv
import json

from autograder import similarity
from autograder.config import EXERCISES
from autograder.mistakes import for_assignment
from helpers import load, student_notebook, write_submission

A = "04-lstm-gru"  # every answer function of it has an independently written alternative
NOTEBOOK = "lstm_gru"


class Renamed(ast.NodeTransformer):
    """Every local name becomes another: what a student hiding a copy would do first."""

    def __init__(self):
        self.names = {}

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store) or node.id in self.names:
            node.id = self.names.setdefault(node.id, f"value_{len(self.names)}")
        return node


def disguised(source: str) -> str:
    """The same code with its names changed, its functions in reverse order, comments gone
    and the layout redone."""
    tree = ast.parse(source)
    tree.body.reverse()
    return ast.unparse(Renamed().visit(tree))


def write_class(root):
    ada = student_notebook(A, NOTEBOOK)  # the reference answers, written by Ada
    bob = json.loads(json.dumps(ada))  # Bob's copy of Ada's, disguised
    for cell in bob["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            cell["source"] = disguised("".join(cell["source"]))
    _, alternatives = for_assignment(A)
    students = {
        "ada": ada,
        "bob": bob,
        "cy": load(EXERCISES / A / f"{NOTEBOOK}.ipynb"),  # only the release's starter code
        "dee": student_notebook(A, NOTEBOOK, alternatives),  # her own, other way throughout
        "eve": load(EXERCISES / A / f"{NOTEBOOK}.ipynb"),  # starter code too
    }
    for name, notebook in students.items():
        write_submission(root, name, A, NOTEBOOK, notebook)
    write_submission(root, "broken", A, NOTEBOOK, "{ not json")
    odd = json.loads(json.dumps(ada))  # metadata no notebook tool would write
    for cell in odd["cells"]:
        cell["metadata"]["nbgrader"] = "answer"
    write_submission(root, "odd", A, NOTEBOOK, odd)
    return sorted(students) + ["broken", "odd"]


def test_a_disguised_copy_tops_the_report_and_nothing_else_is_flagged(tmp_path):
    """Broken and odd notebooks count as having no answers: the report is still made."""
    students = write_class(tmp_path / "subs")
    flagged = similarity.report(A, EXERCISES / A, tmp_path / "subs", students, tmp_path)
    assert [(p.first, p.second) for p in flagged] == [("ada", "bob")]
    assert flagged[0].similarity >= similarity.THRESHOLD
    with open(tmp_path / "similarity.csv") as f:
        rows = list(csv.DictReader(f))
    assert (rows[0]["student_a"], rows[0]["student_b"]) == ("ada", "bob")
    # The starter code shared by cy and eve raises nothing; honest pairs stay low.
    pairs = {(row["student_a"], row["student_b"]): float(row["similarity"]) for row in rows}
    assert ("cy", "eve") not in pairs
    assert pairs.get(("ada", "dee"), 0.0) < similarity.THRESHOLD
    page = (tmp_path / "similarity.html").read_text()
    assert page.count("<section") == 1 and "<mark>" in page


def test_the_report_never_shows_a_students_code_unescaped(tmp_path):
    hostile = "def lstm_cell(*args):\n    return '</pre><script>alert(1)</script>'\n" * 3
    ada = student_notebook(A, NOTEBOOK, {"lstm_cell": hostile})
    for name in ("ada", "bob"):
        write_submission(tmp_path / "subs", name, A, NOTEBOOK, ada)
    similarity.report(A, EXERCISES / A, tmp_path / "subs", ["ada", "bob"], tmp_path)
    page = (tmp_path / "similarity.html").read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
