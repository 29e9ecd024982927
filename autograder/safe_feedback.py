"""Feedback pages show what the student's cells displayed as text, never as live HTML.

A student's cell can display HTML (`<script>` included) and a student can add
Markdown cells with raw HTML: in a feedback page that is the instructor's site, so
it would run there, or pass for the grader's report. This preprocessor keeps only
plain text and images of every output, and escapes HTML in Markdown cells that are
not the instructor's own (the source notebook's, word for word).
"""

import html
import json
import re
import shutil
from pathlib import Path

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


# ---------------------------------------------------------------------------
# Formulas without the internet
# ---------------------------------------------------------------------------

# nbgrader's feedback template loads MathJax 2 from a CDN; the pages load MathJax 3 from a
# copy next to them instead (OUT/feedback/_static/mathjax: the book's own, from
# sphinx-mathjax-offline), so they render offline and ask nothing of another site.
CDN_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
LOCAL_MATHJAX = """<script>
window.MathJax = {tex: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], processEscapes: true}};
</script>
<script defer src="%s"></script>"""
MATHJAX_FILES = ("tex-chtml.js", "output/chtml/fonts/woff-v2")


def mathjax_source() -> Path:
    """The folder of the MathJax 3 files the book uses (the sphinx-mathjax-offline package)."""
    from importlib.metadata import distribution

    return Path(distribution("sphinx-mathjax-offline").locate_file("sphinx-mathjax-offline"))


def install_mathjax(feedback: Path) -> Path:
    """Copy what the pages need of MathJax into `feedback`/_static/mathjax (1.6 MB)."""
    source, target = mathjax_source() / "static" / "mathjax", Path(feedback) / "_static" / "mathjax"
    for name in MATHJAX_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target / name)
    return target


def with_local_mathjax(page: str, script: str) -> str:
    """The page with the CDN's MathJax replaced by the local copy at `script` (a URL
    relative to the page)."""
    page, found = CDN_MATHJAX.subn(LOCAL_MATHJAX % script, page, count=1)
    if not found:
        raise ValueError("no MathJax block in the feedback page: has nbgrader's template changed?")
    return page
