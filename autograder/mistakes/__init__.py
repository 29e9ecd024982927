"""Known mistakes: plausible wrong implementations of exercise functions, one entry each.

Each `Mistake` names the function it replaces, the test cell that must catch it,
the wrong code (a whole `def`) and a one-sentence hint for the student. The
project's tests grade a notebook with each mistake substituted and check that
the named cell loses points and no other cell does.
"""

import ast
import importlib
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


def for_assignment(assignment: str) -> tuple[list[Mistake], dict[str, str]]:
    """(mistakes, alternatives) for an assignment; alternatives: function -> correct code.
    They live in the module named after its notebook (course.toml)."""
    from autograder.course import chapter

    module = importlib.import_module(f"autograder.mistakes.{chapter(assignment).notebook}")
    return module.MISTAKES, module.ALTERNATIVES


def replace_function(cell_source: str, name: str, code: str) -> str:
    """`cell_source` with the top-level `def name` (or `class name`) replaced by `code`."""
    lines = cell_source.splitlines()
    for node in ast.parse(cell_source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            return "\n".join([*lines[:start], code.strip("\n"), *lines[node.end_lineno :]])
    raise KeyError(f"no function or class {name!r} in cell")
