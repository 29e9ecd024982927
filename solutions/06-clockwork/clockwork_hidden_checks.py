"""Hidden checks for exercise 6 (the Clockwork RNN).

Oracles, independent of the reference solution: loops over modules and blocks
for the mask and the step (each active module's block computed on its own, from the
blocks of the modules it reads); the listed tick times for the schedule; for the
forward pass, the masked dense update of every module kept at its ticks; a brute-force
count over one full cycle of the schedule for the costs. `torch.utils.flop_counter`
measures the multiply-adds a student's step performs.
"""

import math

import torch

from rnncourse.checks import (
    CheckFailed,
    Checks,
    count_flops,
    expect_close,
    expect_tensor,
    expect_unchanged,
)

F64 = torch.float64


# ---------------------------------------------------------------------------
# Oracles (also lent to the later cells, so each is graded on its own logic only)
# ---------------------------------------------------------------------------


def oracle_mask(n_modules, module_size, device="cpu"):
    n = n_modules * module_size
    mask = torch.zeros(n, n)
    for i in range(n_modules):  # receiving module
        for j in range(i, n_modules):  # itself and every slower module
            rows = slice(i * module_size, (i + 1) * module_size)
            cols = slice(j * module_size, (j + 1) * module_size)
            mask[rows, cols] = 1.0
    return mask.to(device)


def oracle_active(t, periods):
    """Module i runs at the times 0, p_i, 2 p_i, ...: is t one of them? (Listed, not
    taken modulo p_i as `active_modules` does.)"""
    t = int(t)
    return torch.tensor([t in range(0, t + 1, int(p)) for p in periods], dtype=torch.bool)


def oracle_step(x_t, h, t, W_in, W_h, b, periods):
    g = len(periods)
    k = h.shape[1] // g
    blocks = []
    for i in range(g):
        rows = slice(i * k, (i + 1) * k)
        if t % periods[i] != 0:
            blocks.append(h[:, rows])
            continue
        total = x_t @ W_in[rows].T + b[rows]
        for j in range(i, g):
            cols = slice(j * k, (j + 1) * k)
            total = total + h[:, cols] @ W_h[rows, cols].T
        blocks.append(torch.tanh(total))
    return torch.cat(blocks, dim=1)


def oracle_forward(x, h0, W_in, W_h, b, periods):
    """Every module's update computed at every step with the masked dense matrix, then
    kept only for the modules whose tick it is: another formulation than the step's
    module-by-module blocks (`oracle_step`, which the graded `clockwork_forward` calls)."""
    g, k = len(periods), h0.shape[1] // len(periods)
    W_masked = W_h * oracle_mask(g, k).to(W_h)
    h, states = h0, []
    for t in range(x.shape[1]):
        update = torch.tanh(x[:, t] @ W_in.T + h @ W_masked.T + b)
        ticks = torch.cat([update.new_full((k,), float(t % p == 0)) for p in periods])
        h = ticks * update + (1 - ticks) * h
        states.append(h)
    return torch.stack(states, dim=1)


def step_parts() -> dict:
    """Correct `clockwork_mask` and `active_modules`, lent to the `clockwork_step` cell."""
    return {"clockwork_mask": oracle_mask, "active_modules": oracle_active}


def forward_parts() -> dict:
    """Correct versions of what the `clockwork_forward` cell uses."""
    return {
        "clockwork_mask": oracle_mask,
        "active_modules": oracle_active,
        "clockwork_step": oracle_step,
    }


def _network(n_modules, module_size, n_inputs, seed, dtype=F64, device="cpu", batch=3):
    g = torch.Generator().manual_seed(seed)
    n = n_modules * module_size
    W_in = torch.randn(n, n_inputs, generator=g, dtype=dtype)
    # Dense: the entries outside the mask must have no effect (the step masks W_h).
    W_h = torch.randn(n, n, generator=g, dtype=dtype) / math.sqrt(n)
    b = 0.1 * torch.randn(n, generator=g, dtype=dtype)
    h = torch.randn(batch, n, generator=g, dtype=dtype).tanh()
    x = torch.randn(batch, n_inputs, generator=g, dtype=dtype)
    return [t.to(device) for t in (x, h, W_in, W_h, b)]


# ---------------------------------------------------------------------------
# The checks, one function per exercise cell
# ---------------------------------------------------------------------------


def mask_checks(checks: Checks, fn) -> None:
    def values(device):
        for n_modules, module_size in ((4, 3), (1, 5), (5, 1), (3, 7)):
            got = fn(n_modules, module_size, device=device)
            want = oracle_mask(n_modules, module_size, device)
            expect_close(got, want, what=f"clockwork_mask({n_modules}, {module_size})")

    checks.on_each_device(
        "matches a loop over blocks (4 sizes, incl. 1 module and modules of 1 unit); float32",
        3,
        values,
    )

    def counts():
        mask = fn(4, 64)
        ones = int(mask.sum())
        if ones != 64 * 64 * 10:
            raise CheckFailed(
                f"4 modules of 64 units: the mask has {ones} ones; expected 64^2 * (4 + 3 + 2 "
                f"+ 1) = {64 * 64 * 10}"
            )

    checks.check("4 modules of 64: 40,960 ones (62.5 % of a dense matrix)", 1, counts)
    checks.device_safe(
        "device='cuda' gives a CUDA mask", 1, lambda device: fn(3, 2, device=device), lambda d: (d,)
    )


def active_checks(checks: Checks, fn) -> None:
    def schedule():
        for periods in ([1, 2, 4, 8], [1, 3, 5], [2, 2, 7], [1]):
            for t in range(0, 45):
                got = fn(t, periods)
                want = oracle_active(t, periods)
                expect_tensor(got, shape=want.shape, dtype=torch.bool, what="the result")
                if not torch.equal(got.cpu(), want):
                    raise CheckFailed(
                        f"active_modules({t}, {periods}) = {got.tolist()}, expected {want.tolist()}"
                    )

    checks.check(
        "t = 0 .. 44 for periods (1, 2, 4, 8), (1, 3, 5), (2, 2, 7), (1): bool, t mod T = 0",
        3,
        schedule,
    )

    def tensor_periods():
        got = fn(6, torch.tensor([1, 2, 4]))
        if not torch.equal(torch.as_tensor(got).cpu(), torch.tensor([True, True, False])):
            raise CheckFailed(f"active_modules(6, tensor([1, 2, 4])) = {got}")

    checks.check("periods given as a tensor work too", 1, tensor_periods)


CASES = [  # (modules, module size, inputs, t, periods)
    (4, 3, 2, 0, [1, 2, 4, 8]),
    (4, 3, 2, 6, [1, 2, 4, 8]),
    (4, 3, 2, 8, [1, 2, 4, 8]),
    (3, 2, 1, 5, [1, 3, 5]),
    (3, 2, 1, 7, [1, 3, 5]),
    (1, 1, 1, 3, [2]),
]


def step_checks(checks: Checks, fn) -> None:
    """Run inside `replaced(globals(), **step_parts())`."""

    def values(device):
        for i, (g, k, d, t, periods) in enumerate(CASES):
            for dtype in (F64, torch.float32):
                x, h, W_in, W_h, b = _network(g, k, d, i, dtype, device)
                before = h.clone()
                got = fn(x, h, t, W_in, W_h, b, periods)
                want = oracle_step(x, h, t, W_in, W_h, b, periods)
                tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10)
                what = f"h_new ({g} modules of {k}, t = {t}, periods {periods}, {dtype})"
                expect_close(got, want, **tol, what=what)
                expect_unchanged(before, h, what="h")

    checks.on_each_device(
        "matches a loop over modules and blocks (t = 0, 6, 8 with periods 1-8; periods 1, 3, "
        "5, not nested; 1 module of 1 unit; float32 and float64)",
        4,
        values,
    )

    def gradients():
        x, h, W_in, W_h, b = _network(3, 2, 2, 20)
        leaves = [t.requires_grad_() for t in (x, h, W_in, W_h, b)]
        got = torch.autograd.grad(fn(*leaves[:2], 2, *leaves[2:], [1, 2, 4]).sum(), leaves)
        want = torch.autograd.grad(
            oracle_step(*leaves[:2], 2, *leaves[2:], [1, 2, 4]).sum(), leaves
        )
        for name, a, c in zip(("x", "h", "W_in", "W_h", "b"), got, want, strict=True):
            expect_close(a, c, rtol=1e-9, atol=1e-12, what=f"the gradient with respect to {name}")

    checks.check(
        "gradients match autograd through the module loop; W_h's entries outside the mask "
        "get exactly zero",
        1,
        gradients,
    )

    def skips_inactive_modules():
        # 8 modules of 16 units, t = 4 with periods 1..128: modules 0, 1 and 2 tick.
        g, k, d, batch = 8, 16, 4, 2
        periods = [2**i for i in range(g)]
        x, h, W_in, W_h, b = _network(g, k, d, 21, torch.float32, batch=batch)
        with count_flops() as counter:
            fn(x, h, 4, W_in, W_h, b, periods)
        flops = counter.total
        active_rows = 3 * k
        allowed = 2 * batch * active_rows * (d + g * k)  # x W_in^T and h W_h^T, active rows
        dense = 2 * batch * g * k * (d + g * k)
        if flops > 1.05 * allowed:
            raise CheckFailed(
                f"your step performed {flops / 2:.0f} multiply-adds when 3 of 8 modules tick; "
                f"computing only the active rows takes {allowed / 2:.0f} (every row: "
                f"{dense / 2:.0f}). Select the active rows before multiplying"
            )

    checks.check(
        "computes only the active modules' rows (multiply-adds counted by "
        "torch.utils.flop_counter: 3 of 8 modules active)",
        2,
        skips_inactive_modules,
    )
    checks.device_safe(
        "CUDA inputs give a CUDA h_new, no tensor made on the CPU",
        1,
        lambda x, h, W_in, W_h, b: fn(x, h, 2, W_in, W_h, b, [1, 2, 4, 8]),
        lambda device: _network(4, 2, 3, 22, torch.float32, device),
    )


def forward_checks(checks: Checks, fn) -> None:
    """Run inside `replaced(globals(), **forward_parts())`."""

    def values(device):
        for i, (g, k, d, steps, periods) in enumerate(
            [(4, 3, 2, 17, [1, 2, 4, 8]), (3, 2, 1, 11, [1, 3, 5]), (2, 1, 1, 1, [1, 2])]
        ):
            x0, h0, W_in, W_h, b = _network(g, k, d, 30 + i, F64, device)
            gen = torch.Generator().manual_seed(40 + i)
            x = torch.randn(x0.shape[0], steps, d, generator=gen, dtype=F64).to(device)
            before = x.clone()
            got = fn(x, h0, W_in, W_h, b, periods)
            want = oracle_forward(x, h0, W_in, W_h, b, periods)
            what = f"the states ({g} modules of {k}, T = {steps}, periods {periods})"
            expect_close(got, want, rtol=1e-10, atol=1e-12, what=what)
            expect_unchanged(before, x, what="x")

    checks.on_each_device(
        "states match a loop over steps and modules (T = 17 with periods 1-8; periods 1, 3, "
        "5; T = 1)",
        4,
        values,
    )

    def gradients():
        x0, h0, W_in, W_h, b = _network(3, 2, 2, 50)
        x = torch.randn(3, 6, 2, dtype=F64, generator=torch.Generator().manual_seed(51))
        leaves = [t.requires_grad_() for t in (x, h0, W_in, W_h, b)]
        got = torch.autograd.grad(fn(*leaves, [1, 2, 4]).pow(2).sum(), leaves)
        want = torch.autograd.grad(oracle_forward(*leaves, [1, 2, 4]).pow(2).sum(), leaves)
        for name, a, c in zip(("x", "h0", "W_in", "W_h", "b"), got, want, strict=True):
            expect_close(a, c, rtol=1e-9, atol=1e-12, what=f"the gradient with respect to {name}")

    checks.check("gradients through 6 steps match autograd through the loop", 1, gradients)

    def learns_a_waveform():
        # The paper's generation task in small: no input; a linear readout of the states
        # learns one 24-sample period of a waveform (reference: NMSE about 0.01 after 50
        # Adam steps; detached states: about 0.28). Each step calls back the lent
        # `clockwork_step` once per time step, forward and backward: keep it short.
        torch.manual_seed(0)
        n, periods, steps = 16, [1, 2, 4, 8], 24
        t = torch.arange(steps, dtype=torch.float32)
        target = 0.6 * torch.sin(2 * math.pi * t / 24) + 0.3 * torch.sin(2 * math.pi * t / 6)
        W_h = (torch.randn(n, n) / math.sqrt(n)).requires_grad_()
        b = torch.randn(n).requires_grad_()  # with no input, the biases drive the modules
        W_out = torch.zeros(n, requires_grad=True)
        x, h0, W_in = torch.zeros(1, steps, 1), torch.zeros(1, n), torch.zeros(n, 1)
        optimizer = torch.optim.Adam([W_h, b, W_out], lr=0.05)
        for _ in range(50):
            loss = ((fn(x, h0, W_in, W_h, b, periods)[0] @ W_out - target) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        nmse = loss.item() / target.var(correction=0).item()
        if not nmse < 0.05:
            raise CheckFailed(
                f"after 50 Adam steps the generated waveform has NMSE {nmse:.3g}; the "
                "reference reaches about 0.01; expected below 0.05"
            )

    checks.check(
        "trains: generates a 24-sample waveform from no input, NMSE below 0.05 after 50 "
        "Adam steps (4 modules of 4 units)",
        1,
        learns_a_waveform,
    )
    checks.device_safe(
        "CUDA inputs give CUDA states",
        1,
        lambda x, h0, W_in, W_h, b: fn(x, h0, W_in, W_h, b, [1, 2]),
        lambda device: (
            torch.randn(3, 4, 3, device=device),
            *_network(2, 2, 3, 52, torch.float32, device)[1:],
        ),
    )


def oracle_costs(n_modules, module_size, periods):
    mask = oracle_mask(n_modules, module_size)
    cycle = math.lcm(*periods)
    total = 0
    for t in range(cycle):
        rows = oracle_active(t, periods).repeat_interleave(module_size)
        total += int(mask[rows].sum())
    return int(mask.sum()), total / cycle


def costs_checks(checks: Checks, fn) -> None:
    def values():
        for g, k, periods in (
            (4, 64, [1, 2, 4, 8]),
            (3, 5, [1, 3, 9]),
            (5, 2, [1, 2, 3, 4, 5]),
            (1, 7, [1]),
            (2, 3, [4, 6]),
        ):
            weights, per_step = fn(g, k, periods)
            want_weights, want_per_step = oracle_costs(g, k, periods)
            if int(weights) != want_weights or not math.isclose(per_step, want_per_step):
                raise CheckFailed(
                    f"recurrent_costs({g}, {k}, {periods}) = ({weights}, {per_step}); "
                    f"expected ({want_weights}, {want_per_step:g}) (counted over a full cycle "
                    "of the schedule)"
                )

    checks.check(
        "matches a count over one full cycle of the schedule (5 cases incl. 256 units in 4 "
        "modules, periods that are not powers of 2)",
        4,
        values,
    )
