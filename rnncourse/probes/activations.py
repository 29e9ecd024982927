"""Probes of exercise 1 (Activation functions): see rnncourse/diagnosis.py."""

import torch

# Values where overflow, sign and the point 0 all show.
_POINTS = [-1000.0, -30.0, -3.0, -0.5, 0.0, 0.5, 3.0, 30.0, 1000.0]


def _elementwise(fn, *args):
    out = []
    for dtype in (torch.float64, torch.float32):
        x = torch.tensor(_POINTS, dtype=dtype)
        out += [fn(x, *args), x]
    return tuple(out)


def _logsumexp(fn):
    x = torch.tensor([[1000.0, 999.0, 0.0], [-1000.0, -1000.0, -1000.0], [1.0, 2.0, 3.0]])
    x = x.double()
    return fn(x, dim=-1), fn(x, dim=0), x


def _layer_stack():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    widths = [3, 5, 4, 2]
    weights = [
        torch.randn(o, i, generator=g, dtype=torch.float64) / i**0.5
        for i, o in zip(widths[:-1], widths[1:], strict=True)
    ]
    return x, weights


def _backprop(fn):
    x, weights = _layer_stack()
    tanh_grad = lambda z: 1 - torch.tanh(z) ** 2  # noqa: E731
    relu_grad = lambda z: (z > 0).to(z.dtype)  # noqa: E731
    return (
        fn(x, weights, torch.tanh, tanh_grad),
        fn(x, weights, torch.relu, relu_grad),
        *weights,
    )


PROBES = {
    "step": _elementwise,
    "sigmoid": _elementwise,
    "sigmoid_grad": _elementwise,
    "tanh": _elementwise,
    "tanh_grad": _elementwise,
    "relu": _elementwise,
    "relu_grad": _elementwise,
    "leaky_relu": lambda fn: _elementwise(fn, 0.2) + _elementwise(fn),
    "leaky_relu_grad": lambda fn: _elementwise(fn, 0.2) + _elementwise(fn),
    "softplus": _elementwise,
    "logsumexp": _logsumexp,
    "gradient_norms_by_hand": _backprop,
}
