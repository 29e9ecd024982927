"""The helper package that students install (rnncourse) answers no exercise.

Every function and class the package defines is run through the probe of every exercise
function (rnncourse/diagnosis.py), next to the reference solution: none may behave like
the reference, except PyTorch's own RNN, which the visible tests of 02 compare against
(rnncourse/rnn_reference.py). Those are listed below, each with the known mistake that
calls it and so proves that an answer handing the work to PyTorch loses its points (the
mistake suite grades every known mistake).
"""

import importlib
import json
import pkgutil
from importlib import resources

import pytest

import rnncourse
from autograder import fingerprints
from autograder.mistakes import for_assignment
from autograder.pipeline import assignments
from rnncourse.diagnosis import KNOWN_MISTAKES, PROBES, fingerprint, same_fingerprint

# package callable -> (the exercise function it computes, the known mistake that calls it)
PYTORCH_ORACLES = {
    "rnncourse.rnn_reference.torch_cell": ("rnn_cell", "cell_builtin", "rnn_tanh_cell"),
    "rnncourse.rnn_reference.torch_rnn": ("rnn_forward", "forward_builtin", "torch_rnn"),
    "rnncourse.rnn_reference.autograd_rnn_gradients": (
        "rnn_backward",
        "backward_uses_autograd",
        "autograd_rnn_gradients",
    ),
}


def package_callables() -> dict:
    """Every function and class defined in a module of rnncourse, private ones included."""
    found = {}
    for info in pkgutil.iter_modules(rnncourse.__path__):
        module = importlib.import_module(f"rnncourse.{info.name}")
        for name, value in vars(module).items():
            if callable(value) and getattr(value, "__module__", None) == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return found


@pytest.mark.parametrize("assignment", assignments())
def test_no_helper_of_the_package_behaves_like_a_reference_answer(assignment):
    reference = fingerprints.reference_namespace(assignment)
    helpers = package_callables()
    assert len(helpers) > 100  # the whole package is searched, not one module
    answers = [name for name in PROBES if name in reference]
    assert answers, f"{assignment}: no exercise function with a probe"
    for function in answers:
        want = fingerprint(function, reference[function])
        assert want is not None, f"the reference {function} has no fingerprint"
        for name, helper in helpers.items():
            got = fingerprint(function, helper)
            if got is not None and same_fingerprint(got, want):
                assert PYTORCH_ORACLES.get(name, (None,))[0] == function, (
                    f"{name} computes what {function} asks for: move it out of the package "
                    "students install"
                )


def test_each_pytorch_oracle_is_a_known_mistake_when_an_answer_calls_it():
    mistakes = {m.name: m for m in for_assignment("02-bptt")[0]}
    helpers = package_callables()
    for name, (function, mistake, called) in PYTORCH_ORACLES.items():
        assert name in helpers, f"{name} is gone: remove it from PYTORCH_ORACLES"
        assert mistake in mistakes, mistake
        assert mistakes[mistake].function == function
        assert called in mistakes[mistake].code, (mistake, called)


def test_the_shipped_fingerprints_are_outputs_and_hints_not_code():
    known = json.loads(resources.files(rnncourse).joinpath(KNOWN_MISTAKES).read_text())
    for function, entries in known.items():
        assert function in PROBES
        for entry in entries:
            assert set(entry) == {"fingerprint", "hint", "mistakes"}
            assert isinstance(entry["hint"], str) and "\n" not in entry["hint"]
            assert all(isinstance(m, str) and m.isidentifier() for m in entry["mistakes"])
            for result in entry["fingerprint"]:
                assert set(result) == {"shape", "dtype", "values"}
                assert all(isinstance(v, (int, float)) for v in result["values"] + result["shape"])
