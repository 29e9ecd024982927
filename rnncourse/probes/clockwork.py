"""Probes of exercise 6 (The Clockwork RNN): see rnncourse/diagnosis.py."""

import torch

from rnncourse.probes import randn


def _clockwork_mask(fn):
    return fn(3, 2), fn(2, 1)


def _active_modules(fn):
    return tuple(fn(t, [1, 2, 4, 3]) for t in range(7))


def _clockwork_network():
    x, h, W_in, W_h, b = randn(11, (2, 2), (2, 6), (6, 2), (6, 6), (6,))
    return x, h.tanh(), W_in, W_h, b  # 3 modules of 2 units; W_h dense: the step masks it


def _clockwork_step(fn):
    x, h, W_in, W_h, b = _clockwork_network()
    return tuple(fn(x, h, t, W_in, W_h, b, [1, 2, 4]) for t in (0, 1, 2, 3)) + (h,)


def _clockwork_forward(fn):
    _, h, W_in, W_h, b = _clockwork_network()
    (x,) = randn(12, (2, 5, 2))
    return fn(x, h, W_in, W_h, b, [1, 2, 4]), h


def _recurrent_costs(fn):
    values = [*fn(3, 2, [1, 2, 4]), *fn(2, 3, [1, 3])]
    return (torch.tensor([float(v) for v in values], dtype=torch.float64),)


PROBES = {
    "clockwork_mask": _clockwork_mask,
    "active_modules": _active_modules,
    "clockwork_step": _clockwork_step,
    "clockwork_forward": _clockwork_forward,
    "recurrent_costs": _recurrent_costs,
}
