"""Hidden checks for exercise 8 (linear recurrences, the parallel scan, minGRU).

Oracles, independent of the reference solution: the recurrence unrolled into its closed
form (a sum of products of gates) for short sequences, and the definition step by step
in float64 for long ones; the log-space recurrence step by step with `logaddexp`;
gradients from autograd through those; minGRU in sequential mode written with `lerp`.
The functions lent to later cells are a Blelloch scan (up-sweep, down-sweep) and a
Hillis-Steele scan in log space, written differently from the reference.
`count_calls` counts the torch calls a function makes: a loop over time makes at least T
of them, a scan of depth log T a few per pass.
"""

import torch
import torch.nn.functional as F

from rnncourse.checks import (
    CheckFailed,
    Checks,
    count_calls,
    expect_close,
    expect_finite,
    expect_tensor,
    expect_unchanged,
    forbid_autograd,
)

F64 = torch.float64


# ---------------------------------------------------------------------------
# Oracles
# ---------------------------------------------------------------------------


def unrolled(a, b, h0):
    """h_t = (a_1 ... a_t) h0 + sum_s (a_{s+1} ... a_t) b_s, each product formed on its own:
    for short sequences (O(T^2) work)."""
    steps = a.shape[1]
    states = []
    for t in range(steps):
        total = torch.prod(a[:, : t + 1], dim=1) * h0
        for s in range(t + 1):
            total = total + torch.prod(a[:, s + 1 : t + 1], dim=1) * b[:, s]
        states.append(total)
    return torch.stack(states, dim=1)


def stepwise(a, b, h0):
    """The definition, one step at a time (for long sequences)."""
    h, states = h0, []
    for a_t, b_t in zip(a.unbind(1), b.unbind(1), strict=True):
        h = torch.addcmul(b_t, a_t, h)
        states.append(h)
    return torch.stack(states, dim=1)


def stepwise_log(log_a, log_b, log_h0):
    """log h_t = logaddexp(log a_t + log h_{t-1}, log b_t), one step at a time."""
    log_h, states = log_h0, []
    for t in range(log_a.shape[1]):
        log_h = torch.logaddexp(log_a[:, t] + log_h, log_b[:, t])
        states.append(log_h)
    return torch.stack(states, dim=1)


def blelloch_scan(a, b, h0):
    """The scan by Blelloch's up-sweep and down-sweep (lent to the cells that use
    `parallel_scan`). Element 0 maps any state to h0 (a = 0, b = h0); identities (1, 0)
    pad the length to a power of two."""
    steps = a.shape[1]
    size = 1 << steps.bit_length()  # a power of two, at least T + 1
    ones, zeros = torch.ones_like(a[:, :1]), torch.zeros_like(a[:, :1])
    pad = size - steps - 1
    A = torch.cat([zeros, a, ones.expand(-1, pad, -1)], dim=1)
    B = torch.cat([h0[:, None], b, zeros.expand(-1, pad, -1)], dim=1)
    levels = [(A, B)]
    while levels[-1][0].shape[1] > 1:  # up-sweep: each pair of neighbours combined
        A, B = levels[-1]
        levels.append((A[:, 1::2] * A[:, 0::2], A[:, 1::2] * B[:, 0::2] + B[:, 1::2]))
    prefix_a, prefix_b = torch.ones_like(levels[-1][0]), torch.zeros_like(levels[-1][1])
    for A, B in reversed(levels[:-1]):  # down-sweep: the exclusive prefixes, level by level
        right_a = A[:, 0::2] * prefix_a
        right_b = A[:, 0::2] * prefix_b + B[:, 0::2]
        prefix_a = torch.stack([prefix_a, right_a], dim=2).flatten(1, 2)
        prefix_b = torch.stack([prefix_b, right_b], dim=2).flatten(1, 2)
    A, B = levels[0]
    return (A * prefix_b + B)[:, 1 : steps + 1]


def log_scan_by_doubling(log_a, log_b, log_h0):
    """A Hillis-Steele scan of the pairs (log a, log b) with `logaddexp` (lent)."""
    log_b = torch.cat(
        [torch.logaddexp(log_a[:, :1] + log_h0[:, None], log_b[:, :1]), log_b[:, 1:]], 1
    )
    distance = 1
    while distance < log_a.shape[1]:
        earlier_a, earlier_b = log_a[:, :-distance], log_b[:, :-distance]
        log_b = torch.cat(
            [
                log_b[:, :distance],
                torch.logaddexp(log_a[:, distance:] + earlier_b, log_b[:, distance:]),
            ],
            1,
        )
        log_a = torch.cat([log_a[:, :distance], log_a[:, distance:] + earlier_a], 1)
        distance *= 2
    return log_b


def sequential_min_gru(x, h0, W_z, b_z, W_h, b_h):
    """minGRU in sequential mode: h moves towards g(h~) by the fraction z."""
    h, states = h0, []
    for x_t in x.unbind(1):
        z = torch.sigmoid(F.linear(x_t, W_z, b_z))
        pre = F.linear(x_t, W_h, b_h)
        candidate = torch.where(pre >= 0, pre + 0.5, torch.sigmoid(pre))
        h = torch.lerp(h, candidate, z)
        states.append(h)
    return torch.stack(states, dim=1)


def backward_parts() -> dict:
    """A correct `parallel_scan`, lent to the `scan_backward` cell."""
    return {"parallel_scan": blelloch_scan}


def min_gru_parts() -> dict:
    """Correct scans, lent to the `min_gru` cell."""
    return {"parallel_scan": blelloch_scan, "log_space_scan": log_scan_by_doubling}


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def _gates(batch, steps, hidden, seed, dtype=F64, device="cpu", spread=1.0):
    """a in (0, 1) (gates), b, h0 of any sign."""
    g = torch.Generator().manual_seed(seed)
    a = torch.sigmoid(spread * torch.randn(batch, steps, hidden, generator=g, dtype=dtype) + 1)
    b = torch.randn(batch, steps, hidden, generator=g, dtype=dtype)
    h0 = torch.randn(batch, hidden, generator=g, dtype=dtype)
    return [t.to(device) for t in (a, b, h0)]


def _log_inputs(batch, steps, hidden, seed, dtype=F64, device="cpu", spread=1.0):
    """log a (from a logsigmoid, so a in (0, 1)), log b, log h0."""
    g = torch.Generator().manual_seed(seed)
    log_a = F.logsigmoid(spread * torch.randn(batch, steps, hidden, generator=g, dtype=dtype) + 1)
    log_b = torch.randn(batch, steps, hidden, generator=g, dtype=dtype) - 1
    log_h0 = torch.randn(batch, hidden, generator=g, dtype=dtype)
    return [t.to(device) for t in (log_a, log_b, log_h0)]


def _min_gru_inputs(batch, steps, inputs, hidden, seed, dtype=F64, device="cpu", scale=1.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps, inputs, generator=g, dtype=dtype)
    h0 = 0.2 + torch.rand(batch, hidden, generator=g, dtype=dtype)  # positive
    W_z = scale * torch.randn(hidden, inputs, generator=g, dtype=dtype)
    b_z = torch.randn(hidden, generator=g, dtype=dtype)
    W_h = torch.randn(hidden, inputs, generator=g, dtype=dtype)
    b_h = torch.randn(hidden, generator=g, dtype=dtype)
    return [t.to(device) for t in (x, h0, W_z, b_z, W_h, b_h)]


SHAPES = [(2, 5, 3), (1, 1, 4), (3, 13, 1), (2, 64, 2), (1, 100, 3)]  # (B, T, H)


def _tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)


def _log_depth_check(checks: Checks, fn, make, weight, what):
    """`fn(*make(T))` makes about as many torch calls at T = 4096 as at T = 64 (log depth:
    12 passes instead of 6), not 64 times as many (a loop over time)."""

    def calls(steps):
        args = make(steps)
        with count_calls() as counter:
            fn(*args)
        return counter.total, counter.leaving

    def log_depth():
        short, _ = calls(64)
        long, leaving = calls(4096)
        if leaving:
            raise CheckFailed(
                f"your {what} takes values out of PyTorch (.numpy(), .tolist()); stay in torch "
                "operations, which also run on the GPU and carry gradients"
            )
        if long > 3 * max(short, 1):
            raise CheckFailed(
                f"your {what} makes {short} torch calls at T = 64 and {long} at T = 4096: its "
                "number of sequential steps grows with T (a loop over time?). A scan of depth "
                "log2 T needs 12 passes at T = 4096 and 6 at T = 64, so about twice as many calls"
            )

    checks.check(
        f"log depth: torch calls at T = 4096 at most 3 times those at T = 64 ({what})",
        weight,
        log_depth,
    )


# ---------------------------------------------------------------------------
# The checks, one function per exercise cell
# ---------------------------------------------------------------------------


def _values_against_unrolled(fn, device, name):
    for i, (batch, steps, hidden) in enumerate(SHAPES[:4]):
        for dtype in (F64, torch.float32):
            a, b, h0 = _gates(batch, steps, hidden, i, dtype, device)
            saved = [t.clone() for t in (a, b, h0)]
            got = fn(a, b, h0)
            want = unrolled(a.cpu().double(), b.cpu().double(), h0.cpu().double())
            expect_tensor(got, shape=(batch, steps, hidden), dtype=dtype, what=f"{name}'s states")
            what = f"the states (B, T, H) = {(batch, steps, hidden)}, {dtype}"
            expect_close(got.cpu().double(), want, **_tolerance(dtype), what=what)
            for before, after, arg in zip(saved, (a, b, h0), ("a", "b", "h0"), strict=True):
                expect_unchanged(before, after, what=arg)


def recurrence_checks(checks: Checks, fn) -> None:
    checks.on_each_device(
        "matches the unrolled sum of products (4 shapes incl. T = 1 and H = 1; float32 and "
        "float64; inputs unchanged)",
        3,
        lambda device: _values_against_unrolled(fn, device, "linear_recurrence"),
    )
    checks.device_safe(
        "CUDA inputs give CUDA states, no tensor made on the CPU",
        1,
        fn,
        lambda device: _gates(2, 6, 3, 7, torch.float32, device),
    )


def scan_checks(checks: Checks, fn) -> None:
    checks.on_each_device(
        "matches the unrolled sum of products (T = 5, 1, 13, 64: powers of 2 and not; "
        "float32 and float64; inputs unchanged)",
        2,
        lambda device: _values_against_unrolled(fn, device, "parallel_scan"),
    )

    def long_and_nearly_closed():
        # Gates far below 1: their products underflow long before T = 600, so a scan that
        # divides by the cumulative product of a (b_s / (a_1 ... a_s)) meets 0 / 0.
        for seed, steps in ((10, 600), (11, 1000)):
            a, b, h0 = _gates(2, steps, 3, seed, spread=3.0)
            a = a * 0.3
            got = fn(a, b, h0)
            expect_finite(got, what=f"the states for T = {steps}")
            want = stepwise(a, b, h0)
            expect_close(got, want, rtol=1e-9, atol=1e-12, what=f"the states for T = {steps}")

    checks.check(
        "T = 600 and 1000 with gates near 0 (their products underflow): finite and exact",
        1,
        long_and_nearly_closed,
    )
    _log_depth_check(checks, fn, lambda steps: _gates(2, steps, 3, 12), 2, "parallel_scan")

    def gradients():
        a, b, h0 = (t.requires_grad_() for t in _gates(2, 11, 3, 13))
        weights = torch.randn(2, 11, 3, dtype=F64, generator=torch.Generator().manual_seed(14))
        got = torch.autograd.grad((fn(a, b, h0) * weights).sum(), (a, b, h0))
        want = torch.autograd.grad((unrolled(a, b, h0) * weights).sum(), (a, b, h0))
        for name, g, w in zip(("a", "b", "h0"), got, want, strict=True):
            expect_close(g, w, rtol=1e-9, atol=1e-12, what=f"the gradient with respect to {name}")

    checks.check("gradients match autograd through the unrolled sum (T = 11)", 1, gradients)
    checks.device_safe(
        "CUDA inputs give CUDA states, no tensor made on the CPU",
        1,
        fn,
        lambda device: _gates(2, 7, 3, 15, torch.float32, device),
    )


def log_scan_checks(checks: Checks, fn) -> None:
    def values(device):
        for i, (batch, steps, hidden) in enumerate(SHAPES):
            for dtype in (F64, torch.float32):
                log_a, log_b, log_h0 = _log_inputs(batch, steps, hidden, 20 + i, dtype, device)
                saved = [t.clone() for t in (log_a, log_b, log_h0)]
                got = fn(log_a, log_b, log_h0)
                expect_tensor(got, shape=(batch, steps, hidden), dtype=dtype, what="log h")
                want = stepwise_log(*(t.cpu().double() for t in (log_a, log_b, log_h0)))
                tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else dict(rtol=1e-10)
                what = f"log h, (B, T, H) = {(batch, steps, hidden)}, {dtype}"
                expect_close(got.cpu().double(), want, **tol, what=what)
                for before, after, arg in zip(
                    saved, (log_a, log_b, log_h0), ("log_a", "log_b", "log_h0"), strict=True
                ):
                    expect_unchanged(before, after, what=arg)

    checks.on_each_device(
        "matches the recurrence step by step with logaddexp (5 shapes incl. T = 1; float32 and "
        "float64; inputs unchanged)",
        2,
        values,
    )

    def ten_thousand_steps():
        # Gates from -30 to 30 before the log-sigmoid: a_t from 1e-13 to 1 - 1e-13. Their
        # products reach 1e-3000 and beyond, far outside float64: only logs survive.
        g = torch.Generator().manual_seed(24)
        pre = (
            30
            * torch.rand(2, 10_000, 3, generator=g, dtype=F64)
            * torch.randn(2, 10_000, 3, generator=g, dtype=F64).sign()
        )
        log_a = F.logsigmoid(pre)
        log_b = F.logsigmoid(-pre) + torch.randn(2, 10_000, 3, generator=g, dtype=F64)
        log_h0 = torch.zeros(2, 3, dtype=F64)
        got = fn(log_a, log_b, log_h0)
        expect_finite(got, what="log h for T = 10,000")
        expect_close(
            got,
            stepwise_log(log_a, log_b, log_h0),
            rtol=1e-8,
            atol=1e-8,
            what="log h for T = 10,000",
        )

    checks.check(
        "T = 10,000 with gates from 1e-13 to 1 - 1e-13: no overflow or underflow, matches "
        "the step-by-step logs to 1e-8",
        1,
        ten_thousand_steps,
    )
    _log_depth_check(checks, fn, lambda steps: _log_inputs(2, steps, 3, 25), 1, "log_space_scan")
    checks.device_safe(
        "CUDA inputs give CUDA log-states, no tensor made on the CPU",
        1,
        fn,
        lambda device: _log_inputs(2, 7, 3, 26, torch.float32, device),
    )


def _gradients_by_autograd(a, b, h0, grad_h):
    leaves = [t.clone().requires_grad_() for t in (a, b, h0)]
    h = unrolled(*leaves)
    return torch.autograd.grad(h, leaves, grad_outputs=grad_h)


def backward_checks(checks: Checks, fn) -> None:
    """Run inside `replaced(globals(), **backward_parts())`."""

    def values(device):
        for i, (batch, steps, hidden) in enumerate(SHAPES[:4]):
            a, b, h0 = _gates(batch, steps, hidden, 30 + i, F64, device)
            grad_h = torch.randn(
                batch, steps, hidden, dtype=F64, generator=torch.Generator().manual_seed(40 + i)
            ).to(device)
            h = unrolled(a, b, h0)
            saved = [t.clone() for t in (a, h0, h, grad_h)]
            got = fn(a, h0, h, grad_h)
            if not isinstance(got, tuple | list) or len(got) != 3:
                raise CheckFailed(
                    f"scan_backward returned {type(got).__name__}; expected a tuple "
                    "(grad_a, grad_b, grad_h0)"
                )
            want = _gradients_by_autograd(a.cpu(), b.cpu(), h0.cpu(), grad_h.cpu())
            for name, g, w in zip(("grad_a", "grad_b", "grad_h0"), got, want, strict=True):
                expect_tensor(g, shape=w.shape, what=name)
                expect_close(
                    g.cpu(),
                    w,
                    rtol=1e-9,
                    atol=1e-12,
                    what=f"{name} for (B, T, H) = {(batch, steps, hidden)}",
                )
            for before, after, arg in zip(
                saved, (a, h0, h, grad_h), ("a", "h0", "h", "grad_h"), strict=True
            ):
                expect_unchanged(before, after, what=arg)

    checks.on_each_device(
        "matches autograd through the unrolled recurrence (4 shapes incl. T = 1; inputs unchanged)",
        2,
        values,
    )

    def by_hand_without_autograd():
        a, b, h0 = _gates(2, 9, 3, 50)
        h = stepwise(a, b, h0)
        grad_h = torch.zeros_like(h)
        grad_h[:, -1] = 1.0  # the loss is the sum of the last state
        with forbid_autograd():
            got = fn(a, h0, h, grad_h)
        want = _gradients_by_autograd(a, b, h0, grad_h)
        for name, g, w in zip(("grad_a", "grad_b", "grad_h0"), got, want, strict=True):
            expect_close(g, w, rtol=1e-9, atol=1e-12, what=f"{name} for a loss on the last state")

    checks.check(
        "computed without autograd: a loss on the last state only (T = 9)",
        1,
        by_hand_without_autograd,
    )

    def make(steps):
        a, b, h0 = _gates(2, steps, 3, 51)
        return a, h0, blelloch_scan(a, b, h0), torch.ones_like(a)

    _log_depth_check(checks, fn, make, 1, "scan_backward")
    checks.device_safe(
        "CUDA inputs give CUDA gradients, no tensor made on the CPU",
        1,
        fn,
        lambda device: [t.float().to(device) for t in make(6)],
    )


def step_checks(checks: Checks, fn) -> None:
    def values(device):
        for i, (batch, inputs, hidden) in enumerate(((3, 4, 5), (1, 1, 1), (2, 6, 2))):
            for dtype in (F64, torch.float32):
                scale = 40.0 if i == 2 else 3.0  # the last: saturated gates
                x, h0, W_z, b_z, W_h, b_h = _min_gru_inputs(
                    batch, 1, inputs, hidden, 60 + i, dtype, device, scale=scale
                )
                h = h0 + torch.rand_like(h0)  # any state
                saved = h.clone()
                got = fn(x[:, 0], h, W_z, b_z, W_h, b_h)
                want = sequential_min_gru(
                    x.cpu(), h.cpu(), W_z.cpu(), b_z.cpu(), W_h.cpu(), b_h.cpu()
                )[:, 0]
                expect_tensor(got, shape=(batch, hidden), dtype=dtype, what="h_new")
                expect_close(
                    got.cpu(),
                    want,
                    **_tolerance(dtype),
                    what=f"h_new (B, D, H) = {(batch, inputs, hidden)}, {dtype}",
                )
                expect_unchanged(saved, h, what="h")

    checks.on_each_device(
        "matches the minGRU update (3 sizes, inputs D different from H; float32 and float64; "
        "saturated gates; h unchanged)",
        1,
        values,
    )
    checks.device_safe(
        "CUDA inputs give a CUDA state, no tensor made on the CPU",
        1,
        lambda x, h0, W_z, b_z, W_h, b_h: fn(x[:, 0], h0, W_z, b_z, W_h, b_h),
        lambda device: _min_gru_inputs(2, 1, 3, 4, 63, torch.float32, device),
    )


def min_gru_checks(checks: Checks, fn) -> None:
    """Run inside `replaced(globals(), **min_gru_parts())`."""

    def values(device):
        for i, (batch, steps, inputs, hidden) in enumerate(
            ((2, 7, 3, 4), (1, 1, 2, 2), (3, 40, 1, 5))
        ):
            args = _min_gru_inputs(batch, steps, inputs, hidden, 70 + i, F64, device)
            saved = [t.clone() for t in args]
            got = fn(*args)
            want = sequential_min_gru(*(t.cpu() for t in args))
            expect_tensor(got, shape=(batch, steps, hidden), dtype=F64, what="the states")
            what = f"the states (B, T, D, H) = {(batch, steps, inputs, hidden)}, float64"
            expect_close(got.cpu(), want, rtol=1e-10, atol=1e-12, what=what)
            for before, after, arg in zip(
                saved, args, ("x", "h0", "W_z", "b_z", "W_h", "b_h"), strict=True
            ):
                expect_unchanged(before, after, what=arg)

    checks.on_each_device(
        "matches minGRU run step by step to 1e-10 in float64 (3 sizes incl. T = 1; inputs "
        "unchanged)",
        2,
        values,
    )

    def saturated():
        # Gate pre-activations of about +-100: z rounds to exactly 0 or 1, so log z or
        # log(1 - z) taken from z itself is log 0, whose gradient is not a number.
        args = [t.requires_grad_() for t in _min_gru_inputs(2, 30, 3, 4, 74, F64, scale=40.0)]
        got = fn(*args)
        expect_finite(got, what="the states with saturated gates")
        want = sequential_min_gru(*args)
        expect_close(got, want, rtol=1e-10, atol=1e-12, what="the states with saturated gates")
        weights = torch.randn(2, 30, 4, dtype=F64, generator=torch.Generator().manual_seed(73))
        grads = torch.autograd.grad((got * weights).sum(), args)
        want_grads = torch.autograd.grad((want * weights).sum(), args)
        for name, g, w in zip(
            ("x", "h0", "W_z", "b_z", "W_h", "b_h"), grads, want_grads, strict=True
        ):
            expect_finite(g, what=f"the gradient with respect to {name} (saturated gates)")
            expect_close(
                g,
                w,
                rtol=1e-8,
                atol=1e-10,
                what=f"the gradient with respect to {name} (saturated gates)",
            )
        args32 = [t.float() for t in _min_gru_inputs(2, 30, 3, 4, 75, F64, scale=40.0)]
        expect_finite(fn(*args32), what="the states with saturated gates, float32")

    checks.check(
        "gates fully open and fully closed (pre-activations of about 100): finite, exact, "
        "and so are the gradients",
        1,
        saturated,
    )
    _log_depth_check(checks, fn, lambda steps: _min_gru_inputs(2, steps, 3, 4, 76), 1, "min_gru")

    def gradients():
        args = [t.requires_grad_() for t in _min_gru_inputs(2, 9, 3, 4, 77)]
        weights = torch.randn(2, 9, 4, dtype=F64, generator=torch.Generator().manual_seed(78))
        got = torch.autograd.grad((fn(*args) * weights).sum(), args)
        want = torch.autograd.grad((sequential_min_gru(*args) * weights).sum(), args)
        for name, g, w in zip(("x", "h0", "W_z", "b_z", "W_h", "b_h"), got, want, strict=True):
            expect_close(g, w, rtol=1e-8, atol=1e-10, what=f"the gradient with respect to {name}")

    checks.check("gradients match autograd through minGRU step by step (T = 9)", 1, gradients)
    checks.device_safe(
        "CUDA inputs give CUDA states, no tensor made on the CPU",
        1,
        fn,
        lambda device: _min_gru_inputs(2, 5, 3, 4, 79, torch.float32, device),
    )
