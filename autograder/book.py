"""Run the book's chapters before jupyter-book builds them, several at a time.

In its `cache` mode, MyST-NB runs each changed page in turn while Sphinx reads the book.
A page's results depend on its code alone (each page fixes its threads and seeds), so
pages can run side by side, one per core. This runs every page that the book's
jupyter-cache does not hold yet, with MyST-NB's own reader and jupyter-cache's own
executor, and caches it as MyST-NB would: the build then finds every page cached. A page
that fails here is left uncached: the build runs it again and reports the error.
"""

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from autograder.config import REPO
from autograder.course import chapters

CACHE = REPO / "_build" / ".jupyter_cache"
MYST_NOTEBOOK = {"type": "plugin", "name": "myst_nb_md"}  # how MyST-NB names its reader
TIMEOUT = 600  # seconds per cell, as _config.yml's execute.timeout


def read_page(path: Path):
    """A book page (MyST Markdown) as the notebook MyST-NB executes."""
    from myst_nb.core.read import read_myst_markdown_notebook

    return read_myst_markdown_notebook(path.read_text())


def execute_page(notebook, path: Path, allow_errors: bool = False):
    """Execute a page's notebook in place as the build does (in the page's folder, with the
    build's timeout); jupyter-cache's result: its `time` and its `err` (None if none)."""
    from jupyter_cache.executors.utils import single_nb_execution

    return single_nb_execution(
        notebook,
        cwd=str(path.parent),
        allow_errors=allow_errors,
        timeout=TIMEOUT,
        meta_override=True,
    )


def _run(path: Path):
    """(path, the executed notebook or None, seconds, the error in words or None)."""
    notebook = read_page(path)
    result = execute_page(notebook, path)
    if result.err is not None:
        return path, None, result.time, f"{type(result.err).__name__}: {result.err}"[:500]
    return path, notebook, result.time, None


def pages_to_run(cache) -> list[Path]:
    """The chapter pages whose code the cache has not run."""
    pending = []
    for chapter in chapters():
        path = REPO / "book" / f"{chapter.page}.md"
        try:
            cache.match_cache_notebook(read_page(path))
        except KeyError:
            pending.append(path)
    return pending


def execute(jobs: int | None = None) -> None:
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(CACHE))
    pending = pages_to_run(cache)
    if not pending:
        print("every chapter is cached")
        return
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(pending)))
    print(f"running {len(pending)} chapter(s), {jobs} at a time")
    start = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        for done in as_completed([pool.submit(_run, path) for path in pending]):
            path, notebook, seconds, error = done.result()
            page = path.relative_to(REPO)
            if error:
                print(f"  {page}: failed after {seconds:.0f} s ({error}); the build runs it again")
                continue
            record = cache.add_nb_to_project(str(path), read_data=MYST_NOTEBOOK)
            cache.cache_notebook_bundle(
                CacheBundleIn(notebook, record.uri, data={"execution_seconds": seconds}),
                check_validity=False,
                overwrite=True,
            )
            print(f"  {page}: {seconds:.0f} s", flush=True)
    print(f"chapters run in {time.perf_counter() - start:.0f} s")
