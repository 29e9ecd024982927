"""The built book read in a real browser: headless Chromium, driven by Playwright.

Every page of `_toc.yml` is served from `_build/html` on loopback and opened as a reader would.
A page fails if: the navigation sidebar misses a page of the book; an internal link, image,
script or anchor points nowhere; the browser console shows an error; math is left as raw TeX;
the search page does not find the page by a word only it uses; or it fetches anything from the
internet (such requests are blocked and listed, so the check is the same online and offline).
Every image in a page's article (the figures the chapters' code draws) must have alt text that
describes it: not missing, empty, a placeholder word, or the file's name or path.
A screenshot of each page's first screen goes to `_build/screenshots/<page>.png`.

Needs Debian's Chromium (`apt-get install chromium`; Playwright never downloads a browser
here). Without it these tests skip, unless REQUIRE_BROWSER=1 (as in .ci/run and
`make check-html`), where they fail. Run them alone with `make check-html`.
"""

import functools
import html
import os
import re
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
import yaml

from autograder.config import REPO

BUILD = REPO / "_build" / "html"
SCREENSHOTS = REPO / "_build" / "screenshots"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags, Chromium's own calls home are refused, many at a
# time, on a machine with no internet.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WINDOW = {"width": 1280, "height": 900}


def toc_pages(entry=None):
    """Every page of _toc.yml in reading order, as built-page names: "book/intro", ..."""
    if entry is None:
        entry = yaml.safe_load((REPO / "_toc.yml").read_text())
    pages = []
    if "root" in entry or "file" in entry:
        pages.append(re.sub(r"\.(md|ipynb)$", "", entry.get("root") or entry["file"]))
    for key in ("parts", "chapters", "sections"):
        for child in entry.get(key, []):
            pages += toc_pages(child)
    return pages


PAGES = toc_pages()


# --- The book on loopback, and the browser ------------------------------------------------


class BookHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(BUILD), **kwargs)

    def log_message(self, *args):
        pass  # one line per request would bury pytest's report


@pytest.fixture(scope="module")
def base_url():
    assert (BUILD / "index.html").is_file(), "no built book in _build/html: run `make book` first"
    server = ThreadingHTTPServer(("127.0.0.1", 0), BookHandler)  # port 0: any free port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def why_no_browser():
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -r requirements.txt)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = why_no_browser()
    if reason and os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A browser tab and what a reader would not see in it."""

    page: object
    errors: list = field(default_factory=list)
    external: list = field(default_factory=list)


@contextmanager
def open_tab(browser, base_url, mode=None):
    """A tab in a fresh profile (a first visit); `mode="dark"` as if the reader chose dark."""
    context = browser.new_context(viewport=WINDOW, color_scheme="light")
    if mode:
        # The theme keeps the reader's choice in localStorage["mode"].
        context.add_init_script(f"localStorage.setItem('mode', '{mode}')")
    tab = Tab(context.new_page())
    tab.page.set_default_timeout(20_000)

    def on_console(message):
        if message.type == "error":
            tab.errors.append(console_line(message))

    tab.page.on("console", on_console)
    tab.page.on("pageerror", lambda error: tab.errors.append(f"uncaught JavaScript error: {error}"))
    tab.page.route("**/*", lambda route: local_only(route, base_url, tab.external))
    try:
        yield tab
    finally:
        context.close()


def console_line(message):
    where = message.location.get("url", "")
    return f"console error: {message.text}" + (f" ({where})" if where else "")


def local_only(route, base_url, external):
    """Serve the book; block (and list) anything from elsewhere."""
    if route.request.url.startswith(base_url + "/"):
        route.continue_()
    else:
        external.append(route.request.url)
        route.abort()


def load(tab, url):
    """Open a page and wait until MathJax has typeset it and its fonts are in."""
    response = tab.page.goto(url)
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
    tab.page.evaluate(
        """async () => {
            if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
            await document.fonts.ready;
        }"""
    )


def screenshot(tab, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=path)  # the window only: the reader's first screen


def page_name(url):
    """The page a URL of the book's server shows: ".../book/intro.html#x" -> "book/intro"."""
    return unquote(urlsplit(url).path).lstrip("/").removesuffix(".html")


# --- What a page must get right ------------------------------------------------------------


def missing_from_navigation(tab):
    links = tab.page.eval_on_selector_all(".bd-docs-nav a[href]", "as => as.map(a => a.href)")
    listed = {page_name(link) for link in links}
    return [f"not in the navigation sidebar: {page}" for page in PAGES if page not in listed]


@functools.cache
def ids_in(file):
    return set(re.findall(r'\bid="([^"]+)"', html.unescape(file.read_text())))


def broken_links(tab, base_url):
    """Every link, image, stylesheet and script on this server must be a file, and an anchor
    (#id) an id on its page. Links elsewhere are fine as links: they are not followed."""
    urls = tab.page.evaluate(
        """() => [...document.querySelectorAll('a[href], link[href], img[src], script[src]')]
                 .map(el => el.src || el.href).filter(url => typeof url === 'string')"""
    )
    problems = []
    for url in sorted(set(urls)):
        if not url.startswith(base_url + "/"):
            continue
        parts = urlsplit(url)
        file = BUILD / unquote(parts.path).lstrip("/")
        if parts.path.endswith("/"):
            file = file / "index.html"
        anchor = unquote(parts.fragment)
        if not file.is_file():
            problems.append(f"broken link: {parts.path}")
        elif anchor and file.suffix == ".html" and anchor not in ids_in(file):
            problems.append(f"broken anchor: {parts.path}#{parts.fragment}")
    return problems


# Raw TeX delimiters in text a reader sees; code blocks may show them on purpose.
MATH_STATE = r"""() => {
    const math = [...document.querySelectorAll('.math')];
    const raw = [];
    const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let text = texts.nextNode(); text; text = texts.nextNode()) {
        if (text.parentElement.closest('pre, code, script, style, mjx-container')) continue;
        if (/\\\(|\\\[|\$\$|\\begin\{/.test(text.data)) raw.push(text.data.trim().slice(0, 60));
    }
    return {
        unrendered: math.filter(m => !m.querySelector('mjx-container')).length,
        texErrors: document.querySelectorAll('mjx-merror').length,
        raw: raw,
    };
}"""


def unrendered_math(tab):
    state = tab.page.evaluate(MATH_STATE)
    problems = []
    if state["raw"]:
        first = ", ".join(repr(text) for text in state["raw"][:3])
        problems.append(f"raw TeX left in the text {len(state['raw'])} times: {first}...")
    if state["unrendered"]:
        problems.append(f"{state['unrendered']} formulas not rendered by MathJax")
    if state["texErrors"]:
        problems.append(f"{state['texErrors']} formulas with TeX errors (shown in red)")
    return problems


@functools.cache
def paragraph_words(page):
    """How often each word of 8+ letters appears in the paragraphs of a built page."""
    text = (BUILD / f"{page}.html").read_text()
    text = text[text.find("<article") : text.find("</article>")]
    text = re.sub(r'<span class="math[^"]*">.*?</span>', " ", text, flags=re.S)  # TeX, not words
    paragraphs = " ".join(re.findall(r"<p\b[^>]*>(.*?)</p>", text, flags=re.S))
    plain = html.unescape(re.sub(r"<[^>]+>", " ", paragraphs)).lower()
    return Counter(re.findall(r"[a-z]{8,}", plain))


def distinctive_word(page):
    """The word of this page that the fewest other pages use (none, mostly), and of those
    the one it uses most: search must list this page among its results."""
    others = [paragraph_words(other) for other in PAGES if other != page]
    counts = paragraph_words(page)
    assert counts, f"{page}: no words to search for"
    return min(counts, key=lambda word: (sum(word in o for o in others), -counts[word], word))


def not_found_by_search(tab, base_url, page):
    word = distinctive_word(page)
    tab.page.goto(f"{base_url}/search.html?q={quote(word)}")
    # Sphinx's search writes this summary when it has listed every result.
    tab.page.wait_for_function(
        """() => /Search finished|did not match/.test(
            document.querySelector('#search-results .search-summary')?.innerText ?? '')"""
    )
    links = tab.page.eval_on_selector_all(
        "#search-results ul.search a", "as => as.map(a => a.href)"
    )
    if page in {page_name(link) for link in links}:
        return []
    return [f"searching for {word!r}, a word few other pages use, does not find it"]


# What a reader who cannot see a figure gets instead of it. The theme's own logos and icons, if
# any, are outside the article.
ARTICLE_IMAGES = """() => {
    const article = document.querySelector('article.bd-article');
    return article && [...article.querySelectorAll('img')].map(
        img => ({src: img.getAttribute('src') ?? '', alt: img.getAttribute('alt')}));
}"""
PLACEHOLDER_ALTS = {"image", "img", "figure", "fig", "plot", "graph", "chart", "picture", "output"}
FILE_NAME = re.compile(r"_images/|\.(png|svg|jpe?g|gif|webp|pdf)$|^\S*/\S*$", re.I)


def images_without_alt_text(tab):
    """Each <img> of the article needs alt text that says what it shows. Without the cell option
    `mystnb: image: alt:` a notebook's figure gets its file path ("../_images/<hash>.png")."""
    images = tab.page.evaluate(ARTICLE_IMAGES)
    if images is None:
        return ["no <article class='bd-article'> on the page: its images could not be checked"]
    problems = []
    for image in images:
        name = image["src"].rsplit("/", 1)[-1]
        alt = " ".join((image["alt"] or "").split())
        if image["alt"] is None:
            problems.append(f"image without an alt attribute: {name}")
        elif not alt:
            problems.append(f"image with empty alt text: {name}")
        elif alt.lower().strip(".:") in PLACEHOLDER_ALTS or FILE_NAME.search(alt):
            problems.append(f"image whose alt text describes nothing: {name}: alt={alt!r}")
    alts = Counter(" ".join((image["alt"] or "").split()) for image in images)
    problems += [
        f"{count} images share the alt text {alt[:60]!r}..."
        for alt, count in alts.items()
        if alt and count > 1
    ]
    return problems


# --- The tests -----------------------------------------------------------------------------


def test_toc_lists_pages():
    assert len(PAGES) > 1 and PAGES[0] == "book/intro", PAGES


@pytest.fixture(scope="module")
def checked_pages(browser, base_url):
    """checked_pages(page) -> {"reading": problems, "images": problems}: each page opened
    once, in a fresh tab, for both tests below."""
    found = {}

    def check(page):
        if page not in found:
            with open_tab(browser, base_url) as tab:
                load(tab, f"{base_url}/{page}.html")
                screenshot(tab, SCREENSHOTS / f"{page}.png")
                reading = missing_from_navigation(tab) + broken_links(tab, base_url)
                reading += unrendered_math(tab)
                images = images_without_alt_text(tab)  # before the search moves the tab
                reading += not_found_by_search(tab, base_url, page)
                reading += tab.errors
                reading += [f"fetched from the internet (blocked): {url}" for url in tab.external]
            found[page] = {"reading": reading, "images": images}
        return found[page]

    return check


@pytest.mark.parametrize("page", PAGES)
def test_page_reads_well_in_the_browser(page, checked_pages):
    problems = checked_pages(page)["reading"]
    assert not problems, f"{page}.html:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_images_have_alt_text(page, checked_pages):
    problems = checked_pages(page)["images"]
    assert not problems, f"{page}.html:\n  " + "\n  ".join(problems)


def test_dark_mode(browser, base_url):
    page = PAGES[1]  # the first chapter
    with open_tab(browser, base_url, mode="dark") as tab:
        load(tab, f"{base_url}/{page}.html")
        screenshot(tab, SCREENSHOTS / "dark" / f"{page}.png")
        theme = tab.page.evaluate("() => document.documentElement.dataset.theme")
        background = tab.page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert theme == "dark"
    red, green, blue = map(int, re.findall(r"\d+", background)[:3])
    assert red + green + blue < 3 * 80, f"dark mode, but the page background is {background}"
    assert not tab.errors + tab.external, tab.errors + tab.external
