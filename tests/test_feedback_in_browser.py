"""A feedback page, read as a student reads it: in headless Chromium, served on loopback
from OUT/feedback with nothing else. Its formulas render from the copy of MathJax the
grader puts next to the pages (no internet), the browser logs no error and requests
nothing from elsewhere, and nothing the student's cells displayed or wrote runs.

Needs Debian's Chromium, as tests/test_html_in_browser.py (skips, or fails with
REQUIRE_BROWSER=1, without it)."""

import functools
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import nbformat
import pytest
from test_html_in_browser import CHROMIUM, CHROMIUM_FLAGS, why_no_browser

from autograder import pipeline
from helpers import EXERCISE_SPECS, student_notebook, write_submission

A = "01-activations"
NB = EXERCISE_SPECS[A].notebook
LIMITS = pipeline.Limits(cell_timeout=20, notebook_timeout=120, memory_bytes=3 * 2**30)
STUDENT_MARKDOWN = (
    "My notes: $\\sigma(x) = \\frac{1}{1 + e^{-x}}$\n\n"
    "<script>window.studentRan = 'markdown'</script>"
    '<img src="x" onerror="window.studentRan = \'onerror\'">'
)
STUDENT_DISPLAY = (
    "from IPython.display import HTML, Javascript, display\n"
    "display(HTML(\"<script>window.studentRan = 'html'</script><b>bold</b>\"))\n"
    "display(Javascript(\"window.studentRan = 'javascript'\"))"
)


@pytest.fixture(scope="module")
def feedback_site(tmp_path_factory):
    """(URL of the student's feedback page, the server's root: OUT/feedback)."""
    subs = tmp_path_factory.mktemp("feedback-subs")
    out = tmp_path_factory.mktemp("feedback-out")
    nb = student_notebook(A, NB)
    nb["cells"][1:1] = [
        nbformat.v4.new_markdown_cell(STUDENT_MARKDOWN),
        nbformat.v4.new_code_cell(STUDENT_DISPLAY),
    ]
    write_submission(subs, "ada", A, NB, nb)
    pipeline.grade(A, subs, out, limits=LIMITS)
    root = out / "feedback"
    handler = functools.partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    yield f"{base}/ada/{A}/{NB}.html", base
    server.shutdown()
    server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_feedback_renders_math_offline_and_runs_nothing_of_the_students(feedback_site):
    reason = why_no_browser()
    if reason and os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    url, base = feedback_site
    errors, external = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))

        def local_only(route):
            if route.request.url.startswith(base + "/"):
                route.continue_()
            else:
                external.append(route.request.url)
                route.abort()

        page.route("**/*", local_only)
        page.goto(url)
        # MathJax 3 typesets every formula into an <mjx-container>.
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000
        )
        page.evaluate("() => MathJax.startup.promise")
        typeset = page.locator("mjx-container").count()
        student_ran = page.evaluate("() => window.studentRan ?? null")
        text = page.inner_text("body")
        browser.close()
    assert typeset >= 2, "formulas were not typeset"
    assert "\\frac{1}{1 + e^{-x}}" not in text  # the student's formula too, as math
    assert student_ran is None, f"the student's code ran in the feedback page ({student_ran})"
    assert "<script>" in text  # shown as text, not run
    assert not errors, errors
    assert not external, f"the feedback page fetched from elsewhere: {external}"
