"""Probes of exercise 2 (Unrolling and backpropagation through time): see rnncourse/diagnosis.py."""

import torch

from rnncourse.models import SequenceRegressor
from rnncourse.rnn_reference import GRADIENT_NAMES, random_rnn_problem, torch_rnn


def _problem(batch=2, time=4, inputs=3, hidden=5, seed=0):
    p = random_rnn_problem(batch, time, inputs, hidden, seed=seed)
    return [p[k] for k in ("x", "h0", "W_ih", "W_hh", "b")]


def _rnn_cell(fn):
    x, h0, W_ih, W_hh, b = _problem(time=1)
    return fn(x[:, 0], h0, W_ih, W_hh, b), h0


def _rnn_forward(fn):
    x, h0, W_ih, W_hh, b = _problem()
    return (*fn(x, W_ih, W_hh, b, h0), *fn(x, W_ih, W_hh, b, None), x, h0)


def _rnn_backward(fn):
    x, h0, W_ih, W_hh, b = _problem()
    hs, _ = torch_rnn(x, W_ih, W_hh, b, h0)
    hs = hs.detach()
    dhs = torch.linspace(-1, 1, hs.numel(), dtype=hs.dtype).reshape(hs.shape)
    grads = fn(x, h0, hs, dhs, W_ih, W_hh)
    return (*(grads[name] for name in GRADIENT_NAMES), hs, dhs)


def _clip(fn):
    out = []
    for scale, max_norm in ((3.0, 1.0), (0.1, 10.0), (0.0, 1.0)):
        g = torch.Generator().manual_seed(1)
        tensors = [
            scale * torch.randn(shape, generator=g, dtype=torch.float64)
            for shape in ((4, 3), (5,), ())
        ]
        norm = fn(list(tensors), max_norm)  # read back through the caller's own tensors
        out += [torch.as_tensor(norm, dtype=torch.float64), *tensors]
    return tuple(out)


def _tbptt(fn):
    out = []
    for chunk_len, max_norm in ((3, 0.05), (3, 1e3)):
        torch.manual_seed(0)
        model = SequenceRegressor(2, 4, 1).double()
        g = torch.Generator().manual_seed(1)
        x = torch.randn(2, 8, 2, generator=g, dtype=torch.float64)
        y = torch.randn(2, 8, 1, generator=g, dtype=torch.float64)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        losses, h = fn(model, optimizer, x, y, chunk_len, max_norm)
        losses = torch.tensor([float(v) for v in losses], dtype=torch.float64)
        out += [losses, h.detach(), *(p.detach() for p in model.parameters())]
    return tuple(out)


PROBES = {
    "rnn_cell": _rnn_cell,
    "rnn_forward": _rnn_forward,
    "rnn_backward": _rnn_backward,
    "clip_by_global_norm": _clip,
    "train_tbptt": _tbptt,
}
