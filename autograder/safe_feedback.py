"""Feedback pages show what the student's cells displayed as text, never as live HTML.

A student's cell can display HTML (`<script>` included) and a student can add
Markdown cells with raw HTML: in a feedback page that is the instructor's site, so
it would run there, or pass for the grader's report. This preprocessor keeps only
plain text and images of every output, and escapes HTML in Markdown cells that are
not the instructor's own (the source notebook's, word for word).
"""

import html
import json

from nbconvert.preprocessors import Preprocessor

from autograder.config import SOLUTIONS

SAFE_OUTPUTS = ("text/plain", "image/png", "image/jpeg")


def _instructor_markdown(assignment: str, notebook: str) -> set[str]:
    path = SOLUTIONS / assignment / f"{notebook}.ipynb"
    if not path.exists():
        return set()
    cells = json.loads(path.read_text())["cells"]
    return {"".join(c["source"]) for c in cells if c["cell_type"] == "markdown"}


class EscapeStudentHTML(Preprocessor):
    enabled = True  # nbgrader registers feedback preprocessors without enabling them

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        trusted = _instructor_markdown(info.get("assignment", ""), info.get("notebook", ""))
        for cell in nb.cells:
            if cell.cell_type == "markdown" and cell.source not in trusted:
                cell.source = html.escape(cell.source, quote=False)
            for output in cell.get("outputs", []):
                if "data" in output:
                    data = {k: v for k, v in output["data"].items() if k in SAFE_OUTPUTS}
                    output["data"] = data or {"text/plain": "(output not shown)"}
            cell.get("metadata", {}).pop("attachments", None)
            cell.pop("attachments", None)
        return nb, resources
