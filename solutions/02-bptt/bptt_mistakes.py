"""Chapter 2 (unrolling, BPTT): known mistakes and correct alternatives.

Most mistakes are a one-line edit of a correct function, so each one shows
exactly the slip a student makes.
"""

from autograder.mistakes import edited, reference

_CELL = reference("bptt", "rnn_cell")

_FORWARD = reference("bptt", "rnn_forward")

_BACKWARD = reference("bptt", "rnn_backward")

_CLIP = reference("bptt", "clip_by_global_norm")

_TBPTT = reference("bptt", "train_tbptt")


CELL_MISTAKES = [
    edited(
        "cell_untransposed_input_weight",
        "rnn_cell",
        "test_rnn_cell",
        _CELL,
        "x_t @ W_ih.T",
        "x_t @ W_ih",
        "W_ih has shape (H, D), like nn.RNN's weight_ih_l0: multiply by its transpose",
    ),
    edited(
        "cell_swapped_weights",
        "rnn_cell",
        "test_rnn_cell",
        _CELL,
        "x_t @ W_ih.T + h_prev @ W_hh.T",
        "x_t @ W_hh.T + h_prev @ W_ih.T",
        "W_ih multiplies the input and W_hh the previous state, not the other way round",
    ),
    edited(
        "cell_no_bias",
        "rnn_cell",
        "test_rnn_cell",
        _CELL,
        " + b)",
        ")",
        "your cell leaves out the bias b",
    ),
    edited(
        "cell_sigmoid",
        "rnn_cell",
        "test_rnn_cell",
        _CELL,
        "torch.tanh(",
        "torch.sigmoid(",
        "the plain RNN (and nn.RNN) uses tanh, not the sigmoid",
    ),
    edited(
        "cell_builtin",
        "rnn_cell",
        "test_rnn_cell",
        _CELL,
        "torch.tanh(x_t @ W_ih.T + h_prev @ W_hh.T + b)",
        "torch.rnn_tanh_cell(x_t, h_prev, W_ih, W_hh, b)",
        "your cell calls PyTorch's built-in RNN cell; write the formula yourself",
    ),
    edited(
        "cell_cpu_buffer",
        "rnn_cell",
        "test_rnn_cell",
        _CELL,
        "    return torch.tanh(x_t @ W_ih.T + h_prev @ W_hh.T + b)",
        "    a = torch.zeros(h_prev.shape, dtype=h_prev.dtype)\n"
        "    a += x_t @ W_ih.T + h_prev @ W_hh.T + b\n"
        "    return torch.tanh(a)",
        "torch.zeros(shape) creates a CPU tensor; use torch.zeros_like(h_prev) or device=",
    ),
]

FORWARD_MISTAKES = [
    edited(
        "forward_cpu_initial_state",
        "rnn_forward",
        "test_rnn_forward",
        _FORWARD,
        "x.new_zeros(batch, W_hh.shape[0])",
        "torch.zeros(batch, W_hh.shape[0], dtype=x.dtype)",
        "the zero initial state is created on the CPU; on a GPU it must be created on "
        "x's device (x.new_zeros or device=x.device)",
    ),
    edited(
        "forward_forgets_state",
        "rnn_forward",
        "test_rnn_forward",
        _FORWARD,
        """        h = rnn_cell(x_t, h, W_ih, W_hh, b)
        states.append(h)
    return torch.stack(states, dim=1), h""",
        """        h_t = rnn_cell(x_t, h, W_ih, W_hh, b)
        states.append(h_t)
    return torch.stack(states, dim=1), h_t""",
        "h_t is never fed back: every step starts again from h0 instead of the previous state",
    ),
    edited(
        "forward_time_major",
        "rnn_forward",
        "test_rnn_forward",
        _FORWARD,
        "torch.stack(states, dim=1)",
        "torch.stack(states)",
        "torch.stack stacks along dim 0 by default, giving (T, B, H); hs must be batch-first",
    ),
    edited(
        "forward_includes_h0",
        "rnn_forward",
        "test_rnn_forward",
        _FORWARD,
        "    states = []",
        "    states = [h]",
        "hs holds h_1 .. h_T: the initial state h_0 is not an output",
    ),
    edited(
        "forward_returns_first_state",
        "rnn_forward",
        "test_rnn_forward",
        _FORWARD,
        "return torch.stack(states, dim=1), h",
        "return torch.stack(states, dim=1), states[0]",
        "the second output is the last state h_T, not the first",
    ),
    edited(
        "forward_reversed_time",
        "rnn_forward",
        "test_rnn_forward",
        _FORWARD,
        "for x_t in x.unbind(dim=1):",
        "for x_t in reversed(x.unbind(dim=1)):",
        "the sequence is read from t = 1 to T, not backwards",
    ),
    edited(
        "forward_builtin",
        "rnn_forward",
        "test_rnn_forward",
        _FORWARD,
        "    batch = x.shape[0]",
        "    return torch_rnn(x, W_ih, W_hh, b, h0)",
        "your rnn_forward calls nn.RNN; unroll the loop yourself",
    ),
]

BACKWARD_MISTAKES = [
    edited(
        "backward_tanh_of_state",
        "rnn_backward",
        "test_rnn_backward",
        _BACKWARD,
        "(1 - hs[:, t] ** 2)",
        "(1 - torch.tanh(hs[:, t]) ** 2)",
        "tanh'(a_t) = 1 - h_t**2: the state is already tanh(a_t), do not apply tanh again",
    ),
    edited(
        "backward_overwrites_weight_gradient",
        "rnn_backward",
        "test_rnn_backward",
        _BACKWARD,
        'grads["W_hh"] += da.T @ h_before',
        'grads["W_hh"] = da.T @ h_before',
        "W_hh is shared by all steps: its gradient is the sum over t (+=), not the last term",
    ),
    edited(
        "backward_no_bias_gradient",
        "rnn_backward",
        "test_rnn_backward",
        _BACKWARD,
        '        grads["b"] += da.sum(dim=0)\n',
        "",
        "the bias gradient is missing (left at zero): it is da summed over batch and time",
    ),
    edited(
        "backward_ignores_future",
        "rnn_backward",
        "test_rnn_backward",
        _BACKWARD,
        "(dhs[:, t] + from_future)",
        "dhs[:, t]",
        "dL/dh_t also receives the gradient coming back from h_{t+1} through W_hh",
    ),
    edited(
        "backward_wrong_state_for_W_hh",
        "rnn_backward",
        "test_rnn_backward",
        _BACKWARD,
        "da.T @ h_before",
        "da.T @ hs[:, t]",
        "dW_hh pairs dL/da_t with the previous state h_{t-1}, not h_t",
    ),
    edited(
        "backward_only_last_output",
        "rnn_backward",
        "test_rnn_backward",
        _BACKWARD,
        "(dhs[:, t] + from_future)",
        "(dhs[:, -1] + from_future)",
        "at step t the gradient from above is dhs[:, t], not the last step's",
    ),
    edited(
        "backward_transposed_recurrence",
        "rnn_backward",
        "test_rnn_backward",
        _BACKWARD,
        "from_future = da @ W_hh",
        "from_future = da @ W_hh.T",
        "a_t uses h_{t-1} @ W_hh.T, so the gradient goes back as da @ W_hh (no transpose)",
    ),
    edited(
        "backward_h0_gradient_zero",
        "rnn_backward",
        "test_rnn_backward",
        _BACKWARD,
        'grads["h0"] = from_future',
        'grads["h0"] = torch.zeros_like(h0)',
        "the gradient for h0 is what flows back out of step 1: da_1 @ W_hh",
    ),
    edited(
        "backward_default_dtype_and_device",
        "rnn_backward",
        "test_rnn_backward",
        _BACKWARD,
        '"W_ih": torch.zeros_like(W_ih)',
        '"W_ih": torch.zeros(W_ih.shape)',
        "torch.zeros(shape) is float32 on the CPU: float64 gradients lose precision, and on "
        "a GPU it fails; use torch.zeros_like",
    ),
    edited(
        "backward_uses_autograd",
        "rnn_backward",
        "test_rnn_backward",
        _BACKWARD,
        "    grads = {",
        "    return autograd_rnn_gradients(\n"
        '        {"x": x, "h0": h0, "W_ih": W_ih, "W_hh": W_hh, "b": torch.zeros_like(W_hh[0])},'
        "\n        dhs,\n    )\n    grads = {",
        "your rnn_backward calls autograd; compute the gradients by hand",
    ),
]

CLIP_MISTAKES = [
    edited(
        "clip_each_tensor",
        "clip_by_global_norm",
        "test_clip",
        _CLIP,
        """    scale = max_norm / (norm + 1e-6)
    if scale < 1:
        for t in tensors:
            t.mul_(scale)""",
        """    for t in tensors:
        scale = max_norm / (t.norm() + 1e-6)
        if scale < 1:
            t.mul_(scale)""",
        "each tensor is clipped on its own, which changes the direction; use one global factor",
    ),
    edited(
        "clip_scales_up",
        "clip_by_global_norm",
        "test_clip",
        _CLIP,
        "    if scale < 1:\n        for t",
        "    if True:\n        for t",
        "gradients with a norm below max_norm must stay as they are, not be scaled up",
    ),
    edited(
        "clip_returns_clipped_norm",
        "clip_by_global_norm",
        "test_clip",
        _CLIP,
        "    return norm",
        "    return torch.sqrt(sum((t**2).sum() for t in tensors))",
        "return the norm measured before clipping, as clip_grad_norm_ does",
    ),
    edited(
        "clip_not_in_place",
        "clip_by_global_norm",
        "test_clip",
        _CLIP,
        "            t.mul_(scale)",
        "            t = t * scale",
        "t = t * scale makes a new tensor and leaves the gradient unchanged; use t.mul_(scale)",
    ),
    edited(
        "clip_rebinds_the_list",
        "clip_by_global_norm",
        "test_clip",
        _CLIP,
        "        for t in tensors:\n            t.mul_(scale)",
        "        for i, t in enumerate(tensors):\n            tensors[i] = t * scale",
        "tensors[i] = t * scale puts new tensors in the list and leaves the caller's "
        "gradients unclipped; scale each tensor in place: t.mul_(scale)",
    ),
    edited(
        "clip_max_abs",
        "clip_by_global_norm",
        "test_clip",
        _CLIP,
        "torch.sqrt(sum((t**2).sum() for t in tensors))",
        "max(t.abs().max() for t in tensors)",
        "the global norm is the L2 norm of all entries together, not the largest entry",
    ),
    edited(
        "clip_sum_of_norms",
        "clip_by_global_norm",
        "test_clip",
        _CLIP,
        "torch.sqrt(sum((t**2).sum() for t in tensors))",
        "sum(t.norm() for t in tensors)",
        "the global norm is sqrt of the sum of squared norms, not the sum of the norms",
    ),
    edited(
        "clip_nan_for_zero_gradients",
        "clip_by_global_norm",
        "test_clip",
        _CLIP,
        """    scale = max_norm / (norm + 1e-6)
    if scale < 1:
        for t in tensors:
            t.mul_(scale)""",
        """    for t in tensors:
        t.mul_(norm.clamp(max=max_norm) / norm)""",
        "with all-zero gradients your factor is 0 / 0 = nan; add a small epsilon as "
        "clip_grad_norm_ does",
    ),
]

TBPTT_MISTAKES = [
    edited(
        "tbptt_no_detach",
        "train_tbptt",
        "test_tbptt",
        _TBPTT,
        "        h = h.detach()\n",
        "",
        "the carried state is not detached, so the second backward() runs into the first "
        "chunk's freed graph",
    ),
    edited(
        "tbptt_restarts_state",
        "train_tbptt",
        "test_tbptt",
        _TBPTT,
        "prediction, h = model(x[:, start : start + chunk_len], h)",
        "prediction, h_new = model(x[:, start : start + chunk_len], h)",
        "the new state is never carried into the next chunk: every chunk starts from the "
        "initial state",
    ),
    edited(
        "tbptt_no_zero_grad",
        "train_tbptt",
        "test_tbptt",
        _TBPTT,
        "        optimizer.zero_grad()\n",
        "",
        "without optimizer.zero_grad() each chunk's gradients are added to the previous ones",
    ),
    edited(
        "tbptt_clip_before_backward",
        "train_tbptt",
        "test_tbptt",
        _TBPTT,
        """        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)""",
        """        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        loss.backward()""",
        "clipping before backward() clips gradients that have not been computed yet",
    ),
    edited(
        "tbptt_no_clipping",
        "train_tbptt",
        "test_tbptt",
        _TBPTT,
        "        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n",
        "",
        "the gradients are never clipped",
    ),
    edited(
        "tbptt_step_before_clip",
        "train_tbptt",
        "test_tbptt",
        _TBPTT,
        """        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()""",
        """        optimizer.step()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)""",
        "the step uses the gradients before clipping: clip first, then step",
    ),
    edited(
        "tbptt_summed_loss",
        "train_tbptt",
        "test_tbptt",
        _TBPTT,
        "F.mse_loss(prediction, y[:, start : start + chunk_len])",
        'F.mse_loss(prediction, y[:, start : start + chunk_len], reduction="sum")',
        "the loss is the mean squared error (F.mse_loss's default), not the sum",
    ),
    edited(
        "tbptt_drops_last_chunk",
        "train_tbptt",
        "test_tbptt",
        _TBPTT,
        "range(0, x.shape[1], chunk_len)",
        "range(0, x.shape[1] - chunk_len + 1, chunk_len)",
        "the last, shorter chunk is skipped; it must be trained on too",
    ),
]

MISTAKES = CELL_MISTAKES + FORWARD_MISTAKES + BACKWARD_MISTAKES + CLIP_MISTAKES + TBPTT_MISTAKES

# Correct implementations written differently from the reference: they must keep full marks.
ALTERNATIVES = {
    "rnn_cell": """
def rnn_cell(x_t, h_prev, W_ih, W_hh, b):
    return torch.tanh(F.linear(x_t, W_ih, b) + F.linear(h_prev, W_hh))
""",
    "rnn_forward": """
def rnn_forward(x, W_ih, W_hh, b, h0=None):
    batch, time, _ = x.shape
    hs = x.new_empty(batch, time, W_ih.shape[0])
    h = torch.zeros_like(hs[:, 0]) if h0 is None else h0
    for t in range(time):
        h = rnn_cell(x[:, t, :], h, W_ih, W_hh, b)
        hs[:, t] = h
    return hs, h
""",
    "rnn_backward": """
def rnn_backward(x, h0, hs, dhs, W_ih, W_hh):
    # First every dL/da_t (the only sequential part), then all weight gradients at once.
    das = torch.zeros_like(hs)
    g = torch.zeros_like(h0)
    for t in range(x.shape[1] - 1, -1, -1):
        das[:, t] = (dhs[:, t] + g) * (1 - hs[:, t] * hs[:, t])
        g = das[:, t] @ W_hh
    h_prev = torch.cat([h0.unsqueeze(1), hs[:, :-1]], dim=1)
    return {
        "x": das @ W_ih,
        "h0": g,
        "W_ih": torch.einsum("bth,btd->hd", das, x),
        "W_hh": torch.einsum("bth,btk->hk", das, h_prev),
        "b": das.sum(dim=(0, 1)),
    }
""",
    "clip_by_global_norm": """
def clip_by_global_norm(tensors, max_norm):
    norms = torch.stack([torch.linalg.vector_norm(t) for t in tensors])
    norm = torch.linalg.vector_norm(norms)
    factor = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
    for t in tensors:
        t.mul_(factor)
    return norm
""",
    "train_tbptt": """
def train_tbptt(model, optimizer, x, y, chunk_len, max_norm, h=None):
    criterion = torch.nn.MSELoss()
    losses = []
    for x_chunk, y_chunk in zip(x.split(chunk_len, dim=1), y.split(chunk_len, dim=1)):
        prediction, h = model(x_chunk, h)
        loss = criterion(prediction, y_chunk)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss))
        h = h.detach()
    return losses, h
""",
}
