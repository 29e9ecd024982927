"""The built book: every chapter page exists, executed, with figures that have alt text."""

import re

from autograder.config import REPO

BUILD = REPO / "_build" / "html"
CHAPTERS = [
    "book/01-activations/activation-functions.html",
    "book/02-bptt/unrolling-and-bptt.html",
    "book/05-esn/echo-state-networks.html",
]


def test_every_chapter_page_is_built_with_figures():
    for chapter in CHAPTERS:
        page = (BUILD / chapter).read_text()
        images = re.findall(r"<img [^>]*>", page)
        assert images, f"{chapter} has no figures"
        for image in images:
            src = re.search(r'src="([^"]+)"', image).group(1)
            assert (BUILD / chapter).parent.joinpath(src).resolve().is_file(), src
            assert re.search(r'alt="[^"]{10,}"', image), f"figure without alt text: {image}"


def test_no_cell_failed_during_execution():
    for chapter in CHAPTERS:
        page = (BUILD / chapter).read_text()
        assert "Traceback (most recent call last)" not in page
        assert 'class="output stderr"' not in page, f"{chapter} printed to stderr"
