"""Sphinx extension: every <script> of a page appears once.

Sphinx 7.4 writes a script twice when an extension registers it after the builder has
started (sphinx_thebe and sphinx_togglebutton do, both loaded by Jupyter Book): once named
None, once "". The second `const THEBE_JS_URL = ...` is a JavaScript error on every page
(found by tests/test_html_in_browser.py), so the repeats are dropped before a page is written.
"""


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen = set()
    unique = []
    for script in context["script_files"]:
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # In place: handlers that run later (MathJax's) add their scripts to this same list.
    context["script_files"][:] = unique


def setup(app):
    app.connect("html-page-context", drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
