"""Probes of exercise 4 (LSTM and GRU): see rnncourse/diagnosis.py."""

import torch

from rnncourse.probes import randn


def _lstm_cell(fn):
    x, h, c, *weights = randn(7, (2, 3), (2, 2), (2, 2), (8, 3), (8, 2), (8,), (8,))
    big = [30 * w for w in weights]
    return (*fn(x, h, c, *weights), *fn(x, h, c, *big))


def _lstm_cell_backward(fn):
    dh, dc, x, h, c, *weights = randn(
        11, (2, 2), (2, 2), (2, 3), (2, 2), (2, 2), (8, 3), (8, 2), (8,), (8,)
    )
    grads = fn(dh, dc, x, h, c, *weights)
    names = ("gates", "x", "h", "c", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return tuple(grads[name] for name in names)


def _gru_cell(fn):
    x, h, *weights = randn(8, (2, 3), (2, 2), (6, 3), (6, 2), (6,), (6,))
    return (fn(x, h, *weights),)


def _lstm_forward(fn):
    lstm = torch.nn.LSTM(2, 2, 2, bidirectional=True, device="meta")
    g = torch.Generator().manual_seed(9)
    params = {
        name: torch.randn(p.shape, generator=g, dtype=torch.float64)
        for name, p in lstm.named_parameters()
    }
    x = torch.randn(3, 4, 2, generator=g, dtype=torch.float64)
    state = tuple(torch.randn(4, 3, 2, generator=g, dtype=torch.float64) for _ in range(2))
    output, (h_n, c_n) = fn(x, torch.tensor([4, 1, 2]), params, 2, True, state)
    return output, h_n, c_n


def _fast_lstm_forward(fn):
    x, h0, c0, *weights = randn(10, (2, 3, 2), (2, 2), (2, 2), (8, 2), (8, 2), (8,), (8,))
    output, (h, c) = fn(x, h0, c0, *weights)
    return output, h, c


PROBES = {
    "lstm_cell": _lstm_cell,
    "lstm_cell_backward": _lstm_cell_backward,
    "gru_cell": _gru_cell,
    "lstm_forward": _lstm_forward,
    "fast_lstm_forward": _fast_lstm_forward,
}
