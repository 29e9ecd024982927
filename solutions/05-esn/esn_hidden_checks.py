"""Hidden checks for exercise 5 (Echo State Networks).

Oracles, written independently of the reference solution: Euler's method for
Mackey-Glass by the method of steps (each stretch of `delay` steps solved in closed
form); eigenvalue moduli for the spectral radius; an explicit loop over [1; u_t] for the
reservoir states and for generation; `torch.linalg.lstsq` on the augmented system
[X; sqrt(ridge) I] for the ridge readout; the forecast as one walk along the series that
pairs each state with the next value as it goes (no slices to align); NumPy for the NRMSE.
The step-by-step Euler loop (`oracle_mackey_glass`) makes the checks' data and is lent to
later cells; it is not an oracle of `mackey_glass`.
"""

import functools
import math

import numpy as np
import torch

from rnncourse.checks import (
    CheckFailed,
    Checks,
    expect_close,
    expect_finite,
    expect_tensor,
    expect_unchanged,
)

F64 = torch.float64


# ---------------------------------------------------------------------------
# Oracles (also lent to `forecast`, so it is graded on its own logic only)
# ---------------------------------------------------------------------------


def mackey_glass_by_steps(n_steps, tau=17.0, dt=0.1, x0=1.2, device="cpu"):
    """The same Euler discretisation as `mackey_glass`, computed another way. Over a
    stretch of at most `delay` steps every delayed value is already known, so the stretch
    is the linear recurrence x[k+1] = a x[k] + dt f[k] (a = 1 - 0.1 dt, f known), whose
    solution x[k+i] = a^i (x[k] + dt * sum_{j<i} f[j] a^-(j+1)) is one cumulative sum."""
    per_unit, delay = round(1 / dt), round(tau / dt)
    total = delay + 1 + (n_steps - 1) * per_unit
    x = torch.full((total,), x0, dtype=F64)
    a = 1 - 0.1 * dt
    k = delay  # x[: k + 1] is known: the constant history
    while k < total - 1:
        m = min(delay, total - 1 - k)
        lagged = x[k - delay : k - delay + m]  # the delayed values of steps k .. k + m - 1
        forcing = 0.2 * lagged / (1 + lagged**10)
        powers = a ** torch.arange(1, m + 1, dtype=F64)
        x[k + 1 : k + m + 1] = powers * (x[k] + dt * torch.cumsum(forcing / powers, 0))
        k += m
    return x[delay::per_unit].to(device)


def oracle_mackey_glass(n_steps, tau=17.0, dt=0.1, x0=1.2, device="cpu"):
    per_unit, delay = round(1 / dt), round(tau / dt)
    total = delay + 1 + (n_steps - 1) * per_unit
    x = np.full(total, x0, dtype=np.float64)
    for k in range(delay, total - 1):
        lagged = x[k - delay]
        x[k + 1] = x[k] + dt * (0.2 * lagged / (1.0 + lagged**10) - 0.1 * x[k])
    return torch.from_numpy(x[delay::per_unit].copy()).to(device)


def oracle_make_reservoir(
    n_units, n_inputs, density, spectral_radius, input_scaling, generator, device="cpu"
):
    # The draws come in the order the exercise specifies: W_in, the mask, W's values.
    W_in = (
        torch.rand(n_units, 1 + n_inputs, generator=generator, dtype=F64) * 2 - 1
    ) * input_scaling
    keep = torch.rand(n_units, n_units, generator=generator, dtype=F64) < density
    W = torch.where(keep, torch.rand(n_units, n_units, generator=generator, dtype=F64) * 2 - 1, 0)
    W = W * spectral_radius / torch.linalg.eigvals(W).abs().max()
    return W_in.to(device), W.to(device)


def _step(W_in, W, x, u, leak):
    drive = W_in @ torch.cat([torch.ones_like(u[:1]), u]) + W @ x
    return (1 - leak) * x + leak * torch.tanh(drive)


def oracle_run_reservoir(W_in, W, inputs, leak, x0=None):
    x = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device) if x0 is None else x0
    states = torch.empty(inputs.shape[0], W.shape[0], dtype=W.dtype, device=W.device)
    for t in range(inputs.shape[0]):
        x = _step(W_in, W, x, inputs[t], leak)
        states[t] = x
    return states


def oracle_fit_readout(states, targets, ridge):
    X = torch.cat([torch.ones(states.shape[0], 1, dtype=F64), states.double().cpu()], dim=1)
    n = X.shape[1]
    A = torch.cat([X, math.sqrt(ridge) * torch.eye(n, dtype=F64)])
    B = torch.cat([targets.double().cpu(), torch.zeros(n, targets.shape[1], dtype=F64)])
    solution = torch.linalg.lstsq(A, B, driver="gelsd").solution
    return solution.T.to(dtype=states.dtype, device=states.device)


def oracle_generate(W_in, W, W_out, x, n_steps, leak):
    outputs = torch.empty(n_steps, W_out.shape[0], dtype=W.dtype, device=W.device)
    for t in range(n_steps):
        outputs[t] = W_out @ torch.cat([torch.ones_like(x[:1]), x])
        x = _step(W_in, W, x, outputs[t], leak)
    return outputs


def oracle_nrmse(prediction, target):
    p = prediction.detach().double().cpu().numpy()
    y = target.detach().double().cpu().numpy()
    return float(np.sqrt(np.mean((p - y) ** 2)) / np.std(y))


def reference_parts() -> dict:
    """Correct versions of the parts `forecast` calls, under the exercise's names."""
    return {
        "mackey_glass": oracle_mackey_glass,
        "make_reservoir": oracle_make_reservoir,
        "run_reservoir": oracle_run_reservoir,
        "fit_readout": oracle_fit_readout,
        "generate": oracle_generate,
        "nrmse": lambda p, t: torch.tensor(oracle_nrmse(p, t), dtype=F64, device=t.device),
    }


def _small_reservoir(n_units=40, n_inputs=1, seed=0, device="cpu", radius=0.9, scaling=0.8):
    return oracle_make_reservoir(
        n_units, n_inputs, 0.2, radius, scaling, torch.Generator().manual_seed(seed), device
    )


def _inputs(steps, n_inputs, seed=1, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(steps, n_inputs, generator=g, dtype=F64).to(device) * 2 - 1


# ---------------------------------------------------------------------------
# The checks, one function per exercise cell
# ---------------------------------------------------------------------------


def mackey_glass_checks(checks: Checks, fn) -> None:
    cases = [
        dict(n_steps=500),
        dict(n_steps=300, tau=30.0),
        dict(n_steps=200, dt=0.05),
        dict(n_steps=100, x0=0.5),
        dict(n_steps=1),
    ]

    def values(device):
        for case in cases:
            got = fn(**case, device=device)
            want = mackey_glass_by_steps(**case, device=device)
            expect_close(got, want, rtol=1e-10, atol=1e-12, what=f"the series for {case}")

    checks.on_each_device(
        "matches Euler's method computed by the method of steps (tau 17 and 30, dt 0.1 and "
        "0.05, x0 0.5, n_steps 1)",
        2,
        values,
    )

    def chaotic_range():
        x = fn(2000)
        expect_finite(x, what="the series")
        low, high = float(x[300:].min()), float(x[300:].max())
        if not (0.2 < low < 0.6 and 1.1 < high < 1.45):
            raise CheckFailed(
                f"after the transient, tau = 17 should stay roughly within [0.4, 1.35]; "
                f"got [{low:.3f}, {high:.3f}]"
            )

    checks.check("tau = 17 stays within the attractor's known range", 1, chaotic_range)


def make_reservoir_checks(checks: Checks, fn) -> None:
    def build(seed, n_units=200, n_inputs=2, density=0.05, radius=0.9, scaling=0.5, device="cpu"):
        g = torch.Generator().manual_seed(seed)
        return fn(n_units, n_inputs, density, radius, scaling, g, device=device)

    def radius_and_shapes(device):
        for n_units, density, radius in ((200, 0.05, 0.9), (120, 0.1, 1.25), (60, 0.3, 0.5)):
            W_in, W = build(3, n_units=n_units, density=density, radius=radius, device=device)
            expect_tensor(W, shape=(n_units, n_units), dtype=F64, what="W")
            expect_tensor(W_in, shape=(n_units, 3), dtype=F64, what="W_in")
            moduli = torch.linalg.eigvals(W).abs()
            got = float(moduli.max())
            if not math.isclose(got, radius, rel_tol=1e-8):
                real = float(torch.linalg.eigvals(W).real.max())
                sigma = float(torch.linalg.matrix_norm(W, 2))
                raise CheckFailed(
                    f"the spectral radius (largest |eigenvalue|) of W is {got:.6g}, expected "
                    f"{radius}; (largest real part {real:.4g}, largest singular value "
                    f"{sigma:.4g})"
                )

    checks.on_each_device(
        "W has spectral radius exactly as asked (eigenvalue moduli; 0.5, 0.9, 1.25); "
        "float64 shapes (N, N) and (N, 1 + n_inputs)",
        2,
        radius_and_shapes,
    )

    def density_and_scaling():
        n_units, density, scaling = 400, 0.03, 0.5
        W_in, W = build(4, n_units=n_units, density=density, scaling=scaling)
        n = n_units * n_units
        nonzero = int((W != 0).sum())
        spread = 5 * math.sqrt(n * density * (1 - density))
        if abs(nonzero - n * density) > spread:
            raise CheckFailed(
                f"W has {nonzero} non-zero entries of {n} ({nonzero / n:.4f}); with density "
                f"{density} expect about {n * density:.0f}"
            )
        if float(W_in.abs().max()) > scaling or float(W_in.abs().max()) < 0.9 * scaling:
            raise CheckFailed(
                f"W_in should be uniform in [-{scaling}, {scaling}]; its largest |entry| is "
                f"{float(W_in.abs().max()):.4g}"
            )
        if bool((W_in == 0).any()) or float(W_in.mean().abs()) > 0.1 * scaling:
            raise CheckFailed("W_in should be dense and centred on zero")
        # W's kept entries are symmetric around 0: as many positive as negative (5 sigma).
        kept = W[W != 0]
        positive = float((kept > 0).double().mean())
        if abs(positive - 0.5) > 5 * math.sqrt(0.25 / kept.numel()):
            raise CheckFailed(
                f"{positive:.0%} of W's non-zero entries are positive; drawn uniform in "
                "[-1, 1], about half of them should be"
            )

    checks.check(
        "density 3 % (within 5 sigma), W's entries symmetric around 0, W_in dense in [-s, s]",
        1,
        density_and_scaling,
    )

    def seeded():
        a, b, c = build(5), build(5), build(6)
        if not (torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])):
            raise CheckFailed("two calls with generators seeded alike gave different reservoirs")
        if torch.equal(a[1], c[1]):
            raise CheckFailed("different seeds gave the same W")

    checks.check("same seed, same reservoir; another seed, another one", 1, seeded)

    def forecasts_well():
        # What the reservoir is for: a draw from another distribution can pass every
        # statistic above and still forecast badly. Every other part here is correct.
        error = held_out_nrmse(functools.partial(forecast_along_the_series, make_reservoir=fn))
        if not error < 0.02:
            raise CheckFailed(
                f"a forecast with your reservoir (every other part correct) has NRMSE "
                f"{error:.3g} over 100 held-out steps; a reservoir drawn as specified gives < 0.02"
            )

    checks.check(
        "end to end: a forecast with your reservoir reaches NRMSE < 0.02 over 100 held-out "
        "steps (500 units)",
        1,
        forecasts_well,
    )
    checks.device_safe(
        "device='cuda' puts both matrices on CUDA",
        1,
        lambda device: build(7, n_units=30, density=0.2, device=device),
        lambda device: (device,),
    )


def run_reservoir_checks(checks: Checks, fn) -> None:
    def values(device):
        for n_inputs, leak, given in ((1, 0.3, False), (3, 1.0, True), (2, 0.05, True)):
            W_in, W = _small_reservoir(n_inputs=n_inputs, device=device)
            for steps in (1, 30):
                inputs = _inputs(steps, n_inputs, device=device)
                x0 = 0.3 * torch.ones(W.shape[0], dtype=F64, device=device) if given else None
                before = inputs.clone()
                got = fn(W_in, W, inputs, leak, x0)
                want = oracle_run_reservoir(W_in, W, inputs, leak, x0)
                what = f"the states (n_inputs={n_inputs}, leak={leak}, T={steps}, x0 given={given})"
                expect_close(got, want, rtol=1e-10, atol=1e-12, what=what)
                expect_unchanged(before, inputs, what="inputs")

    checks.on_each_device(
        "states match an independent loop (leak 0.05, 0.3, 1; 1 and 3 inputs; T = 1; x0)",
        2,
        values,
    )
    checks.device_safe(
        "x0=None: CUDA inputs give CUDA states, no tensor made on the CPU",
        1,
        lambda W_in, W, u: fn(W_in, W, u, 0.3),
        lambda device: (*_small_reservoir(device=device), _inputs(5, 1, device=device)),
    )


def _ill_conditioned(seed=0, steps=300, units=40, low=1e-7):
    """States with singular values from 10 down to 10 * low: the normal equations have
    condition number near 1e14 with a tiny ridge."""
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(steps, units, generator=g, dtype=F64))
    V, _ = torch.linalg.qr(torch.randn(units, units, generator=g, dtype=F64))
    s = torch.logspace(0, math.log10(low), units, dtype=F64)
    states = 10 * U @ torch.diag(s) @ V.T
    targets = torch.randn(steps, 2, generator=g, dtype=F64)
    return states, targets


def fit_readout_checks(checks: Checks, fn) -> None:
    def values(device):
        W_in, W = _small_reservoir(device=device)
        states = oracle_run_reservoir(W_in, W, _inputs(200, 1, device=device), 0.5)
        g = torch.Generator().manual_seed(2)
        targets = torch.randn(200, 3, generator=g, dtype=F64).to(device)
        X = torch.cat([torch.ones_like(states[:, :1]), states], dim=1)
        for ridge in (1e-1, 1e-6):
            got = fn(states, targets, ridge)
            want = oracle_fit_readout(states, targets, ridge)
            expect_tensor(got, shape=want.shape, dtype=F64, what="W_out")
            # Reservoir states are nearly collinear: compare what the readouts predict.
            expect_close(
                X @ got.T,
                X @ want.T,
                rtol=1e-7,
                atol=1e-9,
                what=f"the readout's predictions for ridge={ridge:g} (3 outputs)",
            )

    checks.on_each_device(
        "W_out (bias column first) matches least squares on [X; sqrt(ridge) I], 3 outputs",
        2,
        values,
    )

    def ill_conditioned():
        states, targets = _ill_conditioned()
        ridge = 1e-12
        W_out = fn(states, targets, ridge)
        expect_tensor(W_out, shape=(2, 41), dtype=F64, what="W_out")
        X = torch.cat([torch.ones(states.shape[0], 1, dtype=F64), states], dim=1)
        A = X.T @ X + ridge * torch.eye(X.shape[1], dtype=F64)
        residual = (A @ W_out.T - X.T @ targets).norm() / (A.norm() * W_out.norm())
        if not float(residual) < 1e-14:
            raise CheckFailed(
                f"on an ill-conditioned problem (condition number ~1e14) your W_out solves the "
                f"ridge equations only to a relative residual of {float(residual):.1e}; an "
                "explicit inverse loses accuracy here: use torch.linalg.solve (or lstsq)"
            )

    checks.check(
        "stable on an ill-conditioned problem (relative residual below 1e-14)", 1, ill_conditioned
    )
    checks.device_safe(
        "CUDA states give a CUDA W_out, no tensor made on the CPU",
        1,
        lambda states, targets: fn(states, targets, 1e-6),
        lambda device: (
            torch.randn(50, 10, dtype=F64, device=device),
            torch.randn(50, 1, dtype=F64, device=device),
        ),
    )


def generate_checks(checks: Checks, fn) -> None:
    def values(device):
        for n_outputs, leak, steps in ((1, 0.3, 50), (1, 1.0, 1), (2, 0.7, 20)):
            W_in, W = _small_reservoir(n_inputs=n_outputs, device=device, seed=n_outputs)
            g = torch.Generator().manual_seed(3)
            W_out = (0.1 * torch.randn(n_outputs, 41, generator=g, dtype=F64)).to(device)
            x = (0.2 * torch.randn(40, generator=g, dtype=F64)).to(device)
            before = x.clone()
            got = fn(W_in, W, W_out, x, steps, leak)
            want = oracle_generate(W_in, W, W_out, x, steps, leak)
            what = f"the outputs (n_outputs={n_outputs}, leak={leak}, n_steps={steps})"
            expect_close(got, want, rtol=1e-10, atol=1e-12, what=what)
            expect_unchanged(before, x, what="x")

    checks.on_each_device(
        "free-running outputs match an independent loop (1 and 2 outputs, leak 0.3, 0.7, 1, "
        "1 and 50 steps)",
        2,
        values,
    )
    checks.device_safe(
        "CUDA inputs give CUDA outputs, no tensor made on the CPU",
        1,
        lambda W_in, W, W_out, x: fn(W_in, W, W_out, x, 5, 0.3),
        lambda device: (
            *_small_reservoir(device=device),
            torch.randn(1, 41, dtype=F64, device=device) * 0.1,
            torch.zeros(40, dtype=F64, device=device),
        ),
    )


def nrmse_checks(checks: Checks, fn) -> None:
    def values(device):
        g = torch.Generator().manual_seed(4)
        for shape in ((5,), (50,), (7, 2)):
            target = torch.randn(shape, generator=g, dtype=F64).to(device) + 3
            prediction = target + 0.3 * torch.randn(shape, generator=g, dtype=F64).to(device)
            got = fn(prediction, target)
            expect_tensor(got, shape=(), what=f"the NRMSE for shape {shape}")
            want = torch.tensor(oracle_nrmse(prediction, target), dtype=got.dtype)
            expect_close(got.cpu(), want, rtol=1e-10, what=f"the NRMSE for shape {shape}")

    checks.on_each_device(
        "matches sqrt(mean squared error) / std(target) (population std), shapes (5,), (7, 2)",
        1,
        values,
    )
    checks.device_safe(
        "CUDA inputs give a CUDA result",
        1,
        fn,
        lambda device: (torch.randn(10, device=device), torch.randn(10, device=device)),
    )


SMALL = dict(
    n_units=200,
    density=0.05,
    spectral_radius=1.25,
    input_scaling=1.0,
    leak=0.3,
    ridge=1e-8,
    washout=100,
)


def forecast_along_the_series(series, n_train, n_test, config, generator, make_reservoir=None):
    """The forecast as specified, written as one walk along the series: each state after
    the washout is paired with the value that follows its input as the walk reaches it,
    then the readout's output is fed back. (No slices to align, unlike `forecast`.)
    `make_reservoir` (default: the oracle's) draws the reservoir, so that a student's can
    be judged by the forecast it leads to."""
    W_in, W = (make_reservoir or oracle_make_reservoir)(
        config["n_units"],
        1,
        config["density"],
        config["spectral_radius"],
        config["input_scaling"],
        generator,
        device=series.device,
    )
    x = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device)
    rows, targets = [], []
    for t in range(n_train):
        x = _step(W_in, W, x, series[t : t + 1], config["leak"])
        if config["washout"] <= t < n_train - 1:
            rows.append(x)
            targets.append(series[t + 1 : t + 2])
    W_out = oracle_fit_readout(torch.stack(rows), torch.stack(targets), config["ridge"])
    forecast = []
    for _ in range(n_test):
        y = W_out @ torch.cat([torch.ones_like(x[:1]), x])
        forecast.append(y[0])
        x = _step(W_in, W, x, y, config["leak"])
    return torch.stack(forecast)


def held_out_nrmse(forecast) -> float:
    """NRMSE of `forecast(series, n_train, n_test, config, generator)` over 100 steps after
    2000 training steps, with a 500-unit reservoir: the exercise's quality bar."""
    series = oracle_mackey_glass(3000)[200:]
    config = dict(SMALL, n_units=500, density=0.02)
    prediction = forecast(series, 2000, 100, config, torch.Generator().manual_seed(0))
    return oracle_nrmse(prediction, series[2000:2100])


def forecast_checks(checks: Checks, fn) -> None:
    """Run inside `replaced(globals(), **reference_parts())`."""
    series = oracle_mackey_glass(1500)[200:]

    def same_as_oracle(device):
        s = series.to(device)
        got = fn(s, 1000, 100, dict(SMALL), torch.Generator().manual_seed(8))
        want = forecast_along_the_series(s, 1000, 100, SMALL, torch.Generator().manual_seed(8))
        expect_close(got, want, rtol=1e-6, atol=1e-9, what="the forecast")

    checks.on_each_device(
        "washout, alignment of inputs and targets, and generation as specified", 2, same_as_oracle
    )

    def never_reads_the_future():
        poisoned = series.clone()
        poisoned[1000:] = float("nan")
        got = fn(poisoned, 1000, 100, dict(SMALL), torch.Generator().manual_seed(8))
        expect_finite(got, what="the forecast when the held-out values are NaN")

    checks.check(
        "uses nothing after n_train (held-out values set to NaN change nothing)",
        1,
        never_reads_the_future,
    )

    def accurate():
        error = held_out_nrmse(fn)
        if not error < 0.02:
            raise CheckFailed(f"NRMSE over 100 free-running steps is {error:.3g}; expected < 0.02")

    checks.check("NRMSE below 0.02 over 100 held-out steps (500 units)", 1, accurate)
