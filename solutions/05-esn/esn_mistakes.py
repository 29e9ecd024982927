"""Chapter 5 (Echo State Networks): known mistakes and correct alternatives."""

from autograder.mistakes import edited, reference

_MACKEY_GLASS = reference("esn", "mackey_glass")

_RESERVOIR = reference("esn", "make_reservoir")

_RUN = reference("esn", "run_reservoir")

_READOUT = reference("esn", "fit_readout")

_GENERATE = reference("esn", "generate")

_NRMSE = reference("esn", "nrmse")

_FORECAST = reference("esn", "forecast")


MISTAKES = [
    edited(
        "mg_no_delay",
        "mackey_glass",
        "test_mackey_glass",
        _MACKEY_GLASS,
        "lagged, now = x[-1 - delay], x[-1]",
        "lagged, now = x[-1], x[-1]",
        "the feedback term must use the delayed value x(t - tau), not x(t)",
    ),
    edited(
        "mg_every_euler_step",
        "mackey_glass",
        "test_mackey_glass",
        _MACKEY_GLASS,
        "x[delay::per_unit]",
        "x[delay:][:n_steps]",
        "return one value per unit of time (every round(1 / dt)-th Euler step), not every step",
    ),
    edited(
        "mg_zero_history",
        "mackey_glass",
        "test_mackey_glass",
        _MACKEY_GLASS,
        "x = [x0] * (delay + 1)",
        "x = [0.0] * delay + [x0]",
        "the history x(t) for t <= 0 is x0 everywhere, not zero",
    ),
    edited(
        "mg_power_outside",
        "mackey_glass",
        "test_mackey_glass",
        _MACKEY_GLASS,
        "0.2 * lagged / (1 + lagged**10)",
        "(0.2 * lagged / (1 + lagged)) ** 10",
        "only x(t - tau) in the denominator is raised to the 10th power",
    ),
    edited(
        "reservoir_radius_from_real_part",
        "make_reservoir",
        "test_make_reservoir",
        _RESERVOIR,
        "torch.linalg.eigvals(W).abs().max()",
        "torch.linalg.eigvals(W).real.max()",
        "the spectral radius is the largest modulus |lambda| of the complex eigenvalues, "
        "not the largest real part",
    ),
    edited(
        "reservoir_radius_from_singular_value",
        "make_reservoir",
        "test_make_reservoir",
        _RESERVOIR,
        "torch.linalg.eigvals(W).abs().max()",
        "torch.linalg.matrix_norm(W, 2)",
        "you scaled by the largest singular value; the spectral radius is the largest "
        "|eigenvalue|, which is smaller for a non-symmetric W",
    ),
    edited(
        "reservoir_density_inverted",
        "make_reservoir",
        "test_make_reservoir",
        _RESERVOIR,
        "< density",
        "> density",
        "an entry is kept with probability `density`: keep it when rand < density",
    ),
    edited(
        "reservoir_global_rng",
        "make_reservoir",
        "test_make_reservoir",
        _RESERVOIR,
        "return 2 * torch.rand(shape, generator=generator, dtype=F64) - 1",
        "return 2 * torch.rand(shape, dtype=F64) - 1",
        "draw every random number from the given generator, so that a seed fixes the reservoir",
    ),
    edited(
        "reservoir_drawn_on_gpu",
        "make_reservoir",
        "test_make_reservoir",
        _RESERVOIR,
        """        return 2 * torch.rand(shape, generator=generator, dtype=F64) - 1

    W_in = input_scaling * uniform(n_units, 1 + n_inputs)
    keep = torch.rand(n_units, n_units, generator=generator, dtype=F64) < density""",
        """        return 2 * torch.rand(shape, generator=generator, dtype=F64, device=device) - 1

    W_in = input_scaling * uniform(n_units, 1 + n_inputs)
    keep = torch.rand(n_units, n_units, generator=generator, dtype=F64, device=device)
    keep = keep < density""",
        "the generator is a CPU one: draw on the CPU, then move the matrices to `device`",
    ),
    edited(
        "reservoir_weights_non_negative",
        "make_reservoir",
        "test_make_reservoir",
        _RESERVOIR,
        "W = uniform(n_units, n_units) * keep",
        "W = torch.rand(n_units, n_units, generator=generator, dtype=F64) * keep",
        "the kept entries of W are uniform in [-1, 1], symmetric around 0: torch.rand alone "
        "draws them from [0, 1), and such a reservoir forecasts far worse",
    ),
    edited(
        "reservoir_weights_from_zero_to_two",
        "make_reservoir",
        "test_make_reservoir",
        _RESERVOIR,
        "return 2 * torch.rand(shape, generator=generator, dtype=F64) - 1",
        "return 2 * torch.rand(shape, generator=generator, dtype=F64)",
        "2 * rand is uniform in [0, 2): subtract 1 to centre the weights on 0",
    ),
    edited(
        "reservoir_unscaled_input",
        "make_reservoir",
        "test_make_reservoir",
        _RESERVOIR,
        "W_in = input_scaling * uniform",
        "W_in = uniform",
        "W_in must be uniform in [-input_scaling, input_scaling]",
    ),
    edited(
        "reservoir_stays_on_cpu",
        "make_reservoir",
        "test_make_reservoir",
        _RESERVOIR,
        "return W_in.to(device), W.to(device)",
        "return W_in, W",
        "move both matrices to `device` before returning them",
    ),
    edited(
        "run_leak_reversed",
        "run_reservoir",
        "test_run_reservoir",
        _RUN,
        "x = (1 - leak) * x + leak * torch.tanh(d + W @ x)",
        "x = leak * x + (1 - leak) * torch.tanh(d + W @ x)",
        "the leak rate weighs the new activation: x = (1 - a) x + a tanh(...), not the "
        "other way round",
    ),
    edited(
        "run_no_bias_input",
        "run_reservoir",
        "test_run_reservoir",
        _RUN,
        "inputs @ W_in[:, 1:].T + W_in[:, 0]",
        "inputs @ W_in[:, 1:].T",
        "W_in's first column multiplies a constant input 1 (the bias): it is missing",
    ),
    edited(
        "run_state_not_carried",
        "run_reservoir",
        "test_run_reservoir",
        _RUN,
        "x = (1 - leak) * x + leak * torch.tanh(d + W @ x)\n        states.append(x)",
        "states.append((1 - leak) * x + leak * torch.tanh(d + W @ x))",
        "the new state is never carried to the next step",
    ),
    edited(
        "run_cpu_initial_state",
        "run_reservoir",
        "test_run_reservoir",
        _RUN,
        "torch.zeros_like(W[0])",
        "torch.zeros(W.shape[0], dtype=W.dtype)",
        "the zero initial state is created on the CPU; use torch.zeros_like or device=",
    ),
    edited(
        "readout_plain_inverse",
        "fit_readout",
        "test_fit_readout",
        _READOUT,
        "torch.linalg.solve(gram, X.T @ targets).T",
        "(torch.linalg.inv(gram) @ X.T @ targets).T",
        "an explicit inverse loses many digits on ill-conditioned problems: use torch.linalg.solve",
    ),
    edited(
        "readout_no_ridge",
        "fit_readout",
        "test_fit_readout",
        _READOUT,
        "    gram.diagonal().add_(ridge)\n",
        "",
        "the ridge term beta I is missing from the normal equations",
    ),
    edited(
        "readout_no_bias_column",
        "fit_readout",
        "test_fit_readout",
        _READOUT,
        "X = torch.cat([torch.ones_like(states[:, :1]), states], dim=1)",
        "X = states",
        "put a column of ones in front of the states: W_out's first column is the bias",
    ),
    edited(
        "readout_ridge_everywhere",
        "fit_readout",
        "test_fit_readout",
        _READOUT,
        "gram.diagonal().add_(ridge)",
        "gram.add_(ridge)",
        "adding beta to every entry of X^T X is not ridge regression: add beta I",
    ),
    edited(
        "generate_leak_reversed",
        "generate",
        "test_generate",
        _GENERATE,
        "x = (1 - leak) * x + leak * torch.tanh(",
        "x = leak * x + (1 - leak) * torch.tanh(",
        "the leak rate weighs the new activation: x = (1 - a) x + a tanh(...)",
    ),
    edited(
        "generate_updates_before_reading",
        "generate",
        "test_generate",
        _GENERATE,
        """        y = W_out[:, 0] + W_out[:, 1:] @ x
        outputs.append(y)
        x = (1 - leak) * x + leak * torch.tanh(W_in[:, 0] + W_in[:, 1:] @ y + W @ x)""",
        """        y = W_out[:, 0] + W_out[:, 1:] @ x
        x = (1 - leak) * x + leak * torch.tanh(W_in[:, 0] + W_in[:, 1:] @ y + W @ x)
        outputs.append(W_out[:, 0] + W_out[:, 1:] @ x)""",
        "the given state has already seen the last input: read it out first, then update",
    ),
    edited(
        "generate_no_feedback",
        "generate",
        "test_generate",
        _GENERATE,
        "W_in[:, 1:] @ y + W @ x",
        "W @ x",
        "each output must be fed back as the next input (W_in [1; y])",
    ),
    edited(
        "nrmse_sample_std",
        "nrmse",
        "test_nrmse",
        _NRMSE,
        "target.std(correction=0)",
        "target.std()",
        "use the population standard deviation (correction=0); torch's default divides by n - 1",
    ),
    edited(
        "nrmse_by_variance",
        "nrmse",
        "test_nrmse",
        _NRMSE,
        "target.std(correction=0)",
        "target.var(correction=0)",
        "divide the RMSE by the standard deviation, not the variance",
    ),
    edited(
        "nrmse_no_sqrt",
        "nrmse",
        "test_nrmse",
        _NRMSE,
        "torch.sqrt(torch.mean((prediction - target) ** 2))",
        "torch.mean((prediction - target) ** 2)",
        "take the square root of the mean squared error",
    ),
    edited(
        "forecast_no_washout",
        "forecast",
        "test_forecast",
        _FORECAST,
        "W_out = fit_readout(states[w:-1], series[w + 1 : n_train, None]",
        "W_out = fit_readout(states[:-1], series[1:n_train, None]",
        "discard the first `washout` states before fitting: they still depend on the "
        "arbitrary initial state",
    ),
    edited(
        "forecast_targets_not_shifted",
        "forecast",
        "test_forecast",
        _FORECAST,
        "series[w + 1 : n_train, None]",
        "series[w : n_train - 1, None]",
        "the state after input t must predict the value at t + 1, not the input itself",
    ),
    edited(
        "forecast_feeds_back_truth",
        "forecast",
        "test_forecast",
        _FORECAST,
        """    return generate(W_in, W, W_out, states[-1], n_test, config["leak"])[:, 0]""",
        """    future = run_reservoir(W_in, W, series[n_train - 1 : n_train + n_test - 1, None],
                           config["leak"], x0=states[-2])
    return (W_out[:, 0] + future @ W_out[:, 1:].T)[:, 0]""",
        "the forecast feeds back the true values after n_train, which do not exist yet; "
        "feed back the ESN's own outputs (generate)",
    ),
]

# Correct implementations written differently from the reference: they must keep full marks.
ALTERNATIVES = {
    "mackey_glass": """
def mackey_glass(n_steps, tau=17.0, dt=0.1, x0=1.2, device="cpu"):
    per_unit, delay = round(1 / dt), round(tau / dt)
    history = torch.full((delay + 1 + (n_steps - 1) * per_unit,), x0, dtype=F64)
    values = history.tolist()
    for k in range(delay, len(values) - 1):
        past = values[k - delay]
        values[k + 1] = values[k] + dt * (0.2 * past / (1 + past**10) - 0.1 * values[k])
    return torch.tensor(values, dtype=F64)[delay::per_unit].to(device)
""",
    "make_reservoir": """
def make_reservoir(
    n_units, n_inputs, density, spectral_radius, input_scaling, generator, device="cpu"
):
    W_in = torch.empty(n_units, 1 + n_inputs, dtype=F64).uniform_(
        -input_scaling, input_scaling, generator=generator
    )
    mask = torch.bernoulli(torch.full((n_units, n_units), density, dtype=F64), generator=generator)
    W = torch.empty(n_units, n_units, dtype=F64).uniform_(-1, 1, generator=generator) * mask
    rho = torch.max(torch.abs(torch.linalg.eigvals(W)))
    return W_in.to(device), (W / rho * spectral_radius).to(device)
""",
    "run_reservoir": """
def run_reservoir(W_in, W, inputs, leak, x0=None):
    states = inputs.new_zeros(inputs.shape[0], W.shape[0])
    x = states[0] if x0 is None else x0
    ones = inputs.new_ones(inputs.shape[0], 1)
    u = torch.cat([ones, inputs], dim=1)
    for t in range(inputs.shape[0]):
        x = x + leak * (torch.tanh(W_in @ u[t] + W @ x) - x)
        states[t] = x
    return states
""",
    "fit_readout": """
def fit_readout(states, targets, ridge):
    X = torch.nn.functional.pad(states, (1, 0), value=1.0)
    n = X.shape[1]
    A = torch.cat([X, math.sqrt(ridge) * torch.eye(n, dtype=X.dtype, device=X.device)])
    B = torch.cat([targets, targets.new_zeros(n, targets.shape[1])])
    return torch.linalg.lstsq(A, B).solution.T
""",
    "generate": """
def generate(W_in, W, W_out, x, n_steps, leak):
    outputs = x.new_empty(n_steps, W_out.shape[0])
    one = x.new_ones(1)
    for t in range(n_steps):
        outputs[t] = W_out @ torch.cat([one, x])
        x = (1 - leak) * x + leak * torch.tanh(W_in @ torch.cat([one, outputs[t]]) + W @ x)
    return outputs
""",
    "nrmse": """
def nrmse(prediction, target):
    mse = torch.nn.functional.mse_loss(prediction, target)
    return (mse / ((target - target.mean()) ** 2).mean()).sqrt()
""",
}
