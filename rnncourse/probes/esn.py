"""Probes of exercise 5 (Echo State Networks): see rnncourse/diagnosis.py."""

import torch


def _mackey_glass(fn):
    return fn(60), fn(40, tau=5.0, dt=0.5, x0=0.8)


def _flag(condition) -> torch.Tensor:
    return torch.tensor(float(bool(condition)), dtype=torch.float64)


def _make_reservoir(fn):
    # Properties, not values: they do not depend on the order of the random draws.
    radius, scaling = 0.9, 0.5
    W_in, W = fn(30, 2, 0.2, radius, scaling, torch.Generator().manual_seed(0))
    again = fn(30, 2, 0.2, radius, scaling, torch.Generator().manual_seed(0))
    eigenvalues = torch.linalg.eigvals(W)
    right = abs(float(eigenvalues.abs().max()) - radius) < 1e-9
    # Which wrong quantity was scaled to the radius? Asked only when the radius is wrong,
    # because a random W's largest real part may equal its radius by chance.
    return (
        torch.tensor(list(W_in.shape) + list(W.shape), dtype=torch.float64),
        _flag(right),
        _flag(not right and abs(float(eigenvalues.real.max()) - radius) < 1e-9),
        _flag(not right and abs(float(torch.linalg.matrix_norm(W, 2)) - radius) < 1e-9),
        _flag(float((W != 0).double().mean()) < 0.5),
        _flag(float(W_in.abs().max()) <= scaling),
        _flag(torch.equal(W, again[1]) and torch.equal(W_in, again[0])),
    )


def _small_esn(n_inputs=1):
    g = torch.Generator().manual_seed(2)
    W_in = torch.rand(6, 1 + n_inputs, generator=g, dtype=torch.float64) - 0.5
    W = 0.5 * (torch.rand(6, 6, generator=g, dtype=torch.float64) - 0.5)
    W_out = torch.rand(n_inputs, 7, generator=g, dtype=torch.float64) - 0.5
    return W_in, W, W_out


def _run_reservoir(fn):
    W_in, W, _ = _small_esn()
    inputs = torch.linspace(-1, 1, 5, dtype=torch.float64).unsqueeze(1)
    return (
        fn(W_in, W, inputs, 0.3),
        fn(W_in, W, inputs, 1.0, 0.1 * torch.ones(6, dtype=torch.float64)),
        inputs,
    )


def _fit_readout(fn):
    g = torch.Generator().manual_seed(3)
    states = torch.randn(20, 4, generator=g, dtype=torch.float64)
    targets = torch.randn(20, 2, generator=g, dtype=torch.float64)
    return fn(states, targets, 0.5), fn(states, targets, 0.0), states, targets


def _generate(fn):
    W_in, W, W_out = _small_esn()
    x = torch.linspace(-0.5, 0.5, 6, dtype=torch.float64)
    return fn(W_in, W, W_out, x, 4, 0.3), x


def _nrmse(fn):
    target = torch.tensor([1.0, 2.0, 4.0, 8.0, 3.0], dtype=torch.float64)
    return (fn(target + torch.tensor([0.5, -0.5, 0.0, 1.0, 0.0], dtype=torch.float64), target),)


def _forecast(fn):
    t = torch.arange(260, dtype=torch.float64)
    series = torch.sin(0.2 * t) * torch.cos(0.031 * t)
    config = dict(
        n_units=20,
        density=0.3,
        spectral_radius=0.9,
        input_scaling=0.5,
        leak=0.5,
        ridge=1e-6,
        washout=20,
    )
    return fn(series, 240, 10, config, torch.Generator().manual_seed(0)), series


PROBES = {
    "mackey_glass": _mackey_glass,
    "make_reservoir": _make_reservoir,
    "run_reservoir": _run_reservoir,
    "fit_readout": _fit_readout,
    "generate": _generate,
    "nrmse": _nrmse,
    "forecast": _forecast,
}
