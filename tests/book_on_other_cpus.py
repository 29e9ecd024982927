"""Run the book's pages as other kinds of CPU would, and list every claim that fails.

A training run's numbers depend on the processor's rounding: PyTorch and MKL choose their
kernels by instruction set (AVX-512, AVX2, ...), so the same seed can take a run elsewhere
on another CPU. A page's assertions must hold on all of them, or the book builds on one
machine and fails on the next (measured Dec. 2026: three chapters whose claims held on the
machines they were written on failed on an AMD EPYC with AVX-512).

This runs each page with each instruction set below, the assertions turned into reports, so
that one run lists every failing claim, not only the first. Pages run side by side, one per
core. Not part of `make test` (about ten minutes per setting on 2 cores):

    .venv/bin/python tests/book_on_other_cpus.py [PAGE ...] [--settings native avx2 no-simd]

(PAGE: a chapter's page, such as book/04-lstm-gru/lstm-and-gru.md; by default every chapter.)
"""

import argparse
import ast
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from autograder.book import execute_page, read_page
from autograder.config import REPO
from autograder.course import chapters

# What the kernels may use: PyTorch's own kernels (ATEN_CPU_CAPABILITY), MKL's matrix
# products (MKL_CBWR) and oneDNN's (ONEDNN_MAX_CPU_ISA). "native" is the machine's best.
SETTINGS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "no-simd": {
        "ATEN_CPU_CAPABILITY": "default",
        "MKL_CBWR": "COMPATIBLE",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
    },
}
MARK = "CLAIM FAILED:"
WHERE = "    where"  # the values of a failed claim's names, one per line


class _Report(ast.NodeTransformer):
    """`assert test` -> `if not test: print(MARK, "test", and the values of its names)`: the
    page goes on to its next claim."""

    def visit_Assert(self, node):
        names = sorted({n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)})
        report = ast.parse(
            f"print({MARK!r}, {ast.unparse(node.test)!r})\n"
            f"for _name in {names!r}:\n"
            "    try:\n"  # a comprehension's own variables are not there to print
            f"        print({WHERE!r}, _name, '=', repr(eval(_name))[:300])\n"
            "    except Exception:\n"
            "        pass\n"
        ).body
        return ast.copy_location(ast.If(ast.UnaryOp(ast.Not(), node.test), report, []), node)


def _reporting(source: str) -> str:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (magics): left as it is
        return source
    return ast.unparse(ast.fix_missing_locations(_Report().visit(tree)))


def run(page: Path, setting: str) -> tuple[str, str, float, list[str]]:
    """(page, setting, seconds, the claims that failed and the errors, in words)."""
    for name in {name for values in SETTINGS.values() for name in values}:
        os.environ.pop(name, None)
    os.environ.update(SETTINGS[setting])  # the kernel inherits them
    notebook = read_page(page)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = _reporting(cell.source)
    result = execute_page(notebook, page, allow_errors=True)
    failures = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            failures += [line for line in text.splitlines() if line.startswith((MARK, WHERE))]
            if output.get("output_type") == "error":
                failures.append(f"error: {output['ename']}: {output['evalue'][:200]}")
    return str(page.relative_to(REPO)), setting, result.time, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", help="book pages (default: every chapter)")
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    args = parser.parse_args()
    pages = [Path(p).resolve() for p in args.pages] or [
        REPO / "book" / f"{chapter.page}.md" for chapter in chapters()
    ]
    jobs = [(page, setting) for setting in args.settings for page in pages]
    failed = 0
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        for page, setting, seconds, failures in pool.map(run, *zip(*jobs, strict=True)):
            failed += bool(failures)
            claims = sum(not line.startswith(WHERE) for line in failures)
            print(f"{page} [{setting}]: {seconds:.0f} s, {claims} failed", flush=True)
            for failure in failures:
                print(failure if failure.startswith(WHERE) else f"    {failure}")
    print(f"{failed} of {len(jobs)} runs with a failing claim")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
