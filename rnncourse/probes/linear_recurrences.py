"""Probes of exercise 8 (linear recurrences, the parallel scan, minGRU): see
rnncourse/diagnosis.py."""

import torch

from rnncourse.probes import randn


def _gates(seed, steps=6):
    a, b, h0 = randn(seed, (2, steps, 3), (2, steps, 3), (2, 3))
    return torch.sigmoid(a), b, h0


def _linear_recurrence(fn):
    a, b, h0 = _gates(31)
    return fn(a, b, h0), b  # b: a function that writes into it shows


def _parallel_scan(fn):
    a, b, h0 = _gates(32, steps=7)
    return fn(a, b, h0), b


def _log_space_scan(fn):
    log_a, log_b, log_h0 = randn(33, (2, 5, 3), (2, 5, 3), (2, 3))
    return (fn(torch.nn.functional.logsigmoid(log_a), log_b, log_h0),)


def _scan_backward(fn):
    a, h, h0 = _gates(34, steps=5)  # any h: the gradients only read it
    (grad_h,) = randn(35, (2, 5, 3))
    return tuple(fn(a, h0, h, grad_h))


def _min_gru_weights(seed):
    return randn(seed, (3, 3), (3,), (3, 3), (3,), scale=2.0)  # inputs D = state H = 3


def _min_gru_step(fn):
    x_t, h = randn(36, (2, 3), (2, 3))
    return (fn(x_t, h.abs() + 0.1, *_min_gru_weights(37)),)


def _min_gru(fn):
    x, h0 = randn(38, (2, 4, 3), (2, 3))
    return (fn(x, h0.abs() + 0.1, *_min_gru_weights(39)),)


PROBES = {
    "linear_recurrence": _linear_recurrence,
    "parallel_scan": _parallel_scan,
    "log_space_scan": _log_space_scan,
    "scan_backward": _scan_backward,
    "min_gru_step": _min_gru_step,
    "min_gru": _min_gru,
}
