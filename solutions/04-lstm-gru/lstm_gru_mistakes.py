"""Chapter 4 (LSTM and GRU): known mistakes and correct alternatives."""

from autograder.mistakes import edited, reference

_LSTM_CELL = reference("lstm_gru", "lstm_cell")

_GRU_CELL = reference("lstm_gru", "gru_cell")

_LSTM_FORWARD = reference("lstm_gru", "lstm_forward")

_FAST = reference("lstm_gru", "fast_lstm_forward")

_BACKWARD = reference("lstm_gru", "lstm_cell_backward")


def _backward_mistake(name, correct, wrong, hint):
    return edited(
        name, "lstm_cell_backward", "test_lstm_cell_backward", _BACKWARD, correct, wrong, hint
    )


BACKWARD_MISTAKES = [
    _backward_mistake(
        "lstm_backward_tanh_derivative_of_c_itself",
        "(1 - tanh_c_new**2)",
        "(1 - (f * c + i * g) ** 2)",
        "h_new = o * tanh(c_new): its derivative with respect to c_new is "
        "o * (1 - tanh(c_new)**2), not o * (1 - c_new**2)",
    ),
    _backward_mistake(
        "lstm_backward_c_only_from_dc_new",
        "d_c_new = dc_new + dh_new * o * (1 - tanh_c_new**2)",
        "d_c_new = dc_new",
        "c_new also reaches the loss through h_new = o * tanh(c_new): add "
        "dh_new * o * (1 - tanh(c_new)**2) to dc_new",
    ),
    _backward_mistake(
        "lstm_backward_ignores_dc_new",
        "d_c_new = dc_new + dh_new * o * (1 - tanh_c_new**2)",
        "d_c_new = dh_new * o * (1 - tanh_c_new**2)",
        "dc_new, the gradient that reaches c_new from the next step, adds to the one through h_new",
    ),
    _backward_mistake(
        "lstm_backward_sigmoid_derivative_as_tanh",
        "d_c_new * g * i * (1 - i)",
        "d_c_new * g * (1 - i**2)",
        "the input gate is a sigmoid: its derivative is i * (1 - i); 1 - i**2 is tanh's",
    ),
    _backward_mistake(
        "lstm_backward_gate_order_ifog",
        "            d_c_new * i * (1 - g**2),\n            dh_new * tanh_c_new * o * (1 - o),\n",
        "            dh_new * tanh_c_new * o * (1 - o),\n            d_c_new * i * (1 - g**2),\n",
        "the gradient of the pre-activations has PyTorch's gate order i, f, g, o (candidate "
        "third, output last), like the weights' rows",
    ),
    _backward_mistake(
        "lstm_backward_forget_gate_times_new_cell",
        "d_c_new * c * f * (1 - f)",
        "d_c_new * (f * c + i * g) * f * (1 - f)",
        "the forget gate multiplies the old cell state c, so its gradient is d_c_new * c, not "
        "d_c_new * c_new",
    ),
    _backward_mistake(
        "lstm_backward_old_cell_without_forget_gate",
        '"c": d_c_new * f,',
        '"c": d_c_new,',
        "c_new = f * c + i * g: the gradient reaching the old cell state is d_c_new * f",
    ),
    _backward_mistake(
        "lstm_backward_weight_gradient_transposed",
        '"weight_ih": d_gates.T @ x,',
        '"weight_ih": x.T @ d_gates,',
        "a gradient has its parameter's shape: weight_ih is (4H, D), so its gradient is "
        "d_gates.T @ x",
    ),
    _backward_mistake(
        "lstm_backward_bias_mean_over_batch",
        "d_bias = d_gates.sum(dim=0)",
        "d_bias = d_gates.mean(dim=0)",
        "the loss adds over the batch, so the bias gradient sums the examples' gradients; a "
        "mean divides it by B",
    ),
    _backward_mistake(
        "lstm_backward_uses_autograd",
        "    d_bias = d_gates.sum(dim=0)\n",
        "    d_bias = d_gates.sum(dim=0)\n"
        "    with torch.enable_grad():\n"
        "        w = weight_ih.detach().requires_grad_()\n"
        "        a = x @ w.T + bias_ih + h @ weight_hh.T + bias_hh\n"
        "        d_w = torch.autograd.grad(a, w, d_gates)[0]\n",
        "your lstm_cell_backward calls autograd; compute the gradients by hand",
    ),
    _backward_mistake(  # autograd reached another way: torch.autograd.functional
        "lstm_backward_autograd_functional",
        "    d_bias = d_gates.sum(dim=0)\n",
        "    d_bias = d_gates.sum(dim=0)\n"
        "    torch.autograd.functional.vjp(lambda w: x @ w.T, weight_ih, d_gates)\n",
        "your lstm_cell_backward calls autograd (torch.autograd.functional); compute the "
        "gradients by hand",
    ),
]

MISTAKES = [
    # --- lstm_cell
    edited(
        "lstm_gate_order_ifog_as_iofg",
        "lstm_cell",
        "test_lstm_cell",
        _LSTM_CELL,
        "i, f, g, o = gates.chunk(4, dim=1)",
        "i, o, f, g = gates.chunk(4, dim=1)",
        "PyTorch's gate order in the weights is i, f, g, o",
    ),
    edited(
        "lstm_gate_order_ifgo_as_ifog",
        "lstm_cell",
        "test_lstm_cell",
        _LSTM_CELL,
        "i, f, g, o = gates.chunk(4, dim=1)",
        "i, f, o, g = gates.chunk(4, dim=1)",
        "PyTorch's gate order is i, f, g, o (candidate third, output last)",
    ),
    edited(
        "lstm_candidate_sigmoid",
        "lstm_cell",
        "test_lstm_cell",
        _LSTM_CELL,
        "torch.sigmoid(i) * torch.tanh(g)",
        "torch.sigmoid(i) * torch.sigmoid(g)",
        "the candidate g uses tanh (values in [-1, 1]), the gates use sigmoid",
    ),
    edited(
        "lstm_gates_tanh",
        "lstm_cell",
        "test_lstm_cell",
        _LSTM_CELL,
        "torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)",
        "torch.tanh(f) * c + torch.tanh(i) * torch.tanh(g)",
        "the gates i and f use sigmoid (values in [0, 1]), not tanh",
    ),
    edited(
        "lstm_no_forget_gate",
        "lstm_cell",
        "test_lstm_cell",
        _LSTM_CELL,
        "torch.sigmoid(f) * c + ",
        "c + ",
        "the old cell state is multiplied by the forget gate: c' = f * c + i * g",
    ),
    edited(
        "lstm_output_from_old_cell",
        "lstm_cell",
        "test_lstm_cell",
        _LSTM_CELL,
        "torch.sigmoid(o) * torch.tanh(c_new)",
        "torch.sigmoid(o) * torch.tanh(c)",
        "h' is computed from the new cell state c', not the old one",
    ),
    edited(
        "lstm_output_without_tanh",
        "lstm_cell",
        "test_lstm_cell",
        _LSTM_CELL,
        "torch.sigmoid(o) * torch.tanh(c_new)",
        "torch.sigmoid(o) * c_new",
        "h' = o * tanh(c'): the cell state goes through tanh first",
    ),
    edited(
        "lstm_missing_bias_hh",
        "lstm_cell",
        "test_lstm_cell",
        _LSTM_CELL,
        " + h @ weight_hh.T + bias_hh",
        " + h @ weight_hh.T",
        "PyTorch adds both biases, bias_ih and bias_hh",
    ),
    edited(
        "lstm_overflowing_sigmoid",
        "lstm_cell",
        "test_lstm_cell",
        _LSTM_CELL,
        "c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)",
        "sig = lambda a: torch.exp(a) / (1 + torch.exp(a))  # noqa: E731\n"
        "    i, f, o = sig(i), sig(f), sig(o)\n"
        "    c_new = f * c + i * torch.tanh(g)",
        "exp(a) / (1 + exp(a)) overflows to inf / inf = nan for large a: use torch.sigmoid",
    ),
    # --- gru_cell
    edited(
        "gru_gate_order_swapped",
        "gru_cell",
        "test_gru_cell",
        _GRU_CELL,
        "r = torch.sigmoid(x_r + h_r)\n    z = torch.sigmoid(x_z + h_z)",
        "r = torch.sigmoid(x_z + h_z)\n    z = torch.sigmoid(x_r + h_r)",
        "PyTorch's GRU gate order in the weights is r, z, n",
    ),
    edited(
        "gru_update_swapped",
        "gru_cell",
        "test_gru_cell",
        _GRU_CELL,
        "(1 - z) * n + z * h",
        "z * n + (1 - z) * h",
        "in PyTorch, z is how much of the old state is kept: h' = (1 - z) * n + z * h",
    ),
    edited(
        "gru_reset_before_matmul",
        "gru_cell",
        "test_gru_cell",
        _GRU_CELL,
        "n = torch.tanh(x_n + r * h_n)",
        "W_hn, b_hn = weight_hh[2 * h.shape[1] :], bias_hh[2 * h.shape[1] :]\n"
        "    n = torch.tanh(x_n + (r * h) @ W_hn.T + b_hn)",
        "PyTorch applies the reset gate after the multiply: r * (W_hn h + b_hn), not "
        "W_hn (r * h) as in the original paper",
    ),
    edited(
        "gru_reset_outside_bias",
        "gru_cell",
        "test_gru_cell",
        _GRU_CELL,
        "n = torch.tanh(x_n + r * h_n)",
        "b_hn = bias_hh[2 * h.shape[1] :]\n    n = torch.tanh(x_n + r * (h_n - b_hn) + b_hn)",
        "the reset gate multiplies the recurrent bias too: r * (W_hn h + b_hn)",
    ),
    edited(
        "gru_candidate_sigmoid",
        "gru_cell",
        "test_gru_cell",
        _GRU_CELL,
        "n = torch.tanh(x_n + r * h_n)",
        "n = torch.sigmoid(x_n + r * h_n)",
        "the candidate n uses tanh",
    ),
    edited(
        "gru_missing_bias_hh",
        "gru_cell",
        "test_gru_cell",
        _GRU_CELL,
        "(h @ weight_hh.T + bias_hh)",
        "(h @ weight_hh.T)",
        "PyTorch adds both biases, bias_ih and bias_hh",
    ),
    # --- lstm_forward (graded with a correct lstm_cell)
    edited(
        "forward_reverse_not_rereversed",
        "lstm_forward",
        "test_lstm_forward",
        _LSTM_FORWARD,
        "outputs[t] = torch.where",
        "outputs[steps - 1 - t] = torch.where",
        "the backward direction's output at step t goes to position t: put it back in time order",
    ),
    edited(
        "forward_padding_enters_state",
        "lstm_forward",
        "test_lstm_forward",
        _LSTM_FORWARD,
        "h, c = torch.where(real, h_t, h), torch.where(real, c_t, c)",
        "h, c = h_t, c_t",
        "at padded steps keep the state unchanged: padding must not reach h_n, nor the "
        "backward direction, which starts at each sequence's last real step",
    ),
    edited(
        "forward_padding_in_output",
        "lstm_forward",
        "test_lstm_forward",
        _LSTM_FORWARD,
        "outputs[t] = torch.where(real, h_t, torch.zeros_like(h_t))",
        "outputs[t] = h_t",
        "the output is zero at padded steps, as pad_packed_sequence returns it",
    ),
    edited(
        "forward_next_layer_reads_forward_only",
        "lstm_forward",
        "test_lstm_forward",
        _LSTM_FORWARD,
        "layer_input = torch.cat(direction_outputs, dim=2)",
        "layer_input = direction_outputs[0] if layer < num_layers - 1 else "
        "torch.cat(direction_outputs, dim=2)",
        "the next layer reads both directions' outputs, concatenated",
    ),
    edited(
        "forward_state_order",
        "lstm_forward",
        "test_lstm_forward",
        _LSTM_FORWARD,
        "k = layer * directions + direction",
        "k = direction * num_layers + layer",
        "h_0 and h_n are ordered layer 0 forward, layer 0 backward, layer 1 forward, ...",
    ),
    edited(
        "forward_cell_state_not_carried",
        "lstm_forward",
        "test_lstm_forward",
        _LSTM_FORWARD,
        "torch.where(real, c_t, c)",
        "c",
        "carry the cell state c from step to step, as well as h",
    ),
    edited(
        "forward_zeros_on_cpu",
        "lstm_forward",
        "test_lstm_forward",
        _LSTM_FORWARD,
        "h = c = x.new_zeros(batch, hidden)",
        "h = c = torch.zeros(batch, hidden)",
        "create the initial state on x's device and in x's dtype (x.new_zeros)",
    ),
    edited(
        "forward_ignores_state",
        "lstm_forward",
        "test_lstm_forward",
        _LSTM_FORWARD,
        "if state is None:",
        "if True:",
        "start from the given state (h_0, c_0) when there is one",
    ),
    edited(
        "forward_reverse_uses_forward_weights",
        "lstm_forward",
        "test_lstm_forward",
        _LSTM_FORWARD,
        '("_reverse" if direction == 1 else "")',
        '""',
        "the backward direction has its own weights, named ..._reverse",
    ),
    edited(
        "forward_detached_state",
        "lstm_forward",
        "test_lstm_forward",
        _LSTM_FORWARD,
        "h, c = torch.where(real, h_t, h), torch.where(real, c_t, c)",
        "h, c = torch.where(real, h_t, h).detach(), torch.where(real, c_t, c).detach()",
        "do not detach the state inside a sequence: gradients must flow through every step",
    ),
    edited(
        "forward_mask_on_cpu",
        "lstm_forward",
        "test_lstm_forward",
        _LSTM_FORWARD,
        "lengths = torch.as_tensor(lengths).to(x.device)",
        "lengths = torch.as_tensor(lengths)",
        "move the lengths to x's device before building the mask",
    ),
    # --- fast_lstm_forward
    edited(
        "fast_projection_in_loop",
        "fast_lstm_forward",
        "test_fast_lstm",
        _FAST,
        "(step + h @ weight_hh.T)",
        "(x[:, len(outputs)] @ weight_ih.T + bias_ih + bias_hh + h @ weight_hh.T)",
        "compute the input projection of all steps before the loop, in one multiply",
    ),
    edited(
        "fast_gates_unfused",
        "fast_lstm_forward",
        "test_fast_lstm",
        _FAST,
        "(step + h @ weight_hh.T).chunk(4, dim=1)",
        "(step + torch.cat([h @ w.T for w in weight_hh.chunk(4)], dim=1)).chunk(4, dim=1)",
        "multiply h by the whole weight_hh once per step, for all four gates at once",
    ),
    edited(
        "fast_missing_bias_hh",
        "fast_lstm_forward",
        "test_fast_lstm",
        _FAST,
        "(bias_ih + bias_hh)",
        "bias_ih",
        "add both biases to the projection: bias_ih + bias_hh",
    ),
    edited(
        "fast_cell_not_carried",
        "fast_lstm_forward",
        "test_fast_lstm",
        _FAST,
        "c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)",
        "c = torch.sigmoid(f) * c0 + torch.sigmoid(i) * torch.tanh(g)",
        "carry the cell state: each step starts from the previous step's c, not from c0",
    ),
    edited(
        "fast_batch_major_stack",
        "fast_lstm_forward",
        "test_fast_lstm",
        _FAST,
        "torch.stack(outputs, dim=1)",
        "torch.stack(outputs, dim=0)",
        "stack the outputs along the time dimension: shape (B, T, H)",
    ),
    edited(
        "fast_update_sample_by_sample",
        "fast_lstm_forward",
        "test_fast_lstm",
        _FAST,
        "c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)\n"
        "        h = torch.sigmoid(o) * torch.tanh(c)",
        "c = torch.stack([torch.sigmoid(f[b]) * c[b] + torch.sigmoid(i[b]) * torch.tanh(g[b])\n"
        "                         for b in range(len(c))])\n"
        "        h = torch.stack([torch.sigmoid(o[b]) * torch.tanh(c[b]) for b in range(len(c))])",
        "update c and h for the whole batch at once, not sample by sample: in a small LSTM "
        "each torch call costs far more than its arithmetic",
    ),
    edited(
        "fast_iterates_over_batch",
        "fast_lstm_forward",
        "test_fast_lstm",
        _FAST,
        "x.transpose(0, 1) @ weight_ih.T",
        "x @ weight_ih.T",
        "iterating over a (B, T, 4H) tensor walks the batch, not time: make it time-major "
        "(T, B, 4H) first",
    ),
] + BACKWARD_MISTAKES


ALTERNATIVES = {
    "lstm_cell_backward": """
def lstm_cell_backward(dh_new, dc_new, x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    hidden = h.shape[1]
    a = torch.addmm(bias_ih, x, weight_ih.t()) + torch.addmm(bias_hh, h, weight_hh.t())
    i, f, o = (torch.sigmoid(a[:, k * hidden : (k + 1) * hidden]) for k in (0, 1, 3))
    g = torch.tanh(a[:, 2 * hidden : 3 * hidden])
    c_new = f * c + i * g
    d_o = dh_new * torch.tanh(c_new)
    d_c = dc_new + dh_new * o * (1 - torch.tanh(c_new) ** 2)
    d_a = torch.empty_like(a)
    d_a[:, :hidden] = d_c * g * torch.sigmoid(a[:, :hidden]) * torch.sigmoid(-a[:, :hidden])
    d_a[:, hidden : 2 * hidden] = d_c * c * f * (1 - f)
    d_a[:, 2 * hidden : 3 * hidden] = d_c * i / torch.cosh(a[:, 2 * hidden : 3 * hidden]) ** 2
    d_a[:, 3 * hidden :] = d_o * o * (1 - o)
    d_bias = torch.einsum("bk->k", d_a)
    grads = {"gates": d_a, "c": d_c * f, "bias_ih": d_bias, "bias_hh": d_bias.clone()}
    grads["x"] = torch.einsum("bk,kd->bd", d_a, weight_ih)
    grads["h"] = torch.einsum("bk,kd->bd", d_a, weight_hh)
    grads["weight_ih"] = torch.einsum("bk,bd->kd", d_a, x)
    grads["weight_hh"] = torch.einsum("bk,bd->kd", d_a, h)
    return grads
""",
    "lstm_cell": """
def lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    H = h.shape[1]
    a = torch.addmm(bias_ih, x, weight_ih.t()) + torch.addmm(bias_hh, h, weight_hh.t())
    i = torch.sigmoid(a[:, :H])
    f = torch.sigmoid(a[:, H : 2 * H])
    g = torch.tanh(a[:, 2 * H : 3 * H])
    o = torch.sigmoid(a[:, 3 * H :])
    c = f * c + i * g
    return o * torch.tanh(c), c
""",
    "gru_cell": """
def gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    H = h.shape[1]
    gi = torch.nn.functional.linear(x, weight_ih, bias_ih)
    gh = torch.nn.functional.linear(h, weight_hh, bias_hh)
    r = torch.sigmoid(gi[:, :H] + gh[:, :H])
    z = torch.sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = torch.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    return n + z * (h - n)
""",
    "lstm_forward": """
def lstm_forward(x, lengths, params, num_layers=1, bidirectional=False, state=None):
    B, T, _ = x.shape
    H = params["weight_hh_l0"].shape[1]
    dirs = 2 if bidirectional else 1
    lengths = [int(n) for n in lengths]
    inp, hs, cs = x, [], []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            s = f"_l{layer}" + ("_reverse" if d else "")
            w = (params["weight_ih" + s], params["weight_hh" + s])
            b = (params["bias_ih" + s], params["bias_hh" + s])
            k = layer * dirs + d
            out = []
            h_last, c_last = [], []
            for i in range(B):  # one sequence at a time, only its real steps
                h = x.new_zeros(1, H) if state is None else state[0][k][i : i + 1]
                c = x.new_zeros(1, H) if state is None else state[1][k][i : i + 1]
                seq = inp[i, : lengths[i]]
                if d:
                    seq = seq.flip(0)
                rows = []
                for t in range(lengths[i]):
                    h, c = lstm_cell(seq[t : t + 1], h, c, w[0], w[1], b[0], b[1])
                    rows.append(h)
                rows = torch.cat(rows)
                if d:
                    rows = rows.flip(0)
                pad = x.new_zeros(T - lengths[i], H)
                out.append(torch.cat([rows, pad]))
                h_last.append(h)
                c_last.append(c)
            outs.append(torch.stack(out))
            hs.append(torch.cat(h_last))
            cs.append(torch.cat(c_last))
        inp = torch.cat(outs, dim=-1)
    return inp, (torch.stack(hs), torch.stack(cs))
""",
    "fast_lstm_forward": """
def fast_lstm_forward(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh):
    B, T, D = x.shape
    H = h0.shape[1]
    pre = torch.addmm(bias_ih + bias_hh, x.reshape(B * T, D), weight_ih.t()).view(B, T, 4 * H)
    h, c = h0, c0
    out = x.new_empty(B, T, H)
    for t in range(T):
        gates = torch.addmm(pre[:, t], h, weight_hh.t())
        i, f, g, o = gates.sigmoid(), gates.sigmoid(), gates.tanh(), gates.sigmoid()
        c = f[:, H : 2 * H] * c + i[:, :H] * g[:, 2 * H : 3 * H]
        h = o[:, 3 * H :] * torch.tanh(c)
        out[:, t] = h
    return out, (h, c)
""",
}
