"""Diagnosis: every known mistake that shows in its outputs is named by its own hint,
and no correct implementation ever gets a hint."""

import json

import pytest
import torch

from autograder import fingerprints
from autograder.config import SOLUTIONS
from autograder.mistakes import for_assignment
from autograder.pipeline import assignments
from helpers import diagnosable_mistakes, solution_lines
from rnncourse import diagnosis
from rnncourse.checks import Checks, expect_close
from rnncourse.diagnosis import PROBES, diagnose, same_fingerprint


def test_shipped_fingerprints_are_fresh():
    fresh, references, _ = fingerprints.build(assignments())
    shipped = json.loads(fingerprints.REFERENCES.read_text())
    assert sorted(references) == sorted(shipped), "run `make release` and commit rnncourse/"
    for function, fingerprint in references.items():
        assert same_fingerprint(fingerprint, shipped[function]), function
    shipped = json.loads(fingerprints.OUTPUT.read_text())
    assert sorted(fresh) == sorted(shipped), "run `make release` and commit rnncourse/"
    for function, entries in fresh.items():
        assert [(e["mistakes"], e["hint"]) for e in entries] == [
            (e["mistakes"], e["hint"]) for e in shipped[function]
        ], f"stale fingerprints for {function}: run `make release`"
        for new, old in zip(entries, shipped[function], strict=True):
            assert same_fingerprint(new["fingerprint"], old["fingerprint"]), function


@pytest.mark.parametrize("assignment", assignments())
def test_every_function_with_known_mistakes_has_a_probe(assignment):
    mistakes, _ = for_assignment(assignment)
    assert {m.function for m in mistakes} <= set(PROBES)


ALL_DIAGNOSABLE = [
    pytest.param(assignment, name, hint, id=f"{assignment}:{name}")
    for assignment in assignments()
    for name, _, hint in diagnosable_mistakes(assignment)
]


@pytest.mark.parametrize(("assignment", "name", "hint"), ALL_DIAGNOSABLE)
def test_each_diagnosable_mistake_gets_its_own_hint(assignment, name, hint):
    mistake = next(m for m in for_assignment(assignment)[0] if m.name == name)
    namespace = dict(fingerprints.reference_namespace(assignment))
    exec(mistake.code, namespace)
    for _ in range(3):  # the same every time, even for a mistake that draws unseeded numbers
        assert diagnose(mistake.function, namespace[mistake.function]) == hint
    assert mistake.hint in hint


@pytest.mark.parametrize(("assignment", "name", "hint"), ALL_DIAGNOSABLE)
def test_each_diagnosable_mistake_gets_its_own_hint_through_the_checker(
    kernel, assignment, name, hint
):
    # When grading, the probe runs in the checker and the student's function in the kernel:
    # what it returns may be a proxy (a student's own Axes), never the object itself.
    mistake = next(m for m in for_assignment(assignment)[0] if m.name == name)
    # As in a notebook: the student's classes belong to __main__, not to an importable module.
    namespace = dict(fingerprints.reference_namespace(assignment), __name__="__main__")
    exec(mistake.code, namespace)
    peer = kernel(namespace)
    assert diagnose(mistake.function, peer.get_global(mistake.function)) == hint


@pytest.mark.parametrize("assignment", assignments())
def test_reference_and_alternatives_get_no_hint(assignment):
    reference = fingerprints.reference_namespace(assignment)
    mistakes, alternatives = for_assignment(assignment)
    functions = {m.function for m in mistakes}
    for function in functions:
        assert diagnose(function, reference[function]) is None, function
    for function, code in alternatives.items():
        namespace = dict(reference)
        exec(code, namespace)
        assert diagnose(function, namespace[function]) is None, function


@pytest.mark.parametrize("assignment", assignments())
def test_most_known_mistakes_are_diagnosable(assignment):
    mistakes, _ = for_assignment(assignment)
    named = {name for name, _, _ in diagnosable_mistakes(assignment)}
    assert len(named) >= len(mistakes) // 2, f"only {len(named)} of {len(mistakes)}"


def test_a_hint_is_printed_only_on_failure_and_never_changes_the_score(capsys):
    naive = lambda x: torch.exp(x) / (1 + torch.exp(x))  # noqa: E731  overflows at x = 1000
    x = torch.tensor([0.0, 1000.0], dtype=torch.float64)

    failing = Checks("sigmoid", points=2)
    failing.check("matches", 1, lambda: expect_close(naive(x), torch.sigmoid(x)))
    before = Checks("sigmoid", points=2)
    before.check("matches", 1, lambda: expect_close(naive(x), torch.sigmoid(x)))
    failing.diagnose("sigmoid", {"sigmoid": naive})
    assert failing.score() == before.score() == 0.0
    assert "HINT your sigmoid behaves like a known mistake" in capsys.readouterr().out

    passing = Checks("sigmoid", points=2)
    passing.check("shape", 1, lambda: None)
    passing.diagnose("sigmoid", {"sigmoid": naive})
    assert passing.score() == 2.0
    assert "HINT" not in capsys.readouterr().out


def test_shipped_fingerprints_hold_no_solution_or_hidden_test_line():
    text = fingerprints.OUTPUT.read_text()
    for assignment in assignments():
        for line in solution_lines(assignment):
            assert json.dumps(line)[1:-1] not in text, line


# Slips that are not in the bank of known mistakes: each is named by its family.
_LATE_STATES = """
def rnn_forward(x, W_ih, W_hh, b, h0=None):
    h = x.new_zeros(x.shape[0], W_hh.shape[0]) if h0 is None else h0
    states = []
    for x_t in x.unbind(dim=1):
        states.append(h)  # stored before the update
        h = rnn_cell(x_t, h, W_ih, W_hh, b)
    return torch.stack(states, dim=1), h
"""
_REVERSED = _LATE_STATES.replace(
    "states.append(h)  # stored before the update\n        h = rnn_cell(x_t, h, W_ih, W_hh, b)",
    "h = rnn_cell(x_t, h, W_ih, W_hh, b)\n        states.insert(0, h)",
)
NEAR_MISSES = [
    ("02-bptt", "rnn_forward", _LATE_STATES, "one step late along dimension 1"),
    (
        "02-bptt",
        "rnn_forward",
        _LATE_STATES.replace("torch.stack(states, dim=1)", "torch.stack(states[1:], dim=1)"),
        "without its last entry along dimension 1",  # h_1 .. h_T-1
    ),
    ("02-bptt", "rnn_forward", _REVERSED, "in reverse order along dimension 1"),
    (
        "01-activations",
        "tanh_grad",
        "def tanh_grad(x):\n    return 2 * (1 - tanh(x) ** 2)\n",
        "times 2",
    ),
    (
        "01-activations",
        "relu",
        "def relu(x):\n    return torch.where(x > 0, x, 0.0).float()\n",
        "the right values but dtype float32, not float64",
    ),
]


@pytest.mark.parametrize(("assignment", "function", "code", "words"), NEAR_MISSES)
def test_a_slip_outside_the_bank_is_named_by_its_family(assignment, function, code, words):
    diagnosis.use_references(fingerprints.references())  # as the grader's checker does
    namespace = dict(fingerprints.reference_namespace(assignment))
    exec(code, namespace)
    hint = diagnose(function, namespace[function])
    assert hint is not None and words in hint, hint
    known = [e["hint"] for e in json.loads(fingerprints.OUTPUT.read_text()).get(function, [])]
    assert hint not in known  # (named by its family, not as a known mistake)


def test_the_references_for_families_stay_with_the_grader():
    """Not in the helper package students install (a function could answer from them);
    rnncourse has none until the checker hands them over."""
    assert fingerprints.REFERENCES.parent == SOLUTIONS  # nbgrader's source: never released
    assert not list((fingerprints.OUTPUT.parent).glob("reference*"))
