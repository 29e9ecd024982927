"""The tool that runs the book's pages as other CPUs would (tests/book_on_other_cpus.py):
a page's assertions become reports, so that one run lists every failing claim."""

import contextlib
import io

from book_on_other_cpus import MARK, WHERE, _reporting


def test_a_failing_claim_is_reported_and_the_cell_goes_on():
    cell = "x = 1\nassert x == 2, 'not two'\nassert x == 1\ny = x + 1  # still runs\n"
    printed = io.StringIO()
    namespace = {}
    with contextlib.redirect_stdout(printed):
        exec(_reporting(cell), namespace)
    assert printed.getvalue().splitlines() == [f"{MARK} x == 2", f"{WHERE} x = 1"]
    assert namespace["y"] == 2


def test_a_cell_python_cannot_parse_is_left_as_it_is():
    cell = "%timeit sum(range(10))\nassert False\n"
    assert _reporting(cell) == cell
