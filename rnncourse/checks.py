"""Checks that explain themselves, used by the exercise notebooks' test cells.

A test cell collects named checks in a `Checks` list, each worth some points,
and ends with `checks.score()`: it prints one line per check (what was
expected, what was found) and returns the points as a plain float, which
nbgrader reads as the cell's partial credit. Student code never crashes a
test cell: its exceptions become failed checks with a readable message.
"""

import contextlib
from collections.abc import Callable

import torch
from torch.overrides import TorchFunctionMode

from rnncourse import observing
from rnncourse.devices import available_devices
from rnncourse.observing import silenced
from rnncourse.simulated_gpu import simulated_gpu


class CheckFailed(AssertionError):
    """A check found something other than what it expected."""


class CheckNotRun(Exception):
    """A check could not be carried out here; it is reported, and counts neither way."""


# ---------------------------------------------------------------------------
# Comparing tensors
# ---------------------------------------------------------------------------


def describe(value) -> str:
    """A short description of a value: shape, dtype and device for a tensor."""
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)}, {value.dtype}, on {value.device.type}"
    return f"{type(value).__name__} {value!r:.60}"


def expect_tensor(actual, *, shape=None, dtype=None, device=None, what: str = "the result"):
    """Fail unless `actual` is a tensor with the given shape, dtype and device type."""
    if not isinstance(actual, torch.Tensor):
        raise CheckFailed(f"expected {what} to be a torch.Tensor, got {describe(actual)}")
    if shape is not None and tuple(actual.shape) != tuple(shape):
        raise CheckFailed(
            f"expected {what} to have shape {tuple(shape)}, got {tuple(actual.shape)}"
        )
    if dtype is not None and actual.dtype != dtype:
        raise CheckFailed(f"expected {what} to have dtype {dtype}, got {actual.dtype}")
    if device is not None and actual.device.type != torch.device(device).type:
        raise CheckFailed(
            f"expected {what} on device '{torch.device(device).type}', "
            f"got '{actual.device.type}': create new tensors with device=x.device "
            "(or torch.zeros_like(x)) instead of the default CPU"
        )


def expect_close(actual, expected, *, rtol=1e-5, atol=1e-8, what="the result", inputs=None):
    """Fail unless `actual` matches `expected` in shape, dtype, device and values.

    The message names the largest error and the first index that differs, and
    the input there when `inputs` (a tensor the same shape) is given.
    """
    expect_tensor(
        actual, shape=expected.shape, dtype=expected.dtype, device=expected.device, what=what
    )
    actual = actual.detach()
    expected = expected.detach()
    bad = ~torch.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    if not bool(bad.any()):
        return
    index = tuple(int(i) for i in bad.nonzero()[0])
    got, want = actual[index].item(), expected[index].item()
    finite = torch.isfinite(actual) & torch.isfinite(expected)
    # In float64, so that integer tensors (ids) get the same message.
    abs_err = (actual.double() - expected.double()).abs().where(finite, 0.0)
    rel_err = abs_err / expected.double().abs().clamp_min(torch.finfo(torch.float64).tiny)
    where = f" (input {inputs[index].item():.6g})" if inputs is not None else ""
    raise CheckFailed(
        f"{what} differs at {int(bad.sum())} of {bad.numel()} entries; first at index "
        f"{index}{where}: expected {want:.6g}, got {got:.6g}. Largest finite error: "
        f"{abs_err.max().item():.3g} absolute, {rel_err.max().item():.3g} relative"
    )


def expect_finite(actual, *, what="the result", inputs=None):
    """Fail if `actual` holds an inf or a nan (the sign of an overflow)."""
    expect_tensor(actual, what=what)
    bad = ~torch.isfinite(actual.detach())
    if bool(bad.any()):
        index = tuple(int(i) for i in bad.nonzero()[0])
        where = f" for input {inputs[index].item():.6g}" if inputs is not None else ""
        raise CheckFailed(
            f"{what} holds {actual[index].item()} at index {index}{where}: "
            "something overflowed; rewrite it so no exp() gets a large positive argument"
        )


def autograd_derivative(f: Callable) -> Callable:
    """The derivative of an elementwise function, computed by autograd in float64.

    An independent oracle for hand-written derivatives: `autograd_derivative(torch.tanh)(x)`
    is tanh'(x) at every entry of x, returned in x's dtype and on x's device.
    """

    def derivative(x: torch.Tensor) -> torch.Tensor:
        x64 = x.detach().double().requires_grad_(True)
        (grad,) = torch.autograd.grad(f(x64).sum(), x64)
        return grad.to(x.dtype)

    return derivative


def expect_same_training(losses, want_losses, model, want_params, *, what, unit="batch"):
    """Fail unless a training run's losses (floats) and the model's parameters afterwards
    match a reference run's: `want_params` maps parameter names to tensors."""
    if len(losses) != len(want_losses):
        raise CheckFailed(f"{what}: expected {len(want_losses)} {unit} losses, got {len(losses)}")
    expect_close(
        torch.tensor([float(v) for v in losses], dtype=torch.float64),
        torch.tensor(want_losses, dtype=torch.float64),
        rtol=1e-7,
        what=f"the {unit} losses ({what})",
    )
    for name, p in model.named_parameters():
        expect_close(
            p.detach(),
            want_params[name],
            rtol=1e-7,
            atol=1e-10,
            what=f"parameter {name} after training ({what})",
        )


def expect_unchanged(before: torch.Tensor, after: torch.Tensor, *, what="the input"):
    """Fail if a function modified its input in place."""
    if not torch.equal(before, after):
        raise CheckFailed(f"{what} was modified in place; compute into a new tensor instead")


# ---------------------------------------------------------------------------
# Watching what student code calls, and where it puts tensors
# ---------------------------------------------------------------------------


class forbid_torch_functions(observing.RecordedMode, TorchFunctionMode):
    """Fail if code inside the block calls a torch function with one of the given names.

    It sees every spelling of a call (`torch.sigmoid(x)`, `x.sigmoid()`,
    `F.sigmoid(x)`, an alias made earlier), because PyTorch routes them all
    through the torch-function mode.
    """

    def __init__(self, *names: str):
        super().__init__()
        self.names = set(names)
        self.violations = []  # kept even if the code under test catches the error

    def spec(self):
        return ["forbid", sorted(self.names)]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "").removeprefix("special_").rstrip("_")
        if name in self.names:
            message = (
                f"your code calls torch's built-in `{name}`; build it from elementary "
                "operations (exp, log1p, where, clamp, ...) instead"
            )
            self.violations.append(message)
            raise CheckFailed(message)
        return func(*args, **(kwargs or {}))


class forbid_autograd:
    """Fail if code inside the block asks autograd for gradients (and run it without
    building a graph): for functions that must compute gradients by hand."""

    TARGETS = [
        (torch.autograd, "grad"),
        (torch.autograd, "backward"),
        (torch.Tensor, "backward"),
        (torch.func, "grad"),
        (torch.func, "vjp"),
    ]
    MESSAGE = "your code calls autograd; compute the gradients by hand"

    def __init__(self):
        self.violations = []

    def record(self, observation) -> None:
        """(What it saw in a student's process: its violations arrive as failures.)"""

    def __enter__(self):
        def refuse(*args, **kwargs):
            self.violations.append(self.MESSAGE)
            raise CheckFailed(self.MESSAGE)

        self._stack = contextlib.ExitStack()
        for owner, name in self.TARGETS:
            self._stack.callback(setattr, owner, name, getattr(owner, name))
            setattr(owner, name, refuse)
        self._stack.enter_context(torch.no_grad())
        self._stack.enter_context(observing.instrument(self, "no_autograd"))
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)


MATMULS = {"matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "addmm", "linear", "einsum"}


class count_matmuls(observing.RecordedMode, TorchFunctionMode):
    """Count the matrix multiplies that read each of the given tensors (or views of them):
    `with count_matmuls(weight=w) as counter: ...`, then `counter.counts["weight"]`."""

    def __init__(self, **watched):
        super().__init__()
        self.watched = watched
        self.counts = dict.fromkeys(watched, 0)

    def spec(self):
        return ["count_matmuls", self.watched]

    def record(self, observation) -> None:
        for name in self.counts:
            count = observation.get(name, 0) if isinstance(observation, dict) else 0
            self.counts[name] += int(count) if isinstance(count, int) else 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in MATMULS:
            operands = [a for a in (*args, *(kwargs or {}).values()) if isinstance(a, torch.Tensor)]
            for name, tensor in self.watched.items():
                if any(t is tensor or t._base is tensor for t in operands):
                    self.counts[name] += 1
        return func(*args, **(kwargs or {}))


class count_flops:
    """Count the floating-point operations of the code in the block (PyTorch's own
    `torch.utils.flop_counter`): `with count_flops() as counter: ...`, then
    `counter.total`."""

    def __init__(self):
        self.total = 0

    def __enter__(self):
        from torch.utils.flop_counter import FlopCounterMode

        self._stack = contextlib.ExitStack()
        mode = FlopCounterMode(display=False)
        self._stack.callback(lambda: setattr(self, "total", self.total + mode.get_total_flops()))
        self._stack.enter_context(mode)  # (left before the line above runs)
        self._stack.enter_context(observing.instrument(self, "count_flops"))
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)

    def record(self, observation) -> None:
        self.total += int(observation) if isinstance(observation, int) else 0


class count_calls(observing.RecordedMode, TorchFunctionMode):
    """Count the torch calls made inside the block (functions, methods, indexing and
    property reads alike): `with count_calls() as counter: ...`, then `counter.total`.
    A loop over T steps makes at least T of them, a scan of depth log T about log T.
    `counter.leaving` counts the calls that take values out of PyTorch (`.numpy()`,
    `.tolist()`), where a loop would no longer be counted."""

    LEAVING = {"numpy", "tolist", "__array__"}

    def __init__(self):
        super().__init__()
        self.total, self.leaving = 0, 0

    def spec(self):
        return ["count_calls"]

    def record(self, observation) -> None:
        if isinstance(observation, dict):
            for name in ("total", "leaving"):
                count = observation.get(name, 0)
                setattr(self, name, getattr(self, name) + (count if isinstance(count, int) else 0))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if not observing.ON_THE_WIRE[0]:
            self.total += 1
            self.leaving += getattr(func, "__name__", "") in self.LEAVING
        return func(*args, **(kwargs or {}))


def is_instance(value, classes) -> bool:
    """isinstance; while work is graded, a value of the student's may live in their
    kernel (autograder/checker.py), and the kernel is asked."""
    ask = getattr(type(value), "_is_instance", None)
    return ask(value, classes) if ask is not None else isinstance(value, classes)


def in_kernel(function: Callable, value, *args):
    """`function(value, *args)`, run where `value` lives: while work is graded, a value of
    the student's lives in their kernel (autograder/checker.py), and a public `function`
    (torch's, music21's) is run there on it."""
    call = getattr(type(value), "_call_public", None)
    return call(value, function, args) if call is not None else function(value, *args)


@contextlib.contextmanager
def replaced(namespace: dict, **values):
    """Temporarily give names in `namespace` (a notebook's `globals()`) other values.

    A test cell uses it to check one function with correct versions of the
    functions it calls, so that one mistake costs points in one place only.
    """
    if hasattr(namespace, "lend"):  # a grader's view of a student's kernel (autograder/checker.py)
        with namespace.lend(values):
            yield
        return
    missing = object()
    saved = {name: namespace.get(name, missing) for name in values}
    namespace.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


@contextlib.contextmanager
def cuda_or_simulated():
    """Inside, 'cuda' is the real GPU where there is one, else the simulated one (which
    runs PyTorch's own modules too). Yields which of the two it is."""
    if torch.cuda.is_available():
        yield "real GPU"
    else:
        with simulated_gpu():
            yield "simulated GPU"


def run_on_cuda(fn: Callable, make_args: Callable) -> tuple:
    """Run `fn(*make_args('cuda'))` on a real GPU, or on a simulated one if there is none.

    Returns (output, how) where `how` says which kind of CUDA was used.
    """
    with cuda_or_simulated() as how:
        return fn(*make_args(torch.device("cuda"))), how


# ---------------------------------------------------------------------------
# A list of named checks that becomes a score
# ---------------------------------------------------------------------------


class Checks:
    """Named checks, each worth some points, collected by one test cell.

    `score()` scales what passed to the cell's `points`, so the visible checks
    of a release notebook alone can already give full marks when they pass;
    when the work is graded, more checks join the list.
    """

    def __init__(self, title: str, points: float):
        self.title = title
        self.points = float(points)
        self.results = []  # (name, weight, status, message); status: PASS, FAIL or NOT RUN
        self.observed = []  # per check: did it rest on instruments in the student's process?
        self.hints = []  # (function name, hint) from rnncourse.diagnosis

    def check(self, name: str, weight: float, fn: Callable[[], object]) -> bool:
        """Run `fn()`; the check passes if it returns without raising."""
        message = ""
        status = "FAIL"
        calls_before = observing.INSTRUMENTED_CALLS[0]
        try:
            with silenced():
                fn()
            status = "PASS"
        except CheckNotRun as reason:
            status, message = "NOT RUN", str(reason)
        except CheckFailed as failure:
            message = str(failure)
        except NotImplementedError:
            message = "not implemented yet (the function raises NotImplementedError)"
        except (Exception, SystemExit) as error:  # student code may raise anything
            message = f"raised {type(error).__name__}: {error}"
        self.results.append((name, float(weight), status, message))
        self.observed.append(observing.INSTRUMENTED_CALLS[0] != calls_before)
        return status == "PASS"

    def on_each_device(self, name: str, weight: float, fn: Callable[[torch.device], object]):
        """Run `fn(device)` on every real device here; the check passes if all pass."""
        devices = available_devices()
        errors = []
        for device in devices:
            sub = Checks(name, 1)
            if not sub.check(name, 1, lambda device=device: fn(device)):
                errors.append(f"on {device.type}: {sub.results[0][3]}")
        ran = ", ".join(d.type for d in devices)
        if "cuda" not in ran:
            ran += "; cuda not run: no GPU on this machine"
        label = f"{name} [{ran}]"

        def report():
            if errors:
                raise CheckFailed("; ".join(errors))

        return self.check(label, weight, report)

    def device_safe(self, name: str, weight: float, fn: Callable, make_args: Callable):
        """Check that `fn` keeps every output on CUDA when its inputs are on CUDA."""
        how = "real GPU" if torch.cuda.is_available() else "simulated GPU"

        def run():
            outputs, _ = run_on_cuda(fn, make_args)
            outputs = outputs if isinstance(outputs, tuple | list) else (outputs,)
            for i, output in enumerate(outputs):
                expect_tensor(output, device="cuda", what=f"output {i}" if i else "the output")

        return self.check(f"{name} [{how}]", weight, run)

    def diagnose(self, name: str, namespace: dict) -> None:
        """Compare the student's function `name` (looked up in `namespace`, the notebook's
        `globals()`) with the known mistakes; `score()` prints a matching mistake's hint
        when some check failed. Call it where the function sees the same helpers as
        during the checks."""
        from rnncourse.diagnosis import diagnose

        fn = namespace.get(name)
        hint = diagnose(name, fn) if callable(fn) else None
        if hint:
            self.hints.append((name, hint))

    def report(self, *, distrust_instruments: bool = False) -> tuple[float, list[str]]:
        """(points earned, one line per check). With `distrust_instruments`, a check that
        rested on instruments in the student's process fails (a grader found them
        tampered with)."""
        results = self.results
        if distrust_instruments:
            results = [
                (name, weight, "FAIL", TAMPERED) if observed else (name, weight, status, message)
                for (name, weight, status, message), observed in zip(
                    self.results, self.observed, strict=True
                )
            ]
        # A check that could not run here counts neither for nor against.
        total = sum(weight for _, weight, status, _ in results if status != "NOT RUN")
        earned = sum(weight for _, weight, status, _ in results if status == "PASS")
        points = round(self.points * earned / total, 4) if total else 0.0
        lines = [f"{self.title}: {points:g} of {self.points:g} points"]
        if sum(weight for _, weight, _, _ in results) < self.points:
            lines.append("  (visible checks only; more checks are added when your work is graded)")
        for name, weight, status, message in results:
            lines.append(
                f"  {status} ({weight:g}) {name}" + (f"\n        {message}" if message else "")
            )
        if any(status == "FAIL" for _, _, status, _ in results):
            for name, hint in self.hints:
                lines.append(f"  HINT your {name} behaves like a known mistake: {hint}")
        return float(points), lines

    def score(self) -> float:
        """Print one line per check and return the points earned, as a plain float."""
        points, lines = self.report()
        print("\n".join(lines))
        return points


TAMPERED = (
    "this check watches your code from inside your kernel, and that watching was "
    "found switched off or lying (see the flags): no points"
)
