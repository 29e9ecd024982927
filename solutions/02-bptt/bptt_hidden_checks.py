"""Hidden checks for exercise 2 (unrolling an RNN, backpropagation through time).

Oracles: `torch.nn.RNNCell` and `torch.nn.RNN` with the student's weights copied
in (forward), autograd through `nn.RNN` in float64 (backward),
`torch.nn.utils.clip_grad_norm_` (clipping), and `torch.func.grad` applied to
one chunk at a time with a hand-written SGD update (truncated BPTT).
"""

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.func import functional_call

from rnncourse.checks import (
    CheckFailed,
    Checks,
    cuda_or_simulated,
    expect_close,
    expect_same_training,
    expect_tensor,
    expect_unchanged,
    forbid_autograd,
    forbid_torch_functions,
)
from rnncourse.models import SequenceRegressor
from rnncourse.rnn_reference import (
    GRADIENT_NAMES,
    autograd_rnn_gradients,
    random_rnn_problem,
    torch_cell,
    torch_rnn,
)

BUILTIN_RNN = ("rnn_tanh_cell", "rnn_tanh", "rnn_relu_cell", "rnn_relu")
TOLERANCE = {torch.float32: (1e-5, 1e-6), torch.float64: (1e-9, 1e-12)}
# (batch B, time T, inputs D, hidden H): non-square weights, T = 1 and B = 1 included.
SHAPES = [(3, 5, 4, 6), (1, 1, 2, 3), (2, 1, 3, 3), (1, 7, 5, 2), (4, 9, 3, 3)]


def _unchanged_after(fn, tensors: dict):
    """Call fn(*tensors.values()); fail if it modified any of them in place; return its output."""
    before = {name: t.clone() for name, t in tensors.items()}
    out = fn(*tensors.values())
    for name, t in tensors.items():
        expect_unchanged(before[name], t, what=name)
    return out


# ---------------------------------------------------------------------------
# rnn_cell
# ---------------------------------------------------------------------------


def rnn_cell_checks(checks: Checks, fn: Callable) -> None:
    """Three checks for fn(x_t, h_prev, W_ih, W_hh, b) against nn.RNNCell."""

    def values(device):
        for dtype in (torch.float32, torch.float64):
            for batch, _, inputs, hidden in SHAPES:
                p = random_rnn_problem(batch, 1, inputs, hidden, dtype=dtype, device=device)
                x_t = p["x"][:, 0]
                got = fn(x_t, p["h0"], p["W_ih"], p["W_hh"], p["b"])
                want = torch_cell(x_t, p["h0"], p["W_ih"], p["W_hh"], p["b"])
                rtol, atol = TOLERANCE[dtype]
                expect_close(
                    got,
                    want,
                    rtol=rtol,
                    atol=atol,
                    what=f"h_t for B={batch}, D={inputs}, H={hidden} in {dtype}",
                )

    checks.on_each_device(
        "matches nn.RNNCell for non-square weights, B = 1, float32 and float64", 1, values
    )

    def contract():
        p = random_rnn_problem(2, 1, 3, 4)
        args = {"x_t": p["x"][:, 0], "h_prev": p["h0"]}
        args.update({name: p[name] for name in ("W_ih", "W_hh", "b")})
        with forbid_torch_functions(*BUILTIN_RNN):
            _unchanged_after(fn, args)

    checks.check("leaves its inputs unchanged and uses no built-in RNN cell", 1, contract)
    checks.device_safe(
        "CUDA inputs give a CUDA output, no tensor made on the CPU",
        1,
        fn,
        lambda device: tuple(
            torch.randn(*shape, device=device) for shape in ((2, 3), (2, 4), (4, 3), (4, 4), (4,))
        ),
    )


# ---------------------------------------------------------------------------
# rnn_forward
# ---------------------------------------------------------------------------


def rnn_forward_checks(checks: Checks, fn: Callable) -> None:
    """Four checks for fn(x, W_ih, W_hh, b, h0=None) -> (hs, h_T) against nn.RNN."""

    def compare(device, with_h0):
        for dtype in (torch.float32, torch.float64):
            for shape in SHAPES:
                p = random_rnn_problem(*shape, dtype=dtype, device=device, seed=1)
                h0 = p["h0"] if with_h0 else None
                hs, h_last = fn(p["x"], p["W_ih"], p["W_hh"], p["b"], h0)
                want_hs, want_last = torch_rnn(p["x"], p["W_ih"], p["W_hh"], p["b"], h0)
                rtol, atol = TOLERANCE[dtype]
                what = f"for (B, T, D, H) = {shape} in {dtype}"
                expect_close(hs, want_hs, rtol=rtol, atol=atol, what=f"hs {what}")
                expect_close(h_last, want_last, rtol=rtol, atol=atol, what=f"h_T {what}")

    checks.on_each_device(
        "hs and h_T match nn.RNN for 5 shapes (T = 1, B = 1, non-square), given h0",
        1,
        lambda device: compare(device, with_h0=True),
    )
    checks.on_each_device(
        "h0=None starts from zeros, as nn.RNN does",
        1,
        lambda device: compare(device, with_h0=False),
    )

    def contract():
        p = random_rnn_problem(2, 4, 3, 5)
        # The test cell lends rnn_forward PyTorch's cell: only whole-sequence built-ins are out.
        with forbid_torch_functions("rnn_tanh", "rnn_relu"):
            _unchanged_after(fn, {k: p[k] for k in ("x", "W_ih", "W_hh", "b", "h0")})

    checks.check("leaves its inputs unchanged and uses no built-in RNN", 1, contract)
    checks.device_safe(
        "h0=None: CUDA inputs give CUDA outputs, no tensor made on the CPU",
        1,
        lambda *args: fn(*args, h0=None),
        lambda device: (
            torch.randn(2, 4, 3, device=device),
            torch.randn(5, 3, device=device),
            torch.randn(5, 5, device=device),
            torch.randn(5, device=device),
        ),
    )


# ---------------------------------------------------------------------------
# rnn_backward
# ---------------------------------------------------------------------------


def expect_gradients(got, want: dict, *, rtol, atol, where: str):
    if not isinstance(got, dict) or set(got) != set(GRADIENT_NAMES):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        raise CheckFailed(f"expected a dict with keys {list(GRADIENT_NAMES)}, got {keys}")
    for name in GRADIENT_NAMES:
        expect_close(got[name], want[name], rtol=rtol, atol=atol, what=f"grads['{name}'] {where}")


def rnn_backward_checks(checks: Checks, fn: Callable) -> None:
    """Five checks for fn(x, h0, hs, dhs, W_ih, W_hh) -> dict of gradients, against autograd."""

    def run(p, dhs):
        hs, _ = torch_rnn(p["x"], p["W_ih"], p["W_hh"], p["b"], p["h0"])
        args = {"x": p["x"], "h0": p["h0"], "hs": hs.detach(), "dhs": dhs}
        args.update(W_ih=p["W_ih"], W_hh=p["W_hh"])
        with forbid_autograd():
            return _unchanged_after(fn, args)

    def many_to_many(device):
        for shape in SHAPES:
            p = random_rnn_problem(*shape, device=device, seed=2)
            dhs = torch.randn(p["x"].shape[:2] + p["h0"].shape[-1:], dtype=torch.float64)
            dhs = dhs.to(device)
            expect_gradients(
                run(p, dhs),
                autograd_rnn_gradients(p, dhs),
                rtol=1e-9,
                atol=1e-12,
                where=f"for (B, T, D, H) = {shape}",
            )

    checks.on_each_device(
        "all five gradients match autograd in float64 for 5 shapes (T = 1, B = 1, D != H)",
        2,
        many_to_many,
    )

    def many_to_one(device):
        p = random_rnn_problem(3, 8, 2, 4, device=device, seed=3)
        dhs = torch.zeros(3, 8, 4, dtype=torch.float64, device=device)
        dhs[:, -1] = 1.0  # only the last state feeds the loss
        expect_gradients(
            run(p, dhs),
            autograd_rnn_gradients(p, dhs),
            rtol=1e-9,
            atol=1e-12,
            where="when only h_T feeds the loss (many-to-one)",
        )

    checks.on_each_device("many-to-one: the gradient flows back from h_T alone", 1, many_to_one)

    def float32():
        p = random_rnn_problem(2, 6, 3, 4, dtype=torch.float32, seed=4)
        dhs = torch.randn(2, 6, 4)
        got = run(p, dhs)
        want = autograd_rnn_gradients({k: v.double() for k, v in p.items()}, dhs.double())
        want = {k: v.float() for k, v in want.items()}
        expect_gradients(got, want, rtol=1e-4, atol=1e-5, where="for float32 inputs")

    checks.check("float32 inputs give float32 gradients; inputs unchanged; no autograd", 1, float32)

    def on_cuda(x, h0, hs, dhs, W_ih, W_hh):
        grads = fn(x, h0, hs, dhs, W_ih, W_hh)
        if not isinstance(grads, dict):
            raise CheckFailed(f"expected a dict of gradients, got {type(grads).__name__}")
        return tuple(grads.get(name) for name in GRADIENT_NAMES)

    checks.device_safe(
        "CUDA inputs give CUDA gradients, no tensor made on the CPU",
        1,
        on_cuda,
        lambda device: tuple(
            torch.randn(*shape, device=device)
            for shape in ((2, 4, 3), (2, 5), (2, 4, 5), (2, 4, 5), (5, 3), (5, 5))
        ),
    )


# ---------------------------------------------------------------------------
# clip_by_global_norm
# ---------------------------------------------------------------------------


def _gradient_sets(device, dtype):
    """(name, tensors, max_norm): clipping active, inactive, zero gradients, a 0-dim tensor."""
    g = torch.Generator().manual_seed(5)

    def randn(*shape, scale=1.0):
        return (scale * torch.randn(shape, generator=g, dtype=torch.float64)).to(dtype).to(device)

    return [
        ("a norm above max_norm", [randn(4, 3, scale=3), randn(5), randn(), randn(2, 2, 2)], 1.0),
        ("one large tensor among small ones", [randn(3, scale=100), randn(3, 3, scale=0.01)], 5.0),
        ("a norm below max_norm", [randn(4, 3, scale=0.1), randn(5, scale=0.1)], 10.0),
        ("all-zero gradients", [torch.zeros(3, 2, dtype=dtype, device=device)], 1.0),
    ]


def clip_checks(checks: Checks, fn: Callable) -> None:
    """Three checks for fn(tensors, max_norm) -> norm, which clips in place."""

    def values(device):
        for dtype in (torch.float32, torch.float64):
            for name, tensors, max_norm in _gradient_sets(device, dtype):
                params = [torch.nn.Parameter(t.clone()) for t in tensors]
                for param, t in zip(params, tensors, strict=True):
                    param.grad = t.clone()
                want_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
                # A copy of the list: the clipping must reach the caller's own tensors,
                # not new ones put into the list it was given.
                got_norm = fn(list(tensors), max_norm)
                what = f"with {name} in {dtype}"
                expect_tensor(got_norm, shape=(), what=f"the returned norm {what}")
                expect_close(
                    got_norm.to(dtype), want_norm, rtol=1e-6, what=f"the returned norm {what}"
                )
                for i, (t, param) in enumerate(zip(tensors, params, strict=True)):
                    expect_close(t, param.grad, rtol=1e-5, atol=1e-12, what=f"tensors[{i}] {what}")

    checks.on_each_device(
        "scales in place exactly like clip_grad_norm_ (above, below, zero norm, 0-dim tensor); "
        "returns the norm before clipping",
        2,
        values,
    )

    def no_builtin():
        tensors = [torch.randn(3, 4), torch.randn(2)]
        with forbid_torch_functions("clip_grad_norm_", "clip_grads_with_norm_", "get_total_norm"):
            fn(tensors, 0.5)

    checks.check("uses no built-in clipping", 1, no_builtin)

    def on_cuda(*tensors):
        norm = fn(list(tensors), 0.1)
        return (norm, *tensors)

    checks.device_safe(
        "CUDA gradients stay on CUDA, no tensor made on the CPU",
        1,
        on_cuda,
        lambda device: (torch.randn(3, 4, device=device), torch.randn(5, device=device)),
    )


# ---------------------------------------------------------------------------
# train_tbptt
# ---------------------------------------------------------------------------


def tbptt_oracle(model, x, y, chunk_len, max_norm, lr, h=None):
    """Truncated BPTT with plain SGD, written functionally: one torch.func.grad per chunk.

    Returns (chunk losses, final parameters, final state). The state enters each
    chunk as a constant, which is exactly what detaching it means.
    """
    params = {name: p.detach().clone() for name, p in model.named_parameters()}

    def chunk_loss(params, xc, yc, h):
        prediction, h_out = functional_call(model, params, (xc, h))
        loss = F.mse_loss(prediction, yc)
        return loss, (loss.detach(), h_out.detach())

    losses = []
    for start in range(0, x.shape[1], chunk_len):
        xc, yc = x[:, start : start + chunk_len], y[:, start : start + chunk_len]
        grads, (loss, h) = torch.func.grad(chunk_loss, has_aux=True)(params, xc, yc, h)
        norm = math.sqrt(sum(float((g**2).sum()) for g in grads.values()))
        scale = min(1.0, max_norm / (norm + 1e-6))  # clip_grad_norm_'s formula
        params = {name: p - lr * scale * grads[name] for name, p in params.items()}
        losses.append(float(loss))
    return losses, params, h


def _tbptt_case(seed, batch, time, *, device="cpu", with_h=False):
    torch.manual_seed(seed)
    model = SequenceRegressor(2, 5, 1).double().to(device)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, time, 2, generator=g, dtype=torch.float64).to(device)
    y = torch.randn(batch, time, 1, generator=g, dtype=torch.float64).to(device)
    h = torch.randn(1, batch, 5, generator=g, dtype=torch.float64).to(device) if with_h else None
    return model, x, y, h


TBPTT_CASES = [
    # (batch, time, chunk_len, max_norm, with_h): clipping active and not, a short last chunk.
    (3, 12, 5, 0.05, False),
    (3, 12, 5, 1e3, False),
    (2, 10, 10, 0.05, True),
    (1, 6, 1, 1e3, True),
    (2, 9, 4, 0.05, True),
]


def tbptt_checks(checks: Checks, fn: Callable) -> None:
    """Three checks for fn(model, optimizer, x, y, chunk_len, max_norm, h=None) -> (losses, h)."""
    lr = 0.1

    def matches_oracle():
        for i, (batch, time, chunk_len, max_norm, with_h) in enumerate(TBPTT_CASES):
            model, x, y, h = _tbptt_case(i, batch, time, with_h=with_h)
            want_losses, want_params, want_h = tbptt_oracle(model, x, y, chunk_len, max_norm, lr, h)
            optimizer = torch.optim.SGD(model.parameters(), lr=lr)
            losses, h_out = fn(model, optimizer, x, y, chunk_len, max_norm, h)
            what = f"T={time}, chunk_len={chunk_len}, max_norm={max_norm:g}, " + (
                "h given" if with_h else "h=None"
            )
            expect_same_training(losses, want_losses, model, want_params, what=what, unit="chunk")
            expect_close(
                h_out.detach(), want_h, rtol=1e-7, atol=1e-10, what=f"the returned state ({what})"
            )

    checks.check(
        "losses, updated weights and final state match per-chunk gradients computed by "
        "torch.func, clipped and applied with SGD (5 cases: clipping on and off, short last "
        "chunk, chunk_len 1 and T)",
        3,
        matches_oracle,
    )

    def detached():
        model, x, y, _ = _tbptt_case(9, 2, 8)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        _, h = fn(model, optimizer, x, y, 3, 1.0)
        expect_tensor(h, shape=(1, 2, 5), what="the returned state")
        if h.requires_grad or h.grad_fn is not None:
            raise CheckFailed("the returned state is still attached to the graph: detach it")

    checks.check("returns the final state, detached, of shape (1, B, H)", 1, detached)

    def on_gpu():
        with cuda_or_simulated():
            model, x, y, _ = _tbptt_case(10, 2, 8, device="cuda")
            optimizer = torch.optim.SGD(model.parameters(), lr=lr)
            _, h = fn(model, optimizer, x, y, 3, 1.0)
            expect_tensor(h, device="cuda", what="the returned state")

    checks.check("a model on CUDA trains on CUDA, no tensor made on the CPU", 1, on_gpu)
