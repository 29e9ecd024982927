"""Hidden checks for exercise 1 (activation functions)."""

from collections.abc import Callable

import torch

from rnncourse.checks import (
    Checks,
    expect_close,
    expect_finite,
    expect_tensor,
    expect_unchanged,
    forbid_torch_functions,
)

# Inputs where naive formulas overflow: exp(89) is inf in float32, exp(710) in float64.
EXTREMES = [
    -1e4,
    -1e3,
    -100.0,
    -40.0,
    -20.0,
    -1.0,
    -1e-3,
    0.0,
    1e-3,
    1.0,
    20.0,
    40.0,
    100.0,
    1e3,
    1e4,
]
# (rtol, atol) per dtype: loose enough for any sound formula, tight enough for wrong ones.
TOLERANCE = {torch.float32: (1e-5, 1e-6), torch.float64: (1e-10, 1e-12)}


def elementwise_checks(
    checks: Checks,
    name: str,
    fn: Callable,
    oracle: Callable,
    *,
    forbidden: tuple[str, ...] = (),
    extremes=EXTREMES,
) -> None:
    """Three checks (3 points) for an elementwise function `fn`, called `name`, against `oracle`."""

    def extreme_inputs(device):
        for dtype in (torch.float32, torch.float64):
            x = torch.tensor(extremes, dtype=dtype, device=device)
            out = fn(x.clone())
            expect_finite(out, inputs=x, what=f"the {dtype} result")
            rtol, atol = TOLERANCE[dtype]
            expected = oracle(x.double()).to(dtype)
            expect_close(out, expected, rtol=rtol, atol=atol, inputs=x, what=f"the {dtype} result")

    checks.on_each_device(
        f"{name} is finite and accurate for |x| up to 1e4, in float32 and float64",
        1,
        extreme_inputs,
    )

    def contract():
        for dtype in (torch.float32, torch.float64):
            x = torch.randn(2, 3, 4, dtype=dtype)
            before = x.clone()
            with forbid_torch_functions(*forbidden):
                out = fn(x)
            expect_tensor(out, shape=x.shape, dtype=dtype)
            expect_unchanged(before, x)

    checks.check(
        f"{name} keeps shape and dtype, leaves its input unchanged, uses no built-in "
        f"({', '.join(forbidden) or 'none'})",
        1,
        contract,
    )
    checks.device_safe(
        f"{name}: CUDA input gives CUDA output, no tensor made on the CPU",
        1,
        fn,
        lambda device: (torch.randn(2, 3, 4, device=device),),
    )


def logsumexp_checks(checks: Checks, fn: Callable) -> None:
    """Three checks (3 points) for `fn(x, dim)` against torch.logsumexp."""

    def extreme_inputs(device):
        for dtype in (torch.float32, torch.float64):
            x = torch.tensor(
                [[1e4, 1e4 - 1.0, 0.0], [-1e4, -1e4, -1e4], [-5.0, 3.0, 1e3]],
                dtype=dtype,
                device=device,
            )
            out = fn(x.clone(), dim=-1)
            expect_finite(out, what=f"the {dtype} result")
            rtol, atol = TOLERANCE[dtype]
            expect_close(
                out,
                torch.logsumexp(x.double(), dim=-1).to(dtype),
                rtol=rtol,
                atol=atol,
                what=f"the {dtype} result",
            )

    checks.on_each_device("finite and accurate for entries up to 1e4 in size", 1, extreme_inputs)

    def contract():
        x = torch.randn(2, 3, 4, dtype=torch.float64)
        before = x.clone()
        for dim, shape in ((0, (3, 4)), (1, (2, 4)), (-1, (2, 3))):
            with forbid_torch_functions("logsumexp", "logaddexp", "softmax", "log_softmax"):
                out = fn(x, dim=dim)
            expect_tensor(out, shape=shape, dtype=x.dtype, what=f"the result for dim={dim}")
            expect_close(out, torch.logsumexp(x, dim=dim), what=f"the result for dim={dim}")
        expect_unchanged(before, x)

    checks.check(
        "reduces exactly the given dim (0, 1, -1), input unchanged, no built-in", 1, contract
    )
    checks.device_safe(
        "CUDA input gives CUDA output, no tensor made on the CPU",
        1,
        lambda x: fn(x, dim=-1),
        lambda device: (torch.randn(4, 5, device=device),),
    )


def layer_stack_gradients(x, weights, activation):
    """Oracle for the depth experiment: dL/dW_l by autograd, L = sum of the last layer."""

    def loss(ws):
        h = x
        for w in ws:
            h = activation(h @ w.T)
        return h.sum()

    return torch.func.grad(loss)(list(weights))


def backprop_checks(checks: Checks, fn: Callable) -> None:
    """Three checks (3 points) for the manual backward pass of the depth experiment."""
    torch_derivative = {
        "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
        "sigmoid": (torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))),
        "relu": (torch.relu, lambda z: (z > 0).to(z.dtype)),
    }

    def make(device, widths=(5, 7, 6, 4, 3), batch=8):
        g = torch.Generator().manual_seed(7)
        x = torch.randn(batch, widths[0], generator=g, dtype=torch.float64)
        ws = [
            torch.randn(o, i, generator=g, dtype=torch.float64) / i**0.5
            for i, o in zip(widths[:-1], widths[1:], strict=True)
        ]
        return x.to(device), [w.to(device) for w in ws]

    def values(device):
        for name, (act, act_grad) in torch_derivative.items():
            x, ws = make(device)
            before = [w.clone() for w in ws]
            out = fn(x, ws, act, act_grad)
            grads = layer_stack_gradients(x, ws, act)
            expected = torch.stack([g.norm() for g in grads])
            expect_close(
                out, expected, rtol=1e-7, atol=1e-10, what=f"the gradient norms with {name}"
            )
            for i, (w, b) in enumerate(zip(ws, before, strict=True)):
                expect_unchanged(b, w, what=f"weights[{i}]")

    checks.on_each_device(
        "norms match autograd for tanh, sigmoid and ReLU, non-square layers", 1, values
    )

    def deep():
        x, ws = make("cpu", widths=(16,) * 41, batch=4)
        out = fn(x, ws, torch.sigmoid, torch_derivative["sigmoid"][1])
        expected = torch.stack([g.norm() for g in layer_stack_gradients(x, ws, torch.sigmoid)])
        expect_close(out, expected, rtol=1e-7, atol=1e-300, what="the norms of a 40-layer stack")

    checks.check(
        "40 sigmoid layers: tiny gradients still exact (no clamping or rescaling)", 1, deep
    )
    checks.device_safe(
        "CUDA input gives CUDA output, no tensor made on the CPU",
        1,
        lambda x, *ws: fn(x, list(ws), torch.tanh, torch_derivative["tanh"][1]),
        lambda device: (
            torch.randn(8, 5, device=device),
            torch.randn(6, 5, device=device),
            torch.randn(3, 6, device=device),
        ),
    )
