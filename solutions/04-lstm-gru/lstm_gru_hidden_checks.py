"""Hidden checks for exercise 4 (LSTM and GRU).

Oracles, independent of the reference solution: PyTorch's own `nn.LSTMCell`,
`nn.GRUCell` and `nn.LSTM` (on packed sequences) with the same weights, and
autograd through them for the gradients (also of the backward step written by hand).
The fast layer is also watched while it runs: a torch-function mode counts its matrix
multiplies with each weight, and all its torch calls (counted, not timed, so that a busy
grader cannot change a grade).
"""

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnncourse.checks import (
    CheckFailed,
    Checks,
    count_calls,
    count_matmuls,
    expect_close,
    expect_finite,
    expect_unchanged,
    forbid_autograd,
    forbid_torch_functions,
)

F64 = torch.float64
# PyTorch's fused kernels: a student's cell must not call them.
BUILT_INS = ("lstm_cell", "lstm", "gru_cell", "gru", "rnn_tanh_cell", "rnn_tanh")


def _tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# Oracles
# ---------------------------------------------------------------------------


def oracle_lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """nn.LSTMCell's step through PyTorch's fused kernel."""
    return torch.lstm_cell(x, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)


def oracle_packed_lstm(x, lengths, params, num_layers, bidirectional, state=None):
    """nn.LSTM with these parameters, run on the packed batch, padded back to x's length."""
    lstm = nn.LSTM(
        x.shape[2],
        params["weight_hh_l0"].shape[1],
        num_layers,
        batch_first=True,
        bidirectional=bidirectional,
        device="meta",
    )
    packed = pack_padded_sequence(x, torch.as_tensor(lengths).cpu(), True, enforce_sorted=False)
    # functional_call: the weights stay the caller's tensors, so autograd reaches them.
    out, (h_n, c_n) = functional_call(lstm, params, (packed, state))
    output, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return output, (h_n, c_n)


def reference_parts() -> dict:
    """A correct `lstm_cell`, lent to the `lstm_forward` cell."""
    return {"lstm_cell": oracle_lstm_cell}


def _weights(rows, inputs, hidden, seed, dtype=torch.float32, device="cpu", scale=1.0):
    g = torch.Generator().manual_seed(seed)
    shapes = [(rows * hidden, inputs), (rows * hidden, hidden), (rows * hidden,), (rows * hidden,)]
    return [
        (scale * torch.randn(s, generator=g, dtype=dtype) / hidden**0.5).to(device) for s in shapes
    ]


def _tensors(shapes, seed, dtype=torch.float32, device="cpu", scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return [(scale * torch.randn(s, generator=g, dtype=dtype)).to(device) for s in shapes]


CELL_SHAPES = [(2, 3, 4), (1, 1, 1), (5, 7, 3), (3, 2, 8)]  # (batch, inputs, hidden)


# ---------------------------------------------------------------------------
# lstm_cell and gru_cell
# ---------------------------------------------------------------------------


def lstm_cell_checks(checks: Checks, fn) -> None:
    def values(device):
        for i, (batch, inputs, hidden) in enumerate(CELL_SHAPES):
            for dtype in (torch.float32, F64):
                weights = _weights(4, inputs, hidden, i, dtype, device)
                x, h, c = _tensors(
                    [(batch, inputs), (batch, hidden), (batch, hidden)], 10 + i, dtype, device
                )
                before = [t.clone() for t in (x, h, c)]
                with forbid_torch_functions(*BUILT_INS):
                    got_h, got_c = fn(x, h, c, *weights)
                want_h, want_c = oracle_lstm_cell(x, h, c, *weights)
                what = f"(B={batch}, D={inputs}, H={hidden}, {dtype})"
                expect_close(got_h, want_h, **_tolerance(dtype), what=f"h_new {what}")
                expect_close(got_c, want_c, **_tolerance(dtype), what=f"c_new {what}")
                for b, t in zip(before, (x, h, c), strict=True):
                    expect_unchanged(b, t, what="the inputs")

    checks.on_each_device(
        "h_new, c_new match nn.LSTMCell's kernel (4 shapes incl. B = D = H = 1; float32 and "
        "float64); built without torch's LSTM functions",
        3,
        values,
    )

    def gradients():
        x, h, c = _tensors([(3, 2), (3, 5), (3, 5)], 20, F64)
        weights = _weights(4, 2, 5, 21, F64)
        inputs = [t.requires_grad_() for t in (x, h, c, *weights)]
        got_h, got_c = fn(*inputs)
        got = torch.autograd.grad((got_h * 1.3 + got_c * 0.7).sum(), inputs)
        want_h, want_c = oracle_lstm_cell(*inputs)
        want = torch.autograd.grad((want_h * 1.3 + want_c * 0.7).sum(), inputs)
        names = ("x", "h", "c", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
        for name, a, b in zip(names, got, want, strict=True):
            expect_close(a, b, rtol=1e-9, atol=1e-12, what=f"the gradient with respect to {name}")

    checks.check(
        "gradients with respect to all 7 inputs match autograd through nn.LSTMCell", 1, gradients
    )

    def saturated():
        weights = _weights(4, 3, 4, 30, scale=200.0)
        x, h, c = _tensors([(2, 3), (2, 4), (2, 4)], 31, scale=10.0)
        got_h, got_c = fn(x, h, c, *weights)
        expect_finite(got_h, what="h_new for pre-activations in the thousands")
        want_h, want_c = oracle_lstm_cell(x, h, c, *weights)
        expect_close(got_h, want_h, rtol=1e-5, atol=1e-6, what="h_new when the gates saturate")
        expect_close(got_c, want_c, rtol=1e-5, atol=1e-5, what="c_new when the gates saturate")

    checks.check(
        "saturated gates (pre-activations in the thousands): finite and correct", 1, saturated
    )
    checks.device_safe(
        "CUDA inputs give CUDA h_new and c_new",
        1,
        fn,
        lambda device: (
            *_tensors([(2, 3), (2, 4), (2, 4)], 40, device=device),
            *_weights(4, 3, 4, 41, device=device),
        ),
    )


def gru_cell_checks(checks: Checks, fn) -> None:
    def values(device):
        for i, (batch, inputs, hidden) in enumerate(CELL_SHAPES):
            for dtype in (torch.float32, F64):
                weights = _weights(3, inputs, hidden, 50 + i, dtype, device, scale=2.0)
                x, h = _tensors([(batch, inputs), (batch, hidden)], 60 + i, dtype, device)
                before = [x.clone(), h.clone()]
                with forbid_torch_functions(*BUILT_INS):
                    got = fn(x, h, *weights)
                want = torch.gru_cell(x, h, *weights)
                what = f"h_new (B={batch}, D={inputs}, H={hidden}, {dtype})"
                expect_close(got, want, **_tolerance(dtype), what=what)
                expect_unchanged(before[0], x, what="x")
                expect_unchanged(before[1], h, what="h")

    checks.on_each_device(
        "h_new matches nn.GRUCell's kernel (4 shapes incl. B = D = H = 1; float32 and "
        "float64); built without torch's GRU functions",
        3,
        values,
    )

    def gradients():
        x, h = _tensors([(3, 2), (3, 5)], 70, F64)
        weights = _weights(3, 2, 5, 71, F64, scale=2.0)
        inputs = [t.requires_grad_() for t in (x, h, *weights)]
        got = torch.autograd.grad(fn(*inputs).sum(), inputs)
        want = torch.autograd.grad(torch.gru_cell(*inputs).sum(), inputs)
        names = ("x", "h", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
        for name, a, b in zip(names, got, want, strict=True):
            expect_close(a, b, rtol=1e-9, atol=1e-12, what=f"the gradient with respect to {name}")

    checks.check(
        "gradients with respect to all 6 inputs match autograd through nn.GRUCell", 1, gradients
    )

    def reset_gate_place():
        # Only the recurrent bias b_hn: where r sits decides whether it is gated.
        x, h = _tensors([(2, 3), (2, 4)], 80, F64)
        w_ih, w_hh, b_ih, b_hh = _weights(3, 3, 4, 81, F64, scale=2.0)
        b_hh = torch.zeros_like(b_hh)
        b_hh[8:] = 3.0
        expect_close(
            fn(x, h, w_ih, w_hh, b_ih, b_hh),
            torch.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh),
            rtol=1e-10,
            what="h_new with a large b_hn (the reset gate multiplies W_hn h + b_hn)",
        )

    checks.check("the reset gate multiplies W_hn h + b_hn, bias included", 1, reset_gate_place)
    checks.device_safe(
        "CUDA inputs give a CUDA h_new",
        1,
        fn,
        lambda device: (
            *_tensors([(2, 3), (2, 4)], 90, device=device),
            *_weights(3, 3, 4, 91, device=device),
        ),
    )


# ---------------------------------------------------------------------------
# lstm_forward
# ---------------------------------------------------------------------------


def _flat(result):
    """(output, (h, c)) -> (output, h, c)."""
    output, (h, c) = result
    return output, h, c


def _lstm_params(inputs, hidden, num_layers, bidirectional, seed, dtype=F64, device="cpu"):
    """Random parameters under nn.LSTM's names."""
    g = torch.Generator().manual_seed(seed)
    lstm = nn.LSTM(inputs, hidden, num_layers, bidirectional=bidirectional, device="meta")
    return {
        name: (torch.randn(p.shape, generator=g, dtype=dtype) / hidden**0.5).to(device)
        for name, p in lstm.named_parameters()
    }


FORWARD_CASES = [
    # (batch, steps, inputs, hidden, layers, bidirectional, lengths, with state)
    (3, 6, 2, 4, 1, False, [6, 3, 1], False),
    (3, 6, 2, 4, 1, True, [2, 6, 4], False),
    (4, 5, 3, 3, 2, True, [5, 5, 1, 3], True),
    (2, 4, 2, 5, 3, False, [1, 4], True),
    (1, 1, 1, 1, 1, True, [1], True),
    (2, 7, 2, 2, 2, False, [7, 7], False),
]


def _forward_case(case, seed, dtype=F64, device="cpu"):
    batch, steps, inputs, hidden, layers, bidirectional, lengths, with_state = case
    params = _lstm_params(inputs, hidden, layers, bidirectional, seed, dtype, device)
    g = torch.Generator().manual_seed(seed + 100)
    x = torch.randn(batch, steps, inputs, generator=g, dtype=dtype)
    for b, n in enumerate(lengths):
        x[b, n:] = 1e3  # loud padding: it must not leak anywhere
    rows = layers * (2 if bidirectional else 1)
    state = None
    if with_state:
        state = tuple(
            torch.randn(rows, batch, hidden, generator=g, dtype=dtype).to(device) for _ in range(2)
        )
    return x.to(device), torch.tensor(lengths), params, layers, bidirectional, state


def _describe(case):
    batch, steps, _, hidden, layers, bidirectional, lengths, with_state = case
    return (
        f"B={batch}, T={steps}, H={hidden}, {layers} layer(s), "
        f"{'bidirectional' if bidirectional else 'forward only'}, lengths {lengths}, "
        f"state {'given' if with_state else 'None'}"
    )


def lstm_forward_checks(checks: Checks, fn) -> None:
    """Run inside `replaced(globals(), **reference_parts())`."""

    def values(device):
        for i, case in enumerate(FORWARD_CASES):
            for dtype in (F64, torch.float32) if i == 2 else (F64,):
                x, lengths, params, layers, bidirectional, state = _forward_case(
                    case, i, dtype, device
                )
                before = x.clone()
                got, (h_n, c_n) = fn(x, lengths, params, layers, bidirectional, state)
                want, (want_h, want_c) = oracle_packed_lstm(
                    x, lengths, params, layers, bidirectional, state
                )
                what = f"({_describe(case)}, {dtype})"
                tol = _tolerance(dtype)
                expect_close(got, want, **tol, what=f"the output {what}")
                expect_close(h_n, want_h, **tol, what=f"h_n {what}")
                expect_close(c_n, want_c, **tol, what=f"c_n {what}")
                expect_unchanged(before, x, what="x")

    checks.on_each_device(
        "output (zero at padding), h_n and c_n match nn.LSTM on packed sequences (6 cases: "
        "1 to 3 layers, bidirectional, length 1, B = T = H = 1, initial state; float32 too)",
        5,
        values,
    )

    def gradients():
        x, lengths, params, layers, bidirectional, state = _forward_case(FORWARD_CASES[2], 7)
        leaves = [x.requires_grad_(), *(p.requires_grad_() for p in params.values())]
        got, (h_n, c_n) = fn(x, lengths, params, layers, bidirectional, state)
        got_grads = torch.autograd.grad(got.sum() + 2 * h_n.sum() + 3 * c_n.sum(), leaves)
        want, (want_h, want_c) = oracle_packed_lstm(
            x, lengths, params, layers, bidirectional, state
        )
        want_grads = torch.autograd.grad(want.sum() + 2 * want_h.sum() + 3 * want_c.sum(), leaves)
        names = ["x", *params]
        for name, a, b in zip(names, got_grads, want_grads, strict=True):
            expect_close(a, b, rtol=1e-8, atol=1e-10, what=f"the gradient with respect to {name}")

    checks.check(
        "gradients with respect to x and every weight match autograd through nn.LSTM "
        "(2 layers, bidirectional, padded)",
        2,
        gradients,
    )

    def final_state_ignores_padding():
        case = (3, 6, 2, 4, 2, True, [6, 2, 4], False)
        x, lengths, params, layers, bidirectional, _ = _forward_case(case, 8)
        _, (h_first, _) = fn(x, lengths, params, layers, bidirectional)
        x[1, 2:] = -x[1, 2:]  # change only padding
        _, (h_second, _) = fn(x, lengths, params, layers, bidirectional)
        expect_close(h_second, h_first, rtol=1e-12, what="h_n after changing only the padding")

    checks.check("changing the padding changes nothing", 1, final_state_ignores_padding)
    checks.device_safe(
        "CUDA inputs (CPU lengths, as PyTorch's packing wants) give CUDA results",
        1,
        lambda x, lengths, params: _flat(fn(x, lengths, params, 2, True)),
        lambda device: _forward_case(FORWARD_CASES[2], 9, torch.float32, device)[:3],
    )


# ---------------------------------------------------------------------------
# fast_lstm_forward
# ---------------------------------------------------------------------------


def oracle_lstm(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh):
    params = {"weight_ih_l0": weight_ih, "weight_hh_l0": weight_hh}
    params |= {"bias_ih_l0": bias_ih, "bias_hh_l0": bias_hh}
    lengths = [x.shape[1]] * x.shape[0]
    output, (h, c) = oracle_packed_lstm(x, lengths, params, 1, False, (h0[None], c0[None]))
    return output, (h[0], c[0])


def naive_lstm(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh):
    """The slow way: every step, one matrix multiply per gate for the input and the state."""
    w_ih, w_hh = weight_ih.chunk(4), weight_hh.chunk(4)
    b = (bias_ih + bias_hh).chunk(4)
    h, c, outputs = h0, c0, []
    for t in range(x.shape[1]):
        a = [x[:, t] @ w_ih[k].T + h @ w_hh[k].T + b[k] for k in range(4)]
        c = torch.sigmoid(a[1]) * c + torch.sigmoid(a[0]) * torch.tanh(a[2])
        h = torch.sigmoid(a[3]) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs, 1), (h, c)


def _fast_case(batch, steps, inputs, hidden, seed, dtype=F64, device="cpu"):
    x, h0, c0 = _tensors([(batch, steps, inputs), (batch, hidden), (batch, hidden)], seed, dtype)
    weights = _weights(4, inputs, hidden, seed + 1, dtype)
    return [t.to(device) for t in (x, h0, c0, *weights)]


def fast_lstm_checks(checks: Checks, fn) -> None:
    def values(device):
        for i, shape in enumerate([(3, 7, 2, 5), (1, 1, 1, 1), (4, 12, 3, 2)]):
            for dtype in (torch.float32, F64):
                args = _fast_case(*shape, 200 + i, dtype, device)
                before = args[0].clone()
                with forbid_torch_functions(*BUILT_INS):
                    got, (h, c) = fn(*args)
                want, (want_h, want_c) = oracle_lstm(*args)
                what = f"(B, T, D, H = {shape}, {dtype})"
                expect_close(got, want, **_tolerance(dtype), what=f"the outputs {what}")
                expect_close(h, want_h, **_tolerance(dtype), what=f"the final h {what}")
                expect_close(c, want_c, **_tolerance(dtype), what=f"the final c {what}")
                expect_unchanged(before, args[0], what="x")

    checks.on_each_device(
        "outputs and final (h, c) match nn.LSTM (3 shapes incl. B = T = D = H = 1; float32 "
        "and float64); built without torch's LSTM functions",
        2,
        values,
    )

    def fused():
        x, h0, c0, w_ih, w_hh, b_ih, b_hh = _fast_case(2, 9, 3, 4, 210)
        with count_matmuls(weight_ih=w_ih, weight_hh=w_hh) as counter:
            fn(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        n_ih, n_hh = counter.counts["weight_ih"], counter.counts["weight_hh"]
        if n_ih != 1:
            raise CheckFailed(
                f"weight_ih took part in {n_ih} matrix multiplies for 9 steps; compute the "
                "input projection of all steps in one, before the loop"
            )
        if n_hh != 9:
            raise CheckFailed(
                f"weight_hh took part in {n_hh} matrix multiplies for 9 steps; use one per "
                "step, for all four gates at once"
            )

    checks.check("one matrix multiply with weight_ih in all, one with weight_hh per step", 2, fused)

    def no_more_work():
        # Small LSTMs on a CPU spend their time on each torch call's overhead, not in the
        # arithmetic: the calls are the work, and counting them (unlike timing them, on a
        # grader that others share) gives the same grade every time. The reference makes
        # about 13 calls a step, the loop 37, a loop over the batch or the units far more.
        args = _fast_case(16, 150, 16, 32, 220, torch.float32)
        with torch.no_grad():
            with count_calls() as yours:
                fn(*args)
            with count_calls() as loop:
                naive_lstm(*args)
        if yours.leaving:  # a loop in NumPy makes few torch calls, however slow it is
            raise CheckFailed(
                "your layer takes values out of PyTorch (.numpy(), .tolist()): "
                "keep every step in torch operations, which also run on the GPU"
            )
        if yours.total > loop.total:
            raise CheckFailed(
                f"your layer made {yours.total} torch calls for 150 steps, more than the "
                f"{loop.total} of a loop with one matrix multiply per gate: do each step's "
                "work in a few whole-batch operations"
            )

    checks.check(
        "no more torch calls than a loop with one matrix multiply per gate, none taking "
        "values out of PyTorch (150 steps; counted, not timed)",
        1,
        no_more_work,
    )
    checks.device_safe(
        "CUDA inputs give CUDA outputs",
        1,
        lambda *args: _flat(fn(*args)),
        lambda device: _fast_case(2, 3, 2, 3, 230, torch.float32, device),
    )


# ---------------------------------------------------------------------------
# lstm_cell_backward
# ---------------------------------------------------------------------------

BACKWARD_NAMES = ("gates", "x", "h", "c", "weight_ih", "weight_hh", "bias_ih", "bias_hh")


def oracle_lstm_cell_backward(dh_new, dc_new, x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """Autograd through PyTorch's fused LSTM cell, in the dtype given.

    The gradient with respect to the gates' pre-activations comes from the same kernel: an
    extra input, one-hot per example, with zero weights `offset` (B, 4H) adds exactly
    `offset[b]` to example b's pre-activations, so d loss / d offset is that gradient.
    """
    batch = x.shape[0]
    offset = torch.zeros(batch, weight_ih.shape[0], dtype=x.dtype, device=x.device)
    leaves = [t.detach().clone().requires_grad_() for t in (x, h, c, weight_ih, weight_hh)]
    leaves += [t.detach().clone().requires_grad_() for t in (bias_ih, bias_hh, offset)]
    x_, h_, c_, w_ih, w_hh, b_ih, b_hh, offset = leaves
    one_hot = torch.eye(batch, dtype=x.dtype, device=x.device)
    h_new, c_new = torch.lstm_cell(
        torch.cat([x_, one_hot], 1), (h_, c_), torch.cat([w_ih, offset.T], 1), w_hh, b_ih, b_hh
    )
    loss = (h_new * dh_new).sum() + (c_new * dc_new).sum()
    grads = torch.autograd.grad(loss, leaves)
    return dict(
        zip(
            ("x", "h", "c", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "gates"),
            grads,
            strict=True,
        )
    )


def _backward_case(batch, inputs, hidden, seed, dtype=F64, device="cpu", scale=1.0):
    x, h, c, dh, dc = _tensors(
        [(batch, inputs), (batch, hidden), (batch, hidden), (batch, hidden), (batch, hidden)],
        seed,
        dtype,
    )
    weights = _weights(4, inputs, hidden, seed + 1, dtype, scale=scale)
    return [t.to(device) for t in (dh, dc, x, h, c, *weights)]


def expect_lstm_gradients(got, want, *, rtol, atol, where):
    if not isinstance(got, dict) or set(got) != set(BACKWARD_NAMES):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        raise CheckFailed(f"expected a dict with keys {list(BACKWARD_NAMES)}, got {keys}")
    for name in BACKWARD_NAMES:
        expect_close(got[name], want[name], rtol=rtol, atol=atol, what=f"grads['{name}'] {where}")


def lstm_cell_backward_checks(checks: Checks, fn) -> None:
    def run(args):
        before = [t.clone() for t in args]
        with forbid_autograd(), forbid_torch_functions(*BUILT_INS):
            got = fn(*args)
        for b, t in zip(before, args, strict=True):
            expect_unchanged(b, t, what="the inputs")
        return got

    def matches_autograd(args, where):
        want = oracle_lstm_cell_backward(*args)
        expect_lstm_gradients(run(args), want, rtol=1e-9, atol=1e-12, where=where)

    def values(device):
        for i, shape in enumerate([(2, 3, 4), (1, 1, 1), (5, 2, 3), (3, 4, 2)]):
            args = _backward_case(*shape, 50 + i, device=device)
            matches_autograd(args, f"(B, D, H) = {shape}, float64")

    checks.on_each_device(
        "all 8 gradients match autograd through nn.LSTMCell's kernel in float64 "
        "(4 shapes incl. B = D = H = 1); no autograd, inputs unchanged",
        2,
        values,
    )

    def one_path_at_a_time():
        for which in ("dh_new only", "dc_new only"):
            args = _backward_case(3, 2, 4, 60)
            args[1 if which == "dh_new only" else 0] = torch.zeros_like(args[0])
            matches_autograd(args, f"when the loss reaches the cell through {which}")

    checks.check(
        "the gradient arriving through h_new and the one through c_new, each alone",
        1,
        one_path_at_a_time,
    )

    def saturated():
        args = _backward_case(2, 3, 4, 70, scale=30.0)
        matches_autograd(args, "with saturated gates (weights 30 times larger)")

    checks.check("saturated gates: correct and finite", 1, saturated)

    def float32():
        args = _backward_case(2, 3, 4, 80, dtype=torch.float32)
        want = oracle_lstm_cell_backward(*(t.double() for t in args))
        want = {name: value.float() for name, value in want.items()}
        expect_lstm_gradients(run(args), want, rtol=1e-4, atol=1e-5, where="for float32 inputs")

    checks.check("float32 inputs give float32 gradients", 1, float32)

    def on_cuda(*args):
        grads = fn(*args)
        if not isinstance(grads, dict):
            raise CheckFailed(f"expected a dict of gradients, got {type(grads).__name__}")
        return tuple(grads.get(name) for name in BACKWARD_NAMES)

    checks.device_safe(
        "CUDA inputs give CUDA gradients",
        1,
        on_cuda,
        lambda device: tuple(_backward_case(2, 3, 4, 90, torch.float32, device)),
    )
