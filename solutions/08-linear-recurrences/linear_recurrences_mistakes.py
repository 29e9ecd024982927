"""Chapter 8 (linear recurrences, the parallel scan, minGRU): known mistakes and correct
alternatives."""

from autograder.mistakes import Mistake, edited, reference

_RECURRENCE = reference("linear_recurrences", "linear_recurrence")

_SCAN = reference("linear_recurrences", "parallel_scan")

_LOG_SCAN = reference("linear_recurrences", "log_space_scan")

_BACKWARD = reference("linear_recurrences", "scan_backward")

_STEP = reference("linear_recurrences", "min_gru_step")

_MIN_GRU = reference("linear_recurrences", "min_gru")

_B_PASS = "b = torch.cat([b[:, :shift], a[:, shift:] * b[:, :-shift] + b[:, shift:]], dim=1)"
_A_PASS = "a = torch.cat([a[:, :shift], a[:, shift:] * a[:, :-shift]], dim=1)"

MISTAKES = [
    # linear_recurrence
    edited(
        "recurrence_h0_dropped",
        "linear_recurrence",
        "test_recurrence",
        _RECURRENCE,
        "h, states = h0, []",
        "h, states = torch.zeros_like(h0), []",
        "the first state is h_1 = a_1 h0 + b_1: start from h0, not from zeros",
    ),
    edited(
        "recurrence_returns_previous_states",
        "linear_recurrence",
        "test_recurrence",
        _RECURRENCE,
        "h = a[:, t] * h + b[:, t]\n        states.append(h)",
        "states.append(h)\n        h = a[:, t] * h + b[:, t]",
        "return h_1, ..., h_T: append each state after its update (yours start with h0 and "
        "miss h_T)",
    ),
    edited(
        "recurrence_convex_combination",
        "linear_recurrence",
        "test_recurrence",
        _RECURRENCE,
        "a[:, t] * h + b[:, t]",
        "a[:, t] * h + (1 - a[:, t]) * b[:, t]",
        "b_t is added as it is, h_t = a_t h_{t-1} + b_t; (1 - a_t) belongs to minGRU's b_t, "
        "which is built before the scan",
    ),
    Mistake(
        "recurrence_buffer_float32_on_cpu",
        "linear_recurrence",
        "test_recurrence",
        """
def linear_recurrence(a, b, h0):
    states = torch.zeros(a.shape)
    h = h0
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        states[:, t] = h
    return states
""",
        "torch.zeros(a.shape) is float32 on the CPU whatever a is: make the buffer with "
        "torch.zeros_like(a), or stack the states",
    ),
    Mistake(
        "recurrence_overwrites_b",
        "linear_recurrence",
        "test_recurrence",
        """
def linear_recurrence(a, b, h0):
    b[:, 0] += a[:, 0] * h0
    for t in range(1, a.shape[1]):
        b[:, t] += a[:, t] * b[:, t - 1]
    return b
""",
        "your function writes the states into b, the caller's tensor: compute into a new one",
    ),
    # parallel_scan
    edited(
        "scan_gates_updated_before_states",
        "parallel_scan",
        "test_scan",
        _SCAN,
        f"{_B_PASS}\n        {_A_PASS}",
        f"{_A_PASS}\n        {_B_PASS}",
        "in each pass, b must combine with the gates as they were before the pass: update a "
        "after b, not before",
    ),
    edited(
        "scan_later_step_first",
        "parallel_scan",
        "test_scan",
        _SCAN,
        "a[:, shift:] * b[:, :-shift] + b[:, shift:]",
        "a[:, :-shift] * b[:, shift:] + b[:, :-shift]",
        "the earlier pair comes first: position t absorbs position t - shift as "
        "a_t * b_(t - shift) + b_t; yours applies the later step before the earlier one",
    ),
    edited(
        "scan_h0_dropped",
        "parallel_scan",
        "test_scan",
        _SCAN,
        "a[:, :1] * h0[:, None] + b[:, :1]",
        "b[:, :1]",
        "fold h0 into the first step (b_1 + a_1 h0) before the passes: your states start from 0",
    ),
    edited(
        "scan_exclusive",
        "parallel_scan",
        "test_scan",
        _SCAN,
        "return b",
        "return torch.cat([h0[:, None], b[:, :-1]], dim=1)",
        "return h_1, ..., h_T (an inclusive scan), not h_0, ..., h_(T - 1)",
    ),
    edited(
        "scan_too_few_passes",
        "parallel_scan",
        "test_scan",
        _SCAN,
        "while shift < a.shape[1]:",
        "for _ in range(int(math.log2(a.shape[1]))):",
        "when T is not a power of two, log2(T) rounded down passes are too few: keep "
        "doubling the shift while it is below T",
    ),
    edited(
        "scan_loop_over_time",
        "parallel_scan",
        "test_scan",
        _RECURRENCE,  # the step-by-step reference, under the scan's name
        "def linear_recurrence(",
        "def parallel_scan(",
        "a loop over time takes T sequential steps: a scan combines all positions at once, "
        "in log2(T) passes",
    ),
    Mistake(
        "scan_divides_by_cumprod",
        "parallel_scan",
        "test_scan",
        """
def parallel_scan(a, b, h0):
    products = torch.cumprod(a, dim=1)
    return products * (h0[:, None] + torch.cumsum(b / products, dim=1))
""",
        "dividing by the product a_1 ... a_t fails once it underflows to 0 (long sequences, "
        "small gates): combine pairs (a, b) instead",
    ),
    Mistake(
        "scan_passes_in_place",
        "parallel_scan",
        "test_scan",
        """
def parallel_scan(a, b, h0):
    a, b = a.clone(), b.clone()
    b[:, 0] = a[:, 0] * h0 + b[:, 0]
    shift = 1
    while shift < a.shape[1]:
        b[:, shift:] = a[:, shift:] * b[:, :-shift] + b[:, shift:]
        a[:, shift:] = a[:, shift:] * a[:, :-shift]
        shift *= 2
    return b
""",
        "writing every pass into the same tensor in place overwrites values autograd saved "
        "for the backward pass: make new tensors in each pass (torch.cat)",
    ),
    # log_space_scan
    Mistake(
        "log_scan_leaves_log_space",
        "log_space_scan",
        "test_log_scan",
        """
def log_space_scan(log_a, log_b, log_h0):
    products = torch.cumprod(log_a.exp(), dim=1)
    h = products * (log_h0.exp()[:, None] + torch.cumsum(log_b.exp() / products, dim=1))
    return h.log()
""",
        "exp of a long sum of logarithms is 0 or infinity: stay in log space (a cumsum of the "
        "logs, then logcumsumexp)",
    ),
    edited(
        "log_scan_log_of_cumsum_of_exp",
        "log_space_scan",
        "test_log_scan",
        _LOG_SCAN,
        "torch.logcumsumexp(terms, dim=1)",
        "torch.log(torch.cumsum(torch.exp(terms), dim=1))",
        "log(cumsum(exp(x))) overflows as soon as x is large: torch.logcumsumexp computes the "
        "same without leaving log space",
    ),
    edited(
        "log_scan_h0_dropped",
        "log_space_scan",
        "test_log_scan",
        _LOG_SCAN,
        "torch.logcumsumexp(terms, dim=1)[:, 1:]",
        "torch.logcumsumexp(log_b - log_products, dim=1)",
        "h0 is part of the sum: log h_t = A_t + log(h0 + sum of b_s / A_s), so log h0 comes "
        "first in the logcumsumexp",
    ),
    edited(
        "log_scan_products_one_step_short",
        "log_space_scan",
        "test_log_scan",
        _LOG_SCAN,
        "torch.cumsum(log_a, dim=1)",
        "torch.cumsum(log_a, dim=1) - log_a",
        "the product A_t = a_1 ... a_t includes a_t: an inclusive cumsum of log a",
    ),
    edited(
        "log_scan_returns_states",
        "log_space_scan",
        "test_log_scan",
        _LOG_SCAN,
        "return log_products + torch.logcumsumexp(terms, dim=1)[:, 1:]",
        "return (log_products + torch.logcumsumexp(terms, dim=1)[:, 1:]).exp()",
        "return log h_t, the logarithm of the states, not the states",
    ),
    Mistake(
        "log_scan_loop_over_time",
        "log_space_scan",
        "test_log_scan",
        """
def log_space_scan(log_a, log_b, log_h0):
    log_h, states = log_h0, []
    for t in range(log_a.shape[1]):
        log_h = torch.logaddexp(log_a[:, t] + log_h, log_b[:, t])
        states.append(log_h)
    return torch.stack(states, dim=1)
""",
        "a loop over time takes T sequential steps: cumsum and logcumsumexp give every step "
        "at once",
    ),
    # scan_backward
    edited(
        "backward_gates_not_shifted",
        "scan_backward",
        "test_backward",
        _BACKWARD,
        "a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], dim=1)",
        "a_next = a",
        "g_t collects a_(t+1) g_(t+1), the gate of the next step: shift the gates by one "
        "(and use 0 after step T)",
    ),
    edited(
        "backward_state_after_step",
        "scan_backward",
        "test_backward",
        _BACKWARD,
        "h_before = torch.cat([h0[:, None], h[:, :-1]], dim=1)",
        "h_before = h",
        "dL/da_t = g_t h_(t-1): use the state before step t (h0 for t = 1), not h_t",
    ),
    edited(
        "backward_h0_gate_forgotten",
        "scan_backward",
        "test_backward",
        _BACKWARD,
        "a[:, 0] * g[:, 0]",
        "g[:, 0]",
        "h0 reaches h_1 through a_1: dL/dh0 = a_1 g_1",
    ),
    edited(
        "backward_scanned_forward",
        "scan_backward",
        "test_backward",
        _BACKWARD,
        "parallel_scan(a_next.flip(1), grad_h.flip(1), torch.zeros_like(h0)).flip(1)",
        "parallel_scan(a_next, grad_h, torch.zeros_like(h0))",
        "gradients flow backwards in time, from step T down to 1: flip the sequences, scan, "
        "and flip the result back",
    ),
    edited(
        "backward_direct_gradients_only",
        "scan_backward",
        "test_backward",
        _BACKWARD,
        "g = parallel_scan(a_next.flip(1), grad_h.flip(1), torch.zeros_like(h0)).flip(1)",
        "g = grad_h",
        "g_t is more than the loss's direct gradient: it also collects a_(t+1) g_(t+1) from "
        "every later step, which the reverse scan adds up",
    ),
    Mistake(
        "backward_by_autograd",
        "scan_backward",
        "test_backward",
        """
def scan_backward(a, h0, h, grad_h):
    h_before = torch.cat([h0[:, None], h[:, :-1]], dim=1)
    leaves = [t.detach().requires_grad_() for t in (a, h - a * h_before, h0)]
    return torch.autograd.grad(parallel_scan(*leaves), leaves, grad_h)
""",
        "the gradients are asked from autograd, which this exercise is about replacing: "
        "compute them with the reverse scan",
    ),
    # min_gru_step
    edited(
        "step_gate_from_state",
        "min_gru_step",
        "test_step",
        _STEP,
        "torch.sigmoid(x_t @ W_z.T + b_z)",
        "torch.sigmoid(h @ W_z.T + b_z)",
        "minGRU's gate reads the input x_t only, never h_(t-1): that is what lets it train "
        "in parallel",
    ),
    edited(
        "step_gates_swapped",
        "min_gru_step",
        "test_step",
        _STEP,
        "(1 - z) * h + z * positive(x_t @ W_h.T + b_h)",
        "z * h + (1 - z) * positive(x_t @ W_h.T + b_h)",
        "z is the share of the new candidate: h_t = (1 - z) h_(t-1) + z g(h~), not the other "
        "way round",
    ),
    edited(
        "step_candidate_tanh",
        "min_gru_step",
        "test_step",
        _STEP,
        "positive(x_t @ W_h.T + b_h)",
        "torch.tanh(x_t @ W_h.T + b_h)",
        "minGRU's candidate is g(x_t W_h^T + b_h), with g = positive; the GRU's tanh is gone",
    ),
    edited(
        "step_candidate_raw",
        "min_gru_step",
        "test_step",
        _STEP,
        "positive(x_t @ W_h.T + b_h)",
        "(x_t @ W_h.T + b_h)",
        "apply g (positive) to the candidate, as the parallel mode needs positive states",
    ),
    # min_gru
    edited(
        "min_gru_log_of_gate",
        "min_gru",
        "test_min_gru",
        _MIN_GRU,
        "-F.softplus(k),\n",
        "torch.log(1 - torch.sigmoid(k)),\n",
        "1 - sigmoid(k) rounds to 0 for a large k, and log 0 is minus infinity (its gradient "
        "is not a number): log(1 - z) = -softplus(k), from k itself",
    ),
    edited(
        "min_gru_gates_swapped",
        "min_gru",
        "test_min_gru",
        _MIN_GRU,
        "-F.softplus(k),\n        -F.softplus(-k) +",
        "-F.softplus(-k),\n        -F.softplus(k) +",
        "the state keeps the share 1 - z (log: -softplus(k)) and takes z of the candidate "
        "(log: -softplus(-k)); yours swaps them",
    ),
    edited(
        "min_gru_h0_not_logged",
        "min_gru",
        "test_min_gru",
        _MIN_GRU,
        "torch.log(h0)",
        "h0",
        "the scan works on logarithms: pass log h0, not h0",
    ),
    edited(
        "min_gru_candidate_not_logged",
        "min_gru",
        "test_min_gru",
        _MIN_GRU,
        "log_positive(x @ W_h.T + b_h)",
        "positive(x @ W_h.T + b_h)",
        "log b_t = log z_t + log g(h~_t): add log_positive of the candidate, not the candidate",
    ),
    edited(
        "min_gru_returns_logs",
        "min_gru",
        "test_min_gru",
        _MIN_GRU,
        "return torch.exp(log_h)",
        "return log_h",
        "log_space_scan returns log h: return the states, torch.exp of it",
    ),
    Mistake(
        "min_gru_loop_over_time",
        "min_gru",
        "test_min_gru",
        """
def min_gru(x, h0, W_z, b_z, W_h, b_h):
    h, states = h0, []
    for t in range(x.shape[1]):
        h = min_gru_step(x[:, t], h, W_z, b_z, W_h, b_h)
        states.append(h)
    return torch.stack(states, dim=1)
""",
        "running the step T times is the sequential mode: the parallel mode computes every "
        "state at once with the scan",
    ),
]

ALTERNATIVES = {
    "linear_recurrence": """
def linear_recurrence(a, b, h0):
    states = torch.zeros_like(b)
    h = h0
    for t, (a_t, b_t) in enumerate(zip(a.unbind(1), b.unbind(1))):
        h = torch.addcmul(b_t, a_t, h)
        states[:, t] = h
    return states
""",
    "parallel_scan": """
def parallel_scan(a, b, h0):
    # An odd-even scan: combine neighbouring pairs, scan the half as long sequence of
    # pairs, then fill in the even positions from the odd ones.
    def scan(a, b):
        steps = a.shape[1]
        if steps == 1:
            return b
        n = steps // 2 * 2
        odd = scan(a[:, 1:n:2] * a[:, 0:n:2], a[:, 1:n:2] * b[:, 0:n:2] + b[:, 1:n:2])
        even = a[:, 2::2] * odd[:, : (steps - 1) // 2] + b[:, 2::2]
        out = torch.empty_like(b)
        out[:, 0] = b[:, 0]
        out[:, 1:n:2] = odd
        out[:, 2::2] = even
        return out

    first = (a[:, 0] * h0 + b[:, 0]).unsqueeze(1)
    return scan(a, torch.cat([first, b[:, 1:]], dim=1))
""",
    "log_space_scan": """
def log_space_scan(log_a, log_b, log_h0):
    log_b = torch.cat(
        [torch.logaddexp(log_a[:, :1] + log_h0.unsqueeze(1), log_b[:, :1]), log_b[:, 1:]], 1
    )
    d = 1
    while d < log_a.shape[1]:
        log_b = torch.cat(
            [log_b[:, :d], torch.logaddexp(log_a[:, d:] + log_b[:, :-d], log_b[:, d:])], 1
        )
        log_a = torch.cat([log_a[:, :d], log_a[:, d:] + log_a[:, :-d]], 1)
        d *= 2
    return log_b
""",
    "scan_backward": """
def scan_backward(a, h0, h, grad_h):
    reversed_gates = torch.cat([torch.zeros_like(a[:, -1:]), a.flip(1)[:, :-1]], 1)
    g = parallel_scan(reversed_gates, grad_h.flip(1), h0 * 0).flip(1)
    grad_a = g * torch.cat([h0.unsqueeze(1), h], 1)[:, :-1]
    return grad_a, g, (a * g)[:, 0]
""",
    "min_gru_step": """
def min_gru_step(x_t, h, W_z, b_z, W_h, b_h):
    z = torch.sigmoid(F.linear(x_t, W_z, b_z))
    return torch.lerp(h, positive(F.linear(x_t, W_h, b_h)), z)
""",
    "min_gru": """
def min_gru(x, h0, W_z, b_z, W_h, b_h):
    # In linear space: products of gates may underflow to 0, which is harmless here, as
    # nothing divides by them.
    z = torch.sigmoid(F.linear(x, W_z, b_z))
    return parallel_scan(1 - z, z * positive(F.linear(x, W_h, b_h)), h0)
""",
}
