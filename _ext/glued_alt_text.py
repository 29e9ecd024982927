"""Sphinx extension: alt texts take glued numbers, as prose and captions do.

MyST-NB fills ``{glue:text}`key:fmt``` in prose, tables and figure captions, but a figure's
alt text is plain metadata and would keep the role as typed. After a page is read, this
fills each such role in an image's alt text from the page's glue data (the same
``jupyter_execute/<page>.glue.json`` that MyST-NB writes) with MyST-NB's own formatting.
A key the page did not glue stops the build (we build with --warningiserror).
"""

import json
import re
from pathlib import Path

from docutils import nodes
from myst_nb.core.variables import format_plain_text
from sphinx.util import logging

GLUE_TEXT = re.compile(r"\{glue:text\}`([^`]+)`")
logger = logging.getLogger(__name__)


def fill_alt_texts(app, doctree):
    images = [image for image in doctree.findall(nodes.image) if "{glue" in image.get("alt", "")]
    if not images:
        return
    docname = app.env.docname
    glue_file = Path(app.outdir).parent / "jupyter_execute" / f"{docname}.glue.json"
    glued = json.loads(glue_file.read_text()) if glue_file.exists() else {}

    def paste(match):
        key, _, fmt_spec = match.group(1).partition(":")
        if key not in glued:
            logger.warning(f"alt text glues {key!r}, which this page never glued", location=docname)
            return match.group(0)
        return format_plain_text(glued[key]["data"]["text/plain"], fmt_spec or "s")

    for image in images:
        image["alt"] = GLUE_TEXT.sub(paste, image["alt"])


def setup(app):
    app.connect("doctree-read", fill_alt_texts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
