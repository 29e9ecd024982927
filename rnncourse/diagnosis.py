"""Naming a student's mistake: compare their function's output with known wrong ones.

Every exercise function has a *probe*: a fixed, small call on the CPU whose
results (outputs, and inputs after the call, to see in-place changes) form a
fingerprint. The course's bank of known mistakes was run through the same
probes; their fingerprints and one-sentence hints ship in
`known_mistakes.json` (outputs only: no code, no solution, no hidden test).
When a student's fingerprint matches a known mistake's, the test cell says so.

Where the grader's checker runs, a slip that is not in the bank can still be named by
its *family*: the checker hands over the reference's probe results (`use_references`),
and a result that is the right one shifted by a step, with an extra or a missing step,
reversed, with two dimensions swapped, scaled by a constant or in the wrong dtype is
described as such. Those results never ship to students: where a check feeds a function
the probe's own input, a function could answer from them.

The probe runs on the CPU in float64 (plus float32 where dtype matters), so a
hint is the same on every grader, with or without a GPU. A hint only ever adds
a sentence to a failed check; it never changes a score.
"""

import importlib
import json
import pkgutil
from collections.abc import Callable
from functools import cache
from importlib import resources

import torch

from rnncourse import probes
from rnncourse.observing import silenced

KNOWN_MISTAKES = "known_mistakes.json"
# ---------------------------------------------------------------------------
# Probes: function name -> probe(fn) -> tuple of tensors, one module per exercise
# (rnncourse/probes/<notebook>.py, found by that rule)
# ---------------------------------------------------------------------------


def _all_probes() -> dict[str, Callable]:
    found = {}
    for module in pkgutil.iter_modules(probes.__path__):
        found.update(importlib.import_module(f"rnncourse.probes.{module.name}").PROBES)
    return found


PROBES: dict[str, Callable] = _all_probes()


# ---------------------------------------------------------------------------
# Fingerprints
# ---------------------------------------------------------------------------


def fingerprint(name: str, fn: Callable) -> list[dict] | None:
    """The probe's results for `fn` as plain data, or None if it raised or returned non-tensors."""
    try:
        # Probes seed the global RNG: fork it, so the notebook's random state is untouched.
        with silenced(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # code that wrongly uses the global RNG is fingerprinted too
            results = PROBES[name](fn)
    except (Exception, SystemExit):  # student code may raise anything
        return None
    if not all(isinstance(r, torch.Tensor) for r in results):
        return None
    return [
        {
            "shape": list(r.shape),
            "dtype": str(r.dtype).removeprefix("torch."),
            "values": r.detach().cpu().double().flatten().tolist(),
        }
        for r in results
    ]


def same_fingerprint(a: list[dict], b: list[dict]) -> bool:
    """True when two fingerprints agree in shapes, dtypes and values: to 1e-6 relative in
    float64; in float32, to what its rounding allows (an LSTM's float32 outputs differ
    by a few units in the last place between machines and thread counts)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x["shape"] != y["shape"] or x["dtype"] != y["dtype"]:
            return False
        vx = torch.tensor(x["values"], dtype=torch.float64)
        vy = torch.tensor(y["values"], dtype=torch.float64)
        rtol, atol = (1e-5, 1e-6) if x["dtype"] == "float32" else (1e-6, 1e-9)
        if not torch.allclose(vx, vy, rtol=rtol, atol=atol, equal_nan=True):
            return False
    return True


@cache
def known_mistakes() -> dict:
    """function name -> list of {"mistakes", "hint", "fingerprint"}, from the shipped file."""
    path = resources.files("rnncourse") / KNOWN_MISTAKES
    return json.loads(path.read_text()) if path.is_file() else {}


# function name -> the reference solution's fingerprint: empty unless the grader's checker
# handed them over (autograder/checker.py), so empty in every student's kernel.
_REFERENCES: dict[str, list[dict]] = {}


def use_references(references: dict) -> None:
    """Name families of slips against these reference fingerprints (the checker's call)."""
    _REFERENCES.clear()
    _REFERENCES.update(references)


def diagnose(name: str, fn: Callable) -> str | None:
    """The hint of the known mistake whose fingerprint `fn` matches, else a description
    of its slip if it belongs to a family (see `family`), or None."""
    entries = known_mistakes().get(name, [])
    right = _REFERENCES.get(name)
    if not entries and not right:
        return None
    found = fingerprint(name, fn)
    if found is None:
        return None
    for entry in entries:
        if same_fingerprint(found, entry["fingerprint"]):
            return entry["hint"]
    return family(found, right) if right else None


# ---------------------------------------------------------------------------
# Families: a slip named by how a result differs from the right one
# ---------------------------------------------------------------------------


def _tensor(result: dict) -> torch.Tensor:
    return torch.tensor(result["values"], dtype=torch.float64).reshape(result["shape"])


def _close(a: torch.Tensor, b: torch.Tensor, dtype: str) -> bool:
    rtol, atol = (1e-5, 1e-6) if dtype == "float32" else (1e-6, 1e-9)  # as same_fingerprint
    return a.shape == b.shape and torch.allclose(a, b, rtol=rtol, atol=atol)


def _without(shape, axis: int) -> tuple:
    return tuple(shape[:axis]) + tuple(shape[axis + 1 :])


def _slip(found: torch.Tensor, right: torch.Tensor, dtype: str) -> str | None:
    """How `found` differs from `right`, if in one of the common ways; else None."""

    def close(a, b):
        return _close(a, b, dtype)

    if not (found.isfinite().all() and right.isfinite().all()):
        return None
    # With few distinct values (a mask, a count), a shift or a factor can match by chance.
    varied = right.numel() >= 3 and len(torch.unique(right)) >= 3
    for axis, n in enumerate(right.shape):
        if not varied or n < 3 or close(right.narrow(axis, 1, n - 1), right.narrow(axis, 0, n - 1)):
            continue  # (a shift along an axis where nothing changes would not show)
        where = f"along dimension {axis}"
        if found.shape == right.shape:
            if close(found.narrow(axis, 1, n - 1), right.narrow(axis, 0, n - 1)):
                return f"one step late {where} (entry t holds what belongs at t - 1)"
            if close(found.narrow(axis, 0, n - 1), right.narrow(axis, 1, n - 1)):
                return f"one step early {where} (entry t holds what belongs at t + 1)"
            if close(found, right.flip(axis)):
                return f"in reverse order {where}"
        elif found.dim() == right.dim() and _without(found.shape, axis) == _without(
            right.shape, axis
        ):
            if found.shape[axis] == n + 1 and close(found.narrow(axis, 1, n), right):
                return f"with an extra entry first {where} (an initial state, say)"
            if found.shape[axis] == n + 1 and close(found.narrow(axis, 0, n), right):
                return f"with an extra entry last {where}"
            if found.shape[axis] == n - 1 and close(found, right.narrow(axis, 1, n - 1)):
                return f"without its first entry {where}"
            if found.shape[axis] == n - 1 and close(found, right.narrow(axis, 0, n - 1)):
                return f"without its last entry {where}"
    for i in range(right.dim()):
        for j in range(i + 1, right.dim()):
            if close(found, right.transpose(i, j)):
                return f"with dimensions {i} and {j} swapped"
    if varied and found.shape == right.shape:
        factor = float((found * right).sum() / (right * right).sum())
        if 1e-6 < abs(factor) < 1e6 and abs(factor - 1) > 1e-6 and close(found, factor * right):
            return "with the opposite sign" if abs(factor + 1) < 1e-6 else f"times {factor:.4g}"
    return None


def family(found: list[dict], right: list[dict]) -> str | None:
    """A hint for a fingerprint that is the reference's but for one common slip in one of
    its results; None if it is the reference's, or differs in some other way."""
    if len(found) != len(right):
        return None
    for f, r in zip(found, right, strict=True):
        values, expected = _tensor(f), _tensor(r)
        if _close(values, expected, r["dtype"]):
            if f["dtype"] != r["dtype"]:
                dtypes = f"dtype {f['dtype']}, not {r['dtype']}"
                return f"one of its results has the right values but {dtypes}"
            continue
        slip = _slip(values, expected, r["dtype"])
        if slip:
            return f"one of its results is the right one {slip}"
    return None
