"""Numbers in the book's prose come from its own run (issue 20, point 1).

A chapter states what its cells computed by gluing it (``glue(...)`` in a cell, then
``{glue:text}`key:.3f``` in the text, a table, a caption or an alt text). This test reads
every page's source and fails on a *decimal number* (``0.27``, ``37 %``, ``1e-10``,
``10^{-10}``, ``2.4x``) that stands in prose, a list, a table, a heading, inline maths, a
figure's caption or its alt text without being glued. Display maths, code and links are
not prose. What may stay typed (a definition, a property of float32) is named in the page
itself, in a comment with its reason; a few per page at most. A number from a paper is
glued from the page's cell that names its paper, table, task and metric, so that a reader
finds the source next to the code.

Whole numbers (a layer of 64 units, 5 seeds) are not checked: most are sizes chosen in the
code, and a sentence that counts a run's outcome ("two of five runs") is backed by an
assertion in the page (issue 20, point 2), which the build runs.
"""

import re

import pytest
from myst_nb.core.read import read_myst_markdown_notebook

from autograder.config import REPO
from autograder.course import chapters

PAGES = [f"book/{chapter.page}.md" for chapter in chapters()]

# Decimals, percentages, powers of ten and ratios written in prose.
NUMBER = re.compile(
    r"(?<![\w.])\d+(?:\.\d+)?\s?%"  # 37 %, 0.5%
    r"|(?<![\w.])\d*\.\d+(?:e[-+]?\d+)?(?:\s?[x×])?"  # 0.27, .5, 2.4x, 1.5e-3
    r"|(?<![\w.])\d+e[-+]?\d+"  # 1e-10
    r"|10\s*\^\s*\{?\s*[-−]?\d+\}?"  # 10^{-10} in inline maths
    r"|(?<![\w.])\d+(?:\s?[x×])(?![\w])"  # 3x, 3 ×
)
GLUED = re.compile(r"\{glue(?::\w+)?\}`[^`]*`")
INLINE_CODE = re.compile(r"``[^\n]*?``|`[^`\n]*`")
LINK_TARGET = re.compile(r"\]\([^)]*\)|<https?://[^>]*>|https?://\S+")
ARXIV = re.compile(r"arXiv:\s?\d{4}\.\d{4,5}(v\d+)?", re.I)
DISPLAY_MATHS = re.compile(r"\$\$.*?\$\$|\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S)
FENCED = re.compile(r"^(```+|~~~+)[^\n]*\n.*?^\1\s*$", re.S | re.M)

# What may stay typed is said in the page itself, next to the text, in a MyST comment
# (a line the reader never sees):  % typed: 0.5 the step function's threshold, a definition
TYPED_NOTE = re.compile(r"^%\s*typed:\s*(\S+)\s+(\S.*)$", re.M)
MOST_TYPED_PER_PAGE = 8


def _without_code(fence: re.Match) -> str:
    """A fenced directive holding prose ({note}, {figure}) keeps its body, not its fences."""
    first, _, rest = fence.group(0).partition("\n")
    info = first.strip("`~ ")
    prose_directive = info.startswith("{") and not info.startswith(("{code", "{math", "{literal"))
    return rest.rsplit("\n", 1)[0] if prose_directive else ""


def prose_of(markdown: str) -> str:
    """The text a reader reads as prose: no code, display maths, links or glued values."""
    text = FENCED.sub(_without_code, markdown)
    text = DISPLAY_MATHS.sub("", text)
    text = GLUED.sub("", text)
    text = INLINE_CODE.sub("", text)
    text = LINK_TARGET.sub("]", text)
    return ARXIV.sub("", text)


def typed_numbers(source: str) -> list[tuple[str, str]]:
    """(where, number) for every decimal number of a page that is not glued."""
    notebook = read_myst_markdown_notebook(source)
    found = []
    for index, cell in enumerate(notebook.cells):
        texts = []
        if cell.cell_type == "markdown":
            texts.append(("text", cell.source))
        else:
            options = cell.metadata.get("mystnb", {})
            for group, key in (("figure", "caption"), ("image", "alt")):
                value = options.get(group, {}).get(key)
                if value:
                    texts.append((f"{group} {key}", value))
        for kind, text in texts:
            for match in NUMBER.finditer(prose_of(text)):
                line = next((line for line in text.splitlines() if match.group(0) in line), "")
                found.append(
                    (f"cell {index} ({kind}): …{line.strip()[:90]}…", match.group(0).strip())
                )
    return found


@pytest.mark.parametrize("page", PAGES)
def test_every_number_in_the_prose_is_glued_from_the_run(page):
    source = (REPO / page).read_text()
    allowed = {number for number, _reason in TYPED_NOTE.findall(source)}
    typed = [(where, number) for where, number in typed_numbers(source) if number not in allowed]
    assert not typed, (
        f"{page}: numbers typed by hand (glue them from the cell that computes them):\n"
        + "\n".join(f"  {number!r} in {where}" for where, number in typed)
    )


@pytest.mark.parametrize("page", PAGES)
def test_few_numbers_stay_typed_and_each_says_why(page):
    notes = TYPED_NOTE.findall((REPO / page).read_text())
    assert len(notes) <= MOST_TYPED_PER_PAGE, f"{page}: glue these instead: {notes}"
    for number, reason in notes:
        assert len(reason.split()) >= 3, f"{page}: say why {number} stays typed"


@pytest.mark.parametrize(
    "text",
    [
        "The LSTM reaches an NMSE of 0.299 after training.",
        "It is right 37 % of the time.",
        "Validation chooses $\\beta = 10^{-10}$ here.",
        "The ridge parameter 1e-11 wins.",
        "The clockwork step is 2.4x faster.",
        "| LSTM | 0.52 |",
    ],
)
def test_the_scan_finds_typed_numbers(text):
    assert NUMBER.search(prose_of(text)), text


@pytest.mark.parametrize(
    "text",
    [
        "The LSTM reaches an NMSE of {glue:text}`lstm_nmse:.3f` after training.",
        "$$\\sigma(0) = 0.5$$",
        "Use `lr = 0.001` in the call.",
        "See [the paper](https://arxiv.org/abs/1402.3511) and arXiv:1308.0850.",
        "A layer of 64 units, trained on 5 seeds, chapter 4.",
    ],
)
def test_the_scan_lets_glued_maths_code_and_links_pass(text):
    assert not NUMBER.search(prose_of(text)), text
