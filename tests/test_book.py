"""The built book: every chapter page exists, executed, with figures that have alt text."""

import html
import os
import re
from pathlib import Path

from autograder.book import read_page
from autograder.config import REPO
from autograder.course import chapters

BUILD = REPO / "_build" / "html"
CHAPTERS = [f"book/{c.page}.html" for c in chapters()]


def test_every_chapter_page_is_built_with_figures():
    for chapter in CHAPTERS:
        page = (BUILD / chapter).read_text()
        images = re.findall(r"<img [^>]*>", page)
        assert images, f"{chapter} has no figures"
        for image in images:
            src = re.search(r'src="([^"]+)"', image).group(1)
            assert (BUILD / chapter).parent.joinpath(src).resolve().is_file(), src
            assert re.search(r'alt="[^"]{10,}"', image), f"figure without alt text: {image}"


def test_the_cache_holds_every_chapter_as_the_book_reads_it():
    """`python -m autograder execute-book` runs the chapters before the build, several at a
    time: what it caches must be what MyST-NB looks up, or the build would run them again."""
    from jupyter_cache import get_cache

    from autograder import book

    assert book.pages_to_run(get_cache(str(book.CACHE))) == []


def test_no_cell_failed_during_execution():
    for chapter in CHAPTERS:
        page = (BUILD / chapter).read_text()
        assert "Traceback (most recent call last)" not in page
        assert 'class="output stderr"' not in page, f"{chapter} printed to stderr"


def test_every_exercise_is_a_book_page_offering_the_release_notebook():
    from autograder.config import EXERCISES
    from autograder.pipeline import assignments

    for assignment in assignments():
        for notebook in (EXERCISES / assignment).glob("*.ipynb"):
            page = BUILD / "exercises" / assignment / f"{notebook.stem}.html"
            assert page.is_file(), f"{page} missing: add the exercise to _toc.yml"
            text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
            assert "raise NotImplementedError" in text
            assert 'class="cell_output' not in page.read_text(), f"{page} was executed"
            download = BUILD / "_sources" / "exercises" / assignment / notebook.name
            assert download.read_bytes() == notebook.read_bytes(), "download is not the release"


def test_language_model_chapter_prints_perplexity_against_both_baselines():
    page = (BUILD / "book/03-language-models/language-models.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    table = re.search(r"unigram \(add-one\)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", text)
    ngram = re.search(r"\d+-gram \(interpolated[^)]*\)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", text)
    rnn = re.search(r"RNN, \d+ tanh units\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", text)
    assert table and ngram and rnn, "the validation table is missing from the built chapter"
    perplexity = [float(m.group(3)) for m in (table, ngram, rnn)]
    assert perplexity[2] < perplexity[1] < perplexity[0]  # the RNN beats both baselines


def test_every_chapter_states_objectives_and_ends_with_summary_exercises_reading():
    """The shape every chapter shares: what you will be able to do, then the content, then
    a summary, its exercise (named by path) and further reading with papers."""
    for chapter in CHAPTERS:
        source = (REPO / chapter).with_suffix(".md").read_text()
        slug = chapter.split("/")[1]
        head, _, _ = source.partition("\n## ")
        assert "**What you will be able to do**" in head, f"{chapter}: no objectives on top"
        sections = re.findall(r"^## (.+)$", source, flags=re.MULTILINE)
        assert sections[-3:] == ["Summary", "Exercises", "Further reading"], chapter
        exercises = source.split("\n## Exercises\n")[1].split("\n## ")[0]
        assert f"exercises/{slug}/" in exercises, f"{chapter}: its exercise is not named"
        reading = source.split("\n## Further reading\n")[1]
        assert len(re.findall(r"^- .*\(\d{4}\)", reading, flags=re.MULTILINE)) >= 2, chapter


def test_the_landing_page_maps_every_chapter_with_its_time():
    intro = (REPO / "book" / "intro.md").read_text()
    for number in range(1, len(CHAPTERS) + 1):
        row = re.search(
            rf"^\| {number}\. .*\| (\d+[–-]?\d*) min \| (\d+[–-]?\d*) min \|$", intro, re.M
        )
        assert row, f"chapter {number} is missing from the landing page's map (or its times)"


def test_every_chapter_fixes_its_threads_in_one_place():
    """Threads decide the order of a sum's additions: a page uses the course's setting
    (rnncourse.use_book_threads), never its own count or one chosen by timing."""
    for chapter in CHAPTERS:
        source = (REPO / chapter).with_suffix(".md").read_text()
        assert "use_book_threads()" in source, f"{chapter} does not call use_book_threads()"
        assert "set_num_threads" not in source, f"{chapter} sets its own thread count"


def glued_values(page: Path, env: dict) -> dict[str, str]:
    """Execute a book page as a notebook with `env`; its glued values, by key."""
    import nbclient

    notebook = read_page(page)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3")
    client.execute(cwd=str(page.parent), env=env)  # the kernel starts with `env`
    return {
        # glue(..., display=False) writes its value under MyST-NB's (papermill's) prefix.
        output.metadata["scrapbook"]["name"]: output.data.get(
            "application/papermill.record/text/plain", output.data.get("text/plain")
        )
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "scrapbook" in output.get("metadata", {})
    }


def test_a_page_glues_the_same_numbers_with_one_and_with_two_threads():
    """What a 2-core laptop and a 16-core server would print (issue 20, point 3): chapter 1
    run with torch's default thread count set to 1, then to 2. Timings (keys time_*)
    differ by nature and are left out."""
    page = REPO / CHAPTERS[0].replace(".html", ".md")
    runs = []
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        values = glued_values(page, env)
        runs.append({key: value for key, value in values.items() if not key.startswith("time_")})
    assert runs[0], f"{page} glues nothing"
    assert runs[0] == runs[1]
