"""Chapter 6 (the Clockwork RNN): known mistakes and correct alternatives."""

from autograder.mistakes import edited, reference

_MASK = reference("clockwork", "clockwork_mask")

_ACTIVE = reference("clockwork", "active_modules")

_STEP = reference("clockwork", "clockwork_step")

_FORWARD = reference("clockwork", "clockwork_forward")

_COSTS = reference("clockwork", "recurrent_costs")

MISTAKES = [
    edited(
        "mask_fast_feeds_slow",
        "clockwork_mask",
        "test_mask",
        _MASK,
        "module_of[:, None] <= module_of[None, :]",
        "module_of[:, None] >= module_of[None, :]",
        "a module reads from slower modules (columns to its right), so the mask is block "
        "upper-triangular, not lower",
    ),
    edited(
        "mask_no_self_connections",
        "clockwork_mask",
        "test_mask",
        _MASK,
        "module_of[:, None] <= module_of[None, :]",
        "module_of[:, None] < module_of[None, :]",
        "a module also reads from itself: the diagonal blocks are ones",
    ),
    edited(
        "mask_diagonal_blocks_only",
        "clockwork_mask",
        "test_mask",
        _MASK,
        "module_of[:, None] <= module_of[None, :]",
        "module_of[:, None] == module_of[None, :]",
        "a module reads from itself and from every slower module, not only from itself",
    ),
    edited(
        "mask_unit_triangle",
        "clockwork_mask",
        "test_mask",
        _MASK,
        "(module_of[:, None] <= module_of[None, :]).float()",
        "torch.ones(len(module_of), len(module_of), device=device).triu()",
        "the mask is triangular by blocks of modules, not unit by unit",
    ),
    edited(
        "mask_bool",
        "clockwork_mask",
        "test_mask",
        _MASK,
        "(module_of[:, None] <= module_of[None, :]).float()",
        "module_of[:, None] <= module_of[None, :]",
        "return float32 zeros and ones, so that the mask can multiply a weight matrix",
    ),
    edited(
        "active_t_from_one",
        "active_modules",
        "test_active",
        _ACTIVE,
        "t % period == 0",
        "(t + 1) % period == 0",
        "time steps are numbered from 0, and at t = 0 every module ticks",
    ),
    edited(
        "active_reversed_modulo",
        "active_modules",
        "test_active",
        _ACTIVE,
        "t % period == 0",
        "period % max(t, 1) == 0",
        "module i ticks when t mod T_i = 0 (t divisible by the period), not the other way round",
    ),
    edited(
        "active_negated",
        "active_modules",
        "test_active",
        _ACTIVE,
        "t % period == 0",
        "t % period != 0",
        "a module ticks when t mod T_i == 0, not when it is non-zero",
    ),
    edited(
        "active_ints",
        "active_modules",
        "test_active",
        _ACTIVE,
        "dtype=torch.bool",
        "dtype=torch.long",
        "return a torch.bool tensor, so that it can select rows",
    ),
    edited(
        "step_inactive_reset",
        "clockwork_step",
        "test_step",
        _STEP,
        "h_new = h.clone()",
        "h_new = torch.zeros_like(h)",
        "inactive modules keep their previous state; they are not reset to zero",
    ),
    edited(
        "step_no_bias",
        "clockwork_step",
        "test_step",
        _STEP,
        " + b[rows])",
        ")",
        "add the bias of the active rows",
    ),
    edited(
        "step_no_tanh",
        "clockwork_step",
        "test_step",
        _STEP,
        "updated = torch.tanh(",
        "updated = (",
        "the active modules' new state goes through tanh",
    ),
    edited(
        "step_computes_every_row",
        "clockwork_step",
        "test_step",
        _STEP,
        "updated = torch.tanh(x_t @ W_in[rows].T + h @ connections[rows].T + b[rows])",
        "updated = torch.tanh(x_t @ W_in.T + h @ connections.T + b)[:, rows]",
        "select the active rows before multiplying: computing every module and keeping the "
        "active ones gives the right numbers but none of the savings",
    ),
    edited(
        "step_unmasked",
        "clockwork_step",
        "test_step",
        _STEP,
        "connections = W_h * clockwork_mask(len(periods), module_size, device=h.device)"
        ".to(W_h.dtype)",
        "connections = W_h",
        "multiply W_h by the mask: a module must not read from faster modules",
    ),
    edited(
        "step_mask_through_data",
        "clockwork_step",
        "test_step",
        _STEP,
        "connections = W_h * clockwork_mask(len(periods), module_size, device=h.device)"
        ".to(W_h.dtype)",
        "connections = W_h.clone()\n"
        "    connections.data *= clockwork_mask(len(periods), module_size).to(W_h.dtype)",
        "mask with a multiplication autograd sees: through .data the forward pass is masked "
        "but the masked weights still get gradients, and an optimizer changes them",
    ),
    edited(
        "step_mask_without_gradient",
        "clockwork_step",
        "test_step",
        _STEP,
        "connections = W_h * clockwork_mask(len(periods), module_size, device=h.device)"
        ".to(W_h.dtype)",
        "with torch.no_grad():\n"
        "        connections = W_h * clockwork_mask(len(periods), module_size).to(W_h.dtype)",
        "do not mask under torch.no_grad(): W_h would get no gradient at all",
    ),
    edited(
        "step_in_place_on_h",
        "clockwork_step",
        "test_step",
        _STEP,
        "h_new = h.clone()",
        "h_new = h",
        "do not write into h: clone it first (the caller still needs the old state)",
    ),
    edited(
        "step_active_from_t_plus_one",
        "clockwork_step",
        "test_step",
        _STEP,
        "active_modules(t, periods)",
        "active_modules(t + 1, periods)",
        "use the step number t as given: at t = 0 every module ticks",
    ),
    edited(
        "forward_t_from_one",
        "clockwork_forward",
        "test_forward",
        _FORWARD,
        "h = clockwork_step(x[:, t], h, t, W_in, W_h, b, periods)",
        "h = clockwork_step(x[:, t], h, t + 1, W_in, W_h, b, periods)",
        "number the steps from 0: the first step is t = 0",
    ),
    edited(
        "forward_no_state_carry",
        "clockwork_forward",
        "test_forward",
        _FORWARD,
        "h = clockwork_step(x[:, t], h, t,",
        "h = clockwork_step(x[:, t], h0, t,",
        "each step starts from the state the previous step returned, not from h0",
    ),
    edited(
        "forward_time_first",
        "clockwork_forward",
        "test_forward",
        _FORWARD,
        "torch.stack(states, dim=1)",
        "torch.stack(states, dim=0)",
        "stack the states along the time dimension: shape (B, T, N)",
    ),
    edited(
        "forward_detached",
        "clockwork_forward",
        "test_forward",
        _FORWARD,
        "states.append(h)",
        "h = h.detach()\n        states.append(h)",
        "do not detach the state inside the sequence: gradients flow through every step",
    ),
    edited(
        "costs_dense",
        "recurrent_costs",
        "test_costs",
        _COSTS,
        "reads = [k * (g - i) for i in range(g)]",
        "reads = [k * g for i in range(g)]",
        "module i reads only itself and the slower modules: k * (g - i) units, not all N",
    ),
    edited(
        "costs_ignore_periods",
        "recurrent_costs",
        "test_costs",
        _COSTS,
        "k * r / period",
        "k * r",
        "module i's rows are computed only at one step in T_i: divide its cost by T_i",
    ),
    edited(
        "costs_reversed_reads",
        "recurrent_costs",
        "test_costs",
        _COSTS,
        "reads = [k * (g - i) for i in range(g)]",
        "reads = [k * (i + 1) for i in range(g)]",
        "the fastest module (period T_0) reads the most units: itself and all slower ones",
    ),
]


ALTERNATIVES = {
    "clockwork_mask": """
def clockwork_mask(n_modules, module_size, device="cpu"):
    blocks = torch.ones(n_modules, n_modules, device=device).triu()
    return torch.kron(blocks, torch.ones(module_size, module_size, device=device))
""",
    "active_modules": """
def active_modules(t, periods):
    return torch.remainder(torch.tensor(t), torch.as_tensor(periods)) == 0
""",
    "clockwork_step": """
def clockwork_step(x_t, h, t, W_in, W_h, b, periods):
    k = h.shape[1] // len(periods)
    ticking = torch.nonzero(active_modules(t, periods)).flatten().tolist()
    index = torch.tensor(
        [i * k + u for i in ticking for u in range(k)], dtype=torch.long, device=h.device
    )
    W_h = W_h * clockwork_mask(len(periods), k, device=h.device).to(W_h.dtype)
    rows = torch.index_select(W_in, 0, index), torch.index_select(W_h, 0, index)
    new = torch.tanh(torch.addmm(b[index], x_t, rows[0].T) + h @ rows[1].T)
    return h.index_copy(1, index, new)
""",
    "clockwork_forward": """
def clockwork_forward(x, h0, W_in, W_h, b, periods):
    out = []
    for t, x_t in enumerate(x.unbind(1)):
        h0 = clockwork_step(x_t, h0, t, W_in, W_h, b, periods)
        out.append(h0)
    return torch.stack(out, 1)
""",
    "recurrent_costs": """
def recurrent_costs(n_modules, module_size, periods):
    weights, per_step = 0, 0.0
    for i in range(n_modules):
        row_block = module_size * module_size * (n_modules - i)
        weights += row_block
        per_step += row_block / periods[i]
    return weights, per_step
""",
}
