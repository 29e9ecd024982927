"""Known mistakes: plausible wrong implementations of exercise functions, one entry each.

Each `Mistake` names the function it replaces, the test cell that must catch it,
the wrong code (a whole `def`) and a one-sentence hint for the student. The
project's tests grade a notebook with each mistake substituted and check that
the named cell loses points and no other cell does.

Most mistakes are `edited` copies of the reference solution, which is read from the
solution notebook (`reference`), never copied here: the reference is written once.
"""

import ast
import functools
import importlib
import io
import json
import re
import tokenize
from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    name: str  # unique id, e.g. "sigmoid_naive_ratio"
    function: str  # the function it replaces
    test_cell: str  # grade_id of the test cell that must lose points
    code: str  # the wrong `def function(...)`
    hint: str  # what the student did, in one plain sentence


def edited(name, function, test_cell, correct_code, correct, wrong, hint) -> Mistake:
    """A mistake written as one edit of a correct function: `correct` becomes `wrong`.

    Most slips are one changed line; writing them this way shows exactly which.
    """
    if correct not in correct_code:
        raise ValueError(f"{name}: {correct!r} is not in the correct code")
    return Mistake(name, function, test_cell, correct_code.replace(correct, wrong), hint)


SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def reference(notebook: str, name: str) -> str:
    """The reference solution's `def name` (or `class name`), read from the solution
    notebook `notebook` (course.toml), without its docstrings, comments and solution
    markers: the code that the known mistakes edit, written once, in the notebook."""
    for source, tree in _solution_code(notebook):
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
                return "\n" + _without_comments(_lines_of(source, node)) + "\n"
    raise KeyError(f"no function or class {name!r} in the solution notebook {notebook}")


@functools.cache
def _solution_code(notebook: str) -> list[tuple[str, ast.Module]]:
    """(source, syntax tree) of each code cell of a solution notebook but its tests (read
    once: a bank of mistakes asks for several of its functions)."""
    from autograder.config import SOLUTIONS
    from autograder.course import chapters

    (slug,) = [c.slug for c in chapters() if c.notebook == notebook]
    cells = json.loads((SOLUTIONS / slug / f"{notebook}.ipynb").read_text())["cells"]
    sources = [
        "".join(cell["source"])
        for cell in cells
        if cell["cell_type"] == "code" and not cell["metadata"].get("nbgrader", {}).get("grade")
    ]
    return [(source, ast.parse(source)) for source in sources]


def _lines_of(source: str, node) -> list[str]:
    """The lines of `node` in `source`, less docstrings (and the blank line after one)
    and solution markers."""
    lines = source.splitlines()
    dropped = set()
    for inner in ast.walk(node):
        body = getattr(inner, "body", None)
        if isinstance(inner, ast.FunctionDef | ast.ClassDef) and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                dropped |= set(range(body[0].lineno - 1, body[0].end_lineno))
                if body[0].end_lineno < len(lines) and not lines[body[0].end_lineno].strip():
                    dropped.add(body[0].end_lineno)
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
    return [
        line
        for number, line in enumerate(lines[start : node.end_lineno], start)
        if number not in dropped and not SOLUTION_MARKER.match(line)
    ]


def _without_comments(lines: list[str]) -> str:
    lines = [line for line in lines if not line.lstrip().startswith("#")]
    text = "\n".join(lines) + "\n"
    cut = {}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            cut[token.start[0] - 1] = token.start[1]
    return "\n".join(line[: cut[i]].rstrip() if i in cut else line for i, line in enumerate(lines))


def for_assignment(assignment: str) -> tuple[list[Mistake], dict[str, str]]:
    """(mistakes, alternatives) for an assignment; alternatives: function -> correct code.
    They live in the exercise's own folder: solutions/<slug>/<notebook>_mistakes.py."""
    from autograder.course import chapter, make_exercise_modules_importable

    make_exercise_modules_importable()
    module = importlib.import_module(chapter(assignment).mistakes)
    return module.MISTAKES, module.ALTERNATIVES


def replace_function(cell_source: str, name: str, code: str) -> str:
    """`cell_source` with the top-level `def name` (or `class name`) replaced by `code`."""
    lines = cell_source.splitlines()
    for node in ast.parse(cell_source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            return "\n".join([*lines[:start], code.strip("\n"), *lines[node.end_lineno :]])
    raise KeyError(f"no function or class {name!r} in cell")
