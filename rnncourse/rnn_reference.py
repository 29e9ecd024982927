"""PyTorch's own RNN, as a reference to compare hand-written code against.

The weights follow `torch.nn.RNN`'s names and shapes: `W_ih` is weight_ih_l0
(H, D), `W_hh` is weight_hh_l0 (H, H), and `b` plays bias_ih_l0 + bias_hh_l0
(one bias is enough: the two are always added together).
"""

import torch
from torch.func import functional_call


def random_rnn_problem(batch, time, inputs, hidden, *, dtype=torch.float64, device="cpu", seed=0):
    """A reproducible tanh-RNN problem: x (B, T, D), h0 (B, H), W_ih, W_hh, b.

    The weights are scaled so that tanh works in its linear range and states
    neither die out nor saturate over a few steps.
    """
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, scale=1.0):
        values = scale * torch.randn(shape, generator=g, dtype=torch.float64)
        return values.to(dtype=dtype, device=device)

    return {
        "x": randn(batch, time, inputs),
        "h0": randn(batch, hidden, scale=0.5),
        "W_ih": randn(hidden, inputs, scale=inputs**-0.5),
        "W_hh": randn(hidden, hidden, scale=0.9 * hidden**-0.5),
        "b": randn(hidden, scale=0.1),
    }


def torch_rnn(x, W_ih, W_hh, b, h0=None):
    """(all hidden states (B, T, H), last state (B, H)) computed by torch.nn.RNN."""
    hidden, inputs = W_ih.shape
    # Built on the meta device (no memory, no random init): the weights are ours.
    rnn = torch.nn.RNN(inputs, hidden, batch_first=True, device="meta", dtype=x.dtype)
    weights = {
        "weight_ih_l0": W_ih,
        "weight_hh_l0": W_hh,
        "bias_ih_l0": b,
        "bias_hh_l0": torch.zeros_like(b),
    }
    hs, h_n = functional_call(rnn, weights, (x, None if h0 is None else h0.unsqueeze(0)))
    return hs, h_n[0]


def torch_cell(x_t, h_prev, W_ih, W_hh, b):
    """One step h_t (B, H) computed by the kernel that torch.nn.RNNCell calls."""
    return torch.rnn_tanh_cell(x_t, h_prev, W_ih, W_hh, b, None)


GRADIENT_NAMES = ("x", "h0", "W_ih", "W_hh", "b")


def autograd_rnn_gradients(problem: dict, dhs: torch.Tensor) -> dict:
    """Gradients of L = sum(hs * dhs) with respect to x, h0, W_ih, W_hh and b, by autograd.

    `dhs` (B, T, H) is dL/dh_t for every step: what the layers above the RNN
    send back. The gradients flow through torch.nn.RNN, not through our code.
    """
    leaves = {name: problem[name].detach().clone().requires_grad_(True) for name in GRADIENT_NAMES}
    hs, _ = torch_rnn(leaves["x"], leaves["W_ih"], leaves["W_hh"], leaves["b"], leaves["h0"])
    grads = torch.autograd.grad((hs * dhs).sum(), list(leaves.values()))
    return dict(zip(GRADIENT_NAMES, grads, strict=True))
