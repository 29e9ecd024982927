"""Chapter 1 (activation functions): known mistakes and correct alternatives."""

from autograder.mistakes import Mistake, edited, reference

# A correct manual backward pass; several mistakes below differ from it in one line.
_BACKPROP = reference("activations", "gradient_norms_by_hand")


MISTAKES = [
    Mistake(
        "step_returns_bool",
        "step",
        "test_step",
        """
def step(x):
    return x > 0
""",
        "your step returns a bool tensor; convert it to the input's dtype with .to(x.dtype)",
    ),
    Mistake(
        "step_one_at_zero",
        "step",
        "test_step",
        """
def step(x):
    return (x >= 0).to(x.dtype)
""",
        "your step gives 1 at x = 0; this course (like torch.heaviside(x, 0)) uses step(0) = 0",
    ),
    Mistake(
        "sigmoid_naive_ratio",
        "sigmoid",
        "test_sigmoid",
        """
def sigmoid(x):
    e = torch.exp(x)
    return e / (1 + e)
""",
        "your sigmoid computes exp(x) for large positive x, which overflows to inf and gives "
        "inf / inf = nan; only ever exponentiate -|x|",
    ),
    Mistake(
        "sigmoid_builtin",
        "sigmoid",
        "test_sigmoid",
        """
def sigmoid(x):
    return torch.sigmoid(x)
""",
        "your sigmoid calls torch.sigmoid; build it from exp and arithmetic",
    ),
    Mistake(
        "sigmoid_casts_to_float32",
        "sigmoid",
        "test_sigmoid",
        """
def sigmoid(x):
    x = x.float()
    z = torch.exp(-x.abs())
    return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))
""",
        "your sigmoid returns float32 for a float64 input; keep the input's dtype",
    ),
    Mistake(
        "sigmoid_in_place",
        "sigmoid",
        "test_sigmoid",
        """
def sigmoid(x):
    z = x.abs_().neg_().exp_()
    return torch.where(x <= 0, 1 / (1 + z), z / (1 + z))
""",
        "your sigmoid modifies its input in place (a method ending in _); compute into new tensors",
    ),
    Mistake(
        "sigmoid_grad_naive",
        "sigmoid_grad",
        "test_sigmoid",
        """
def sigmoid_grad(x):
    e = torch.exp(-x)
    return e / (1 + e) ** 2
""",
        "your sigmoid_grad computes exp(-x), which overflows for large negative x; use the "
        "identity for the derivative given above, with your stable sigmoid",
    ),
    Mistake(
        "sigmoid_grad_of_preactivation",
        "sigmoid_grad",
        "test_sigmoid",
        """
def sigmoid_grad(x):
    return x * (1 - x)
""",
        "your sigmoid_grad applies s(1 - s) to x itself; s must be sigmoid(x)",
    ),
    Mistake(
        "tanh_naive",
        "tanh",
        "test_tanh",
        """
def tanh(x):
    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))
""",
        "your tanh computes exp(x) and exp(-x), one of which overflows for large |x|; use "
        "tanh(-x) = -tanh(x) and only exponentiate -2|x|",
    ),
    Mistake(
        "tanh_sign_on_cpu",
        "tanh",
        "test_tanh",
        """
def tanh(x):
    sign = torch.ones(x.shape, dtype=x.dtype)
    sign[x < 0] = -1
    z = torch.exp(-2 * x.abs())
    return sign * (1 - z) / (1 + z)
""",
        "your tanh creates a tensor with torch.ones(shape) on the CPU; on a GPU input it fails "
        "(use torch.ones_like(x) or torch.sign(x))",
    ),
    Mistake(
        "tanh_grad_of_preactivation",
        "tanh_grad",
        "test_tanh",
        """
def tanh_grad(x):
    return 1 - x ** 2
""",
        "your tanh_grad applies 1 - t^2 to x itself; t must be tanh(x)",
    ),
    Mistake(
        "relu_grad_one_at_zero",
        "relu_grad",
        "test_relu",
        """
def relu_grad(x):
    return (x >= 0).to(x.dtype)
""",
        "your relu_grad gives 1 at x = 0; PyTorch's convention (and this exercise's) is 0",
    ),
    Mistake(
        "relu_zeros_on_cpu",
        "relu",
        "test_relu",
        """
def relu(x):
    return torch.maximum(x, torch.zeros(x.shape, dtype=x.dtype))
""",
        "your relu compares with torch.zeros(shape), which lives on the CPU; use "
        "torch.zeros_like(x)",
    ),
    Mistake(
        "relu_builtin",
        "relu",
        "test_relu",
        """
def relu(x):
    return torch.nn.functional.relu(x)
""",
        "your relu calls F.relu; build it from where or clamp",
    ),
    Mistake(
        "leaky_relu_ignores_slope",
        "leaky_relu",
        "test_leaky_relu",
        """
def leaky_relu(x, slope=0.01):
    return torch.where(x > 0, x, 0.01 * x)
""",
        "your leaky_relu always uses the slope 0.01; use the `slope` argument",
    ),
    Mistake(
        "leaky_relu_grad_default_dtype",
        "leaky_relu_grad",
        "test_leaky_relu",
        """
def leaky_relu_grad(x, slope=0.01):
    return torch.where(x > 0, 1.0, slope)
""",
        "your leaky_relu_grad builds its result from Python numbers, so it has PyTorch's "
        "default dtype (float32), not the input's; use torch.ones_like / torch.full_like",
    ),
    Mistake(
        "softplus_naive",
        "softplus",
        "test_softplus",
        """
def softplus(x):
    return torch.log(1 + torch.exp(x))
""",
        "your softplus computes exp(x), which overflows for large x; split off the part "
        "that grows with x, so that exp only ever sees -|x|",
    ),
    Mistake(
        "logsumexp_naive",
        "logsumexp",
        "test_logsumexp",
        """
def logsumexp(x, dim=-1):
    return torch.log(torch.exp(x).sum(dim=dim))
""",
        "your logsumexp exponentiates x directly, which overflows; subtract the maximum first",
    ),
    Mistake(
        "logsumexp_keeps_dim",
        "logsumexp",
        "test_logsumexp",
        """
def logsumexp(x, dim=-1):
    m = x.amax(dim=dim, keepdim=True)
    return m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))
""",
        "your logsumexp keeps the reduced dimension (size 1); remove it with squeeze(dim)",
    ),
    Mistake(
        "logsumexp_forgets_max",
        "logsumexp",
        "test_logsumexp",
        """
def logsumexp(x, dim=-1):
    m = x.amax(dim=dim, keepdim=True)
    return torch.log(torch.exp(x - m).sum(dim=dim))
""",
        "your logsumexp subtracts the maximum but never adds it back",
    ),
    edited(
        "backprop_grad_at_activation",
        "gradient_norms_by_hand",
        "test_backprop",
        _BACKPROP,
        "activation_grad(z)",
        "activation_grad(activation(z))",
        "your backward pass evaluates f' at the layer's output h_l; it must be at the "
        "pre-activation z_l",
    ),
    edited(
        "backprop_reversed_order",
        "gradient_norms_by_hand",
        "test_backprop",
        _BACKPROP,
        "torch.stack(norms[::-1])",
        "torch.stack(norms)",
        "your norms come out last layer first; return them in layer order 1..L",
    ),
    edited(
        "backprop_transposed_weight",
        "gradient_norms_by_hand",
        "test_backprop",
        _BACKPROP,
        "g = delta @ w\n",
        "g = delta @ w.T\n",
        "your backward pass multiplies by W_l transposed; dL/dh_{l-1} = dL/dz_l @ W_l",
    ),
    edited(
        "backprop_ones_on_cpu",
        "gradient_norms_by_hand",
        "test_backprop",
        _BACKPROP,
        "g = torch.ones_like(hs[-1])",
        "g = torch.ones(hs[-1].shape, dtype=x.dtype)",
        "your backward pass starts from torch.ones(shape) on the CPU; use torch.ones_like",
    ),
    edited(
        "backprop_forgets_activation_grad",
        "gradient_norms_by_hand",
        "test_backprop",
        _BACKPROP,
        "delta = g * activation_grad(z)",
        "delta = g",
        "your backward pass skips the activation's derivative f'(z_l)",
    ),
]

# Correct implementations written differently from the reference: they must keep full marks.
ALTERNATIVES = {
    "step": """
def step(x):
    return torch.where(x > 0, torch.ones_like(x), torch.zeros_like(x))
""",
    "sigmoid": """
def sigmoid(x):
    # sigmoid(x) = exp(-log(1 + e^{-x})), with torch's stable logaddexp.
    return torch.exp(-torch.logaddexp(torch.zeros_like(x), -x))
""",
    "tanh": """
def tanh(x):
    # tanh(x) = 2 sigmoid(2x) - 1, with the student's own stable sigmoid.
    return 2 * sigmoid(2 * x) - 1
""",
    "relu": """
def relu(x):
    return x.clamp(min=0)
""",
    "leaky_relu": """
def leaky_relu(x, slope=0.01):
    return torch.maximum(x, slope * x)
""",
    "leaky_relu_grad": """
def leaky_relu_grad(x, slope=0.01):
    grad = torch.ones_like(x)
    grad[x <= 0] = slope
    return grad
""",
    "softplus": """
def softplus(x):
    return torch.where(x > 0, x + torch.log1p(torch.exp(-x)), torch.log1p(torch.exp(x)))
""",
    "logsumexp": """
def logsumexp(x, dim=-1):
    m = x.max(dim=dim).values
    return m + torch.log(torch.sum(torch.exp(x - m.unsqueeze(dim)), dim=dim))
""",
    "gradient_norms_by_hand": """
def gradient_norms_by_hand(x, weights, activation, activation_grad):
    inputs, pre = [], []
    h = x
    for w in weights:
        inputs.append(h)
        pre.append(h @ w.T)
        h = activation(pre[-1])
    norms = [None] * len(weights)
    g = torch.ones_like(h)
    for layer in range(len(weights) - 1, -1, -1):
        delta = g * activation_grad(pre[layer])
        norms[layer] = torch.linalg.matrix_norm(delta.T @ inputs[layer])
        g = delta @ weights[layer]
    return torch.stack(norms)
""",
}
