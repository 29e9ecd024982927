"""Naming a student's mistake: compare their function's output with known wrong ones.

Every exercise function has a *probe*: a fixed, small call on the CPU whose
results (outputs, and inputs after the call, to see in-place changes) form a
fingerprint. The course's bank of known mistakes was run through the same
probes; their fingerprints and one-sentence hints ship in
`known_mistakes.json` (outputs only: no code, no solution, no hidden test).
When a student's fingerprint matches a known mistake's, the test cell says so.

A slip that is not in the bank can still be named by its *family*: the reference's
probe results ship too (`reference_fingerprints.json`, numbers only), and a result
that is the right one shifted by a step, with an extra or a missing step, reversed,
with two dimensions swapped, scaled by a constant or in the wrong dtype is described
as such.

The probe runs on the CPU in float64 (plus float32 where dtype matters), so a
hint is the same on every grader, with or without a GPU. A hint only ever adds
a sentence to a failed check; it never changes a score.
"""

import json
from collections.abc import Callable
from functools import cache
from importlib import resources

import torch

from rnncourse.checks import silenced
from rnncourse.models import SequenceRegressor
from rnncourse.rnn_reference import GRADIENT_NAMES, random_rnn_problem, torch_rnn

KNOWN_MISTAKES = "known_mistakes.json"
REFERENCE_FINGERPRINTS = "reference_fingerprints.json"

# ---------------------------------------------------------------------------
# Probes: function name -> probe(fn) -> tuple of tensors
# ---------------------------------------------------------------------------

# Values where overflow, sign and the point 0 all show.
_POINTS = [-1000.0, -30.0, -3.0, -0.5, 0.0, 0.5, 3.0, 30.0, 1000.0]


def _elementwise(fn, *args):
    out = []
    for dtype in (torch.float64, torch.float32):
        x = torch.tensor(_POINTS, dtype=dtype)
        out += [fn(x, *args), x]
    return tuple(out)


def _logsumexp(fn):
    x = torch.tensor([[1000.0, 999.0, 0.0], [-1000.0, -1000.0, -1000.0], [1.0, 2.0, 3.0]])
    x = x.double()
    return fn(x, dim=-1), fn(x, dim=0), x


def _layer_stack():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64)
    widths = [3, 5, 4, 2]
    weights = [
        torch.randn(o, i, generator=g, dtype=torch.float64) / i**0.5
        for i, o in zip(widths[:-1], widths[1:], strict=True)
    ]
    return x, weights


def _backprop(fn):
    x, weights = _layer_stack()
    tanh_grad = lambda z: 1 - torch.tanh(z) ** 2  # noqa: E731
    relu_grad = lambda z: (z > 0).to(z.dtype)  # noqa: E731
    return (
        fn(x, weights, torch.tanh, tanh_grad),
        fn(x, weights, torch.relu, relu_grad),
        *weights,
    )


def _problem(batch=2, time=4, inputs=3, hidden=5, seed=0):
    p = random_rnn_problem(batch, time, inputs, hidden, seed=seed)
    return [p[k] for k in ("x", "h0", "W_ih", "W_hh", "b")]


def _rnn_cell(fn):
    x, h0, W_ih, W_hh, b = _problem(time=1)
    return fn(x[:, 0], h0, W_ih, W_hh, b), h0


def _rnn_forward(fn):
    x, h0, W_ih, W_hh, b = _problem()
    return (*fn(x, W_ih, W_hh, b, h0), *fn(x, W_ih, W_hh, b, None), x, h0)


def _rnn_backward(fn):
    x, h0, W_ih, W_hh, b = _problem()
    hs, _ = torch_rnn(x, W_ih, W_hh, b, h0)
    hs = hs.detach()
    dhs = torch.linspace(-1, 1, hs.numel(), dtype=hs.dtype).reshape(hs.shape)
    grads = fn(x, h0, hs, dhs, W_ih, W_hh)
    return (*(grads[name] for name in GRADIENT_NAMES), hs, dhs)


def _clip(fn):
    out = []
    for scale, max_norm in ((3.0, 1.0), (0.1, 10.0), (0.0, 1.0)):
        g = torch.Generator().manual_seed(1)
        tensors = [
            scale * torch.randn(shape, generator=g, dtype=torch.float64)
            for shape in ((4, 3), (5,), ())
        ]
        norm = fn(list(tensors), max_norm)  # read back through the caller's own tensors
        out += [torch.as_tensor(norm, dtype=torch.float64), *tensors]
    return tuple(out)


def _tbptt(fn):
    out = []
    for chunk_len, max_norm in ((3, 0.05), (3, 1e3)):
        torch.manual_seed(0)
        model = SequenceRegressor(2, 4, 1).double()
        g = torch.Generator().manual_seed(1)
        x = torch.randn(2, 8, 2, generator=g, dtype=torch.float64)
        y = torch.randn(2, 8, 1, generator=g, dtype=torch.float64)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        losses, h = fn(model, optimizer, x, y, chunk_len, max_norm)
        losses = torch.tensor([float(v) for v in losses], dtype=torch.float64)
        out += [losses, h.detach(), *(p.detach() for p in model.parameters())]
    return tuple(out)


def _mackey_glass(fn):
    return fn(60), fn(40, tau=5.0, dt=0.5, x0=0.8)


def _flag(condition) -> torch.Tensor:
    return torch.tensor(float(bool(condition)), dtype=torch.float64)


def _make_reservoir(fn):
    # Properties, not values: they do not depend on the order of the random draws.
    radius, scaling = 0.9, 0.5
    W_in, W = fn(30, 2, 0.2, radius, scaling, torch.Generator().manual_seed(0))
    again = fn(30, 2, 0.2, radius, scaling, torch.Generator().manual_seed(0))
    eigenvalues = torch.linalg.eigvals(W)
    right = abs(float(eigenvalues.abs().max()) - radius) < 1e-9
    # Which wrong quantity was scaled to the radius? Asked only when the radius is wrong,
    # because a random W's largest real part may equal its radius by chance.
    return (
        torch.tensor(list(W_in.shape) + list(W.shape), dtype=torch.float64),
        _flag(right),
        _flag(not right and abs(float(eigenvalues.real.max()) - radius) < 1e-9),
        _flag(not right and abs(float(torch.linalg.matrix_norm(W, 2)) - radius) < 1e-9),
        _flag(float((W != 0).double().mean()) < 0.5),
        _flag(float(W_in.abs().max()) <= scaling),
        _flag(torch.equal(W, again[1]) and torch.equal(W_in, again[0])),
    )


def _small_esn(n_inputs=1):
    g = torch.Generator().manual_seed(2)
    W_in = torch.rand(6, 1 + n_inputs, generator=g, dtype=torch.float64) - 0.5
    W = 0.5 * (torch.rand(6, 6, generator=g, dtype=torch.float64) - 0.5)
    W_out = torch.rand(n_inputs, 7, generator=g, dtype=torch.float64) - 0.5
    return W_in, W, W_out


def _run_reservoir(fn):
    W_in, W, _ = _small_esn()
    inputs = torch.linspace(-1, 1, 5, dtype=torch.float64).unsqueeze(1)
    return (
        fn(W_in, W, inputs, 0.3),
        fn(W_in, W, inputs, 1.0, 0.1 * torch.ones(6, dtype=torch.float64)),
        inputs,
    )


def _fit_readout(fn):
    g = torch.Generator().manual_seed(3)
    states = torch.randn(20, 4, generator=g, dtype=torch.float64)
    targets = torch.randn(20, 2, generator=g, dtype=torch.float64)
    return fn(states, targets, 0.5), fn(states, targets, 0.0), states, targets


def _generate(fn):
    W_in, W, W_out = _small_esn()
    x = torch.linspace(-0.5, 0.5, 6, dtype=torch.float64)
    return fn(W_in, W, W_out, x, 4, 0.3), x


def _nrmse(fn):
    target = torch.tensor([1.0, 2.0, 4.0, 8.0, 3.0], dtype=torch.float64)
    return (fn(target + torch.tensor([0.5, -0.5, 0.0, 1.0, 0.0], dtype=torch.float64), target),)


def _forecast(fn):
    t = torch.arange(260, dtype=torch.float64)
    series = torch.sin(0.2 * t) * torch.cos(0.031 * t)
    config = dict(
        n_units=20,
        density=0.3,
        spectral_radius=0.9,
        input_scaling=0.5,
        leak=0.5,
        ridge=1e-6,
        washout=20,
    )
    return fn(series, 240, 10, config, torch.Generator().manual_seed(0)), series


def _chars(text) -> torch.Tensor:
    """A string (or list of characters) as a tensor of code points."""
    return torch.tensor([float(ord(c)) for c in "".join(text)], dtype=torch.float64)


_VOCAB = ["\ufffd", " ", "a", "b", "c"]


def _build_vocabulary(fn):
    return _chars(fn("hello, world")), _chars(fn("b\ufffdab"))


def _encode(fn):
    return (fn("abc cab?", _VOCAB),)


def _decode(fn):
    return _chars(fn(torch.tensor([2, 0, 3, 1, 4]), _VOCAB)), _chars(fn([4, 4, 0], _VOCAB))


def _make_batches(fn):
    return (*fn(torch.arange(23), 2, 4), *fn(torch.arange(20), 3, 2))


def _logits_and_targets():
    g = torch.Generator().manual_seed(4)
    logits = 3 * torch.randn(2, 3, 5, generator=g, dtype=torch.float64)
    logits[0, 0] = torch.tensor([900.0, -900.0, 0.0, 1.0, 2.0])
    return logits, torch.tensor([[1, 4, 0], [2, 2, 3]])


def _cross_entropy(fn):
    logits, targets = _logits_and_targets()
    return fn(logits, targets), fn(logits[1], targets[1])


class _ToyLanguageModel(torch.nn.Module):
    """A small model called like the exercises' (ids (B, T), state) -> (logits, state), but
    no RNN (nothing here answers an exercise): its state is a fading sum of the vectors of
    the ids read so far, and the logits are a linear function of it."""

    def __init__(self, vocab=5, hidden=4, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        # Scaled so that sampling is neither near-uniform nor near-certain.
        self.E = torch.nn.Parameter(
            0.5 * torch.randn(vocab, hidden, generator=g, dtype=torch.float64)
        )
        self.W = torch.nn.Parameter(torch.randn(vocab, hidden, generator=g, dtype=torch.float64))

    def forward(self, x, h=None):
        state = self.E.new_zeros(x.shape[0], self.E.shape[1]) if h is None else h[0]
        states = []
        for t in range(x.shape[1]):
            state = 0.5 * state + self.E[x[:, t]]
            states.append(state)
        return torch.stack(states, 1) @ self.W.T, state.unsqueeze(0)


def _char_rnn(fn):
    model = fn(5, 3, 4)
    g = torch.Generator().manual_seed(5)
    names = sorted(name for name, _ in model.named_parameters())
    shapes = {name: p.shape for name, p in model.named_parameters()}
    model.load_state_dict(
        {name: torch.randn(shapes[name], generator=g) for name in names}, strict=True
    )
    x = torch.tensor([[0, 1, 2, 3], [4, 4, 0, 1]])
    logits, h = model(x)
    again, h2 = model(x[:, :2], torch.full((1, 2, 4), 0.3))
    return torch.tensor([float(len(names))]), logits, h, again, h2


def _sample(fn):
    model, prefix = _ToyLanguageModel(), torch.tensor([1, 3])
    return (
        fn(model, prefix, 6, 0),
        fn(model, prefix, 8, 1.0, None, torch.Generator().manual_seed(0)),
        fn(model, prefix, 8, 0.5, 2, torch.Generator().manual_seed(1)),
    )


def _train_language_model(fn):
    model = _ToyLanguageModel(seed=1)
    g = torch.Generator().manual_seed(6)
    inputs = torch.randint(0, 5, (3, 2, 4), generator=g)
    targets = torch.randint(0, 5, (3, 2, 4), generator=g)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = fn(model, inputs, targets, optimizer, 0.1)
    losses = torch.tensor([float(v) for v in losses], dtype=torch.float64)
    return (losses, *(p.detach() for p in model.parameters()))


def _melody():
    """A short part with measures, a tie over a bar line, rests, a grace note, a triplet
    and the same note name in two octaves."""
    from fractions import Fraction

    from music21 import note, stream, tie

    part = stream.Part()
    for name, length in (("C5", 1.0), ("rest", 0.5), ("B-4", 0.5), ("C4", 2.0)):
        part.append(
            note.Rest(quarterLength=length)
            if name == "rest"
            else note.Note(name, quarterLength=length)
        )
    part.append(note.Note("D5").getGrace())
    first, second = note.Note("G4", quarterLength=2.0), note.Note("G4", quarterLength=1.0)
    first.tie, second.tie = tie.Tie("start"), tie.Tie("stop")
    for element in (first, second, *(note.Note("E5", quarterLength=Fraction(1, 3)) for _ in "abc")):
        part.append(element)
    return part.makeMeasures()


def _tokenize(fn):
    return (_chars("|".join(fn(_melody()))),)


def _detokenize(fn):
    tokens = ["<unk>", "C5_1.0", "rest_0.5", "E5_1/3", "<end>", "B-4_2.0", "x", "G3_0.25"]
    rows = [
        [
            -1.0 if element.isRest else float(element.pitch.midi),
            float(element.quarterLength),
            float(element.offset),
        ]
        for element in fn(tokens).flatten().notesAndRests
    ]
    return (torch.tensor(rows, dtype=torch.float64).reshape(-1, 3),)


def _make_training_pairs(fn):
    from rnncourse.music import Vocabulary

    vocab = Vocabulary([["A4_1.0", "B4_1.0", "C5_1.0", "D5_0.5"]])
    melodies = [
        ["A4_1.0", "B4_1.0", "C5_1.0"],
        ["D5_0.5", "E5_1.0", "A4_1.0", "A4_1.0"],
        ["C5_1.0"],
    ]
    return (*fn(melodies, vocab, 3), *fn(melodies, vocab, 2))


def _melody_lstm(fn):
    model = fn(5, 3, 4)
    g = torch.Generator().manual_seed(5)
    names = sorted(name for name, _ in model.named_parameters())
    shapes = {name: p.shape for name, p in model.named_parameters()}
    model.load_state_dict(
        {name: torch.randn(shapes[name], generator=g) for name in names}, strict=True
    )
    x = torch.tensor([[0, 1, 2, 3], [4, 4, 0, 1]])
    logits, (h, c) = model(x)
    state = (torch.full((1, 2, 4), 0.3), torch.full((1, 2, 4), -0.2))
    again, (h2, c2) = model(x[:, :2], state)
    return torch.tensor([float(len(names))]), logits, h, c, again, h2, c2


def _sample_melody(fn):
    model, prefix = _ToyLanguageModel(), torch.tensor([1, 3])
    return (
        fn(model, prefix, 6, 0),
        fn(model, prefix, 6, 0, None, 2),
        fn(model, prefix, 8, 1.0, torch.Generator().manual_seed(0)),
        fn(model, prefix, 8, 0.5, torch.Generator().manual_seed(1), 4),
        fn(model, prefix, 8, 0.5, torch.Generator().manual_seed(2)),
    )


def _train_melody_model(fn):
    model = _ToyLanguageModel(seed=2)
    g = torch.Generator().manual_seed(7)
    inputs = torch.randint(0, 5, (5, 4), generator=g)
    targets = torch.randint(0, 5, (5, 4), generator=g)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = fn(model, inputs, targets, optimizer, 2, 2, 0.1, torch.Generator().manual_seed(3))
    losses = torch.tensor([float(v) for v in losses], dtype=torch.float64)
    return (losses, *(p.detach() for p in model.parameters()))


def _randn(seed, *shapes, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]


def _lstm_cell(fn):
    x, h, c, *weights = _randn(7, (2, 3), (2, 2), (2, 2), (8, 3), (8, 2), (8,), (8,))
    big = [30 * w for w in weights]
    return (*fn(x, h, c, *weights), *fn(x, h, c, *big))


def _lstm_cell_backward(fn):
    dh, dc, x, h, c, *weights = _randn(
        11, (2, 2), (2, 2), (2, 3), (2, 2), (2, 2), (8, 3), (8, 2), (8,), (8,)
    )
    grads = fn(dh, dc, x, h, c, *weights)
    names = ("gates", "x", "h", "c", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return tuple(grads[name] for name in names)


def _gru_cell(fn):
    x, h, *weights = _randn(8, (2, 3), (2, 2), (6, 3), (6, 2), (6,), (6,))
    return (fn(x, h, *weights),)


def _lstm_forward(fn):
    lstm = torch.nn.LSTM(2, 2, 2, bidirectional=True, device="meta")
    g = torch.Generator().manual_seed(9)
    params = {
        name: torch.randn(p.shape, generator=g, dtype=torch.float64)
        for name, p in lstm.named_parameters()
    }
    x = torch.randn(3, 4, 2, generator=g, dtype=torch.float64)
    state = tuple(torch.randn(4, 3, 2, generator=g, dtype=torch.float64) for _ in range(2))
    output, (h_n, c_n) = fn(x, torch.tensor([4, 1, 2]), params, 2, True, state)
    return output, h_n, c_n


def _fast_lstm_forward(fn):
    x, h0, c0, *weights = _randn(10, (2, 3, 2), (2, 2), (2, 2), (8, 2), (8, 2), (8,), (8,))
    output, (h, c) = fn(x, h0, c0, *weights)
    return output, h, c


def _clockwork_mask(fn):
    return fn(3, 2), fn(2, 1)


def _active_modules(fn):
    return tuple(fn(t, [1, 2, 4, 3]) for t in range(7))


def _clockwork_network():
    x, h, W_in, W_h, b = _randn(11, (2, 2), (2, 6), (6, 2), (6, 6), (6,))
    return x, h.tanh(), W_in, W_h, b  # 3 modules of 2 units; W_h dense: the step masks it


def _clockwork_step(fn):
    x, h, W_in, W_h, b = _clockwork_network()
    return tuple(fn(x, h, t, W_in, W_h, b, [1, 2, 4]) for t in (0, 1, 2, 3)) + (h,)


def _clockwork_forward(fn):
    _, h, W_in, W_h, b = _clockwork_network()
    (x,) = _randn(12, (2, 5, 2))
    return fn(x, h, W_in, W_h, b, [1, 2, 4]), h


def _recurrent_costs(fn):
    values = [*fn(3, 2, [1, 2, 4]), *fn(2, 3, [1, 3])]
    return (torch.tensor([float(v) for v in values], dtype=torch.float64),)


def _padded_vectors():
    """Vectors (3, 4, 2) with garbage in the padding, lengths 2, 4, 1 (unsorted)."""
    (vectors,) = _randn(13, (3, 4, 2))
    lengths = torch.tensor([2, 4, 1])
    vectors[torch.arange(4)[None, :] >= lengths[:, None]] = 50.0
    return vectors, lengths


def _average_embeddings(fn):
    vectors, lengths = _padded_vectors()
    return fn(vectors, lengths), vectors


def _padded_ids():
    ids = torch.tensor([[1, 2, 0, 0], [3, 4, 5, 6], [2, 0, 0, 0]])
    return ids, torch.tensor([2, 4, 1])


def _seeded(model, seed):
    g = torch.Generator().manual_seed(seed)
    shapes = {name: p.shape for name, p in model.named_parameters()}
    model.load_state_dict(
        {n: 0.5 * torch.randn(s, generator=g, dtype=torch.float64) for n, s in shapes.items()}
    )
    return model.double()


def _bag_of_embeddings(fn):
    model = _seeded(fn(7, 3, 2), 14)
    ids, lengths = _padded_ids()
    return torch.tensor([float(len(list(model.parameters())))]), model(ids, lengths)


def _lstm_classifier(fn):
    model = _seeded(fn(7, 3, 4, 2, num_layers=2), 15)
    ids, lengths = _padded_ids()
    return torch.tensor([float(len(list(model.parameters())))]), model(ids, lengths)


class _ToyClassifier(torch.nn.Module):
    """A classifier in float64 for the training probe, unlike the exercise's models (nothing
    here answers one): the largest entry of each embedding dimension over the real words."""

    def __init__(self, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.E = torch.nn.Parameter(torch.randn(6, 3, generator=g, dtype=torch.float64))
        self.W = torch.nn.Parameter(torch.randn(3, 3, generator=g, dtype=torch.float64))

    def forward(self, ids, lengths):
        padding = torch.arange(ids.shape[1])[None, :] >= lengths[:, None]
        pooled = self.E[ids].masked_fill(padding[..., None], float("-inf")).amax(1)
        return pooled @ self.W.T


def _train_classifier(fn):
    model = _ToyClassifier(seed=3)
    g = torch.Generator().manual_seed(8)
    lengths = torch.randint(1, 5, (5,), generator=g)
    ids = torch.randint(1, 6, (5, 4), generator=g)
    ids[torch.arange(4)[None, :] >= lengths[:, None]] = 0
    labels = torch.randint(0, 3, (5,), generator=g)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = fn(model, ids, lengths, labels, optimizer, 2, 2, 0.1, torch.Generator().manual_seed(4))
    losses = torch.tensor([float(v) for v in losses], dtype=torch.float64)
    return (losses, *(p.detach() for p in model.parameters()))


def _confusion_matrix(fn):
    true, predicted = torch.tensor([0, 0, 1, 2, 2, 1, 0]), torch.tensor([0, 2, 1, 2, 0, 0, 0])
    return fn(true, predicted, 4), fn(true[:3], predicted[:3], 3)


def _plot_confusion_matrix(fn):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = torch.tensor([[4, 1, 0], [2, 2, 1], [0, 0, 0]])
    out = []
    for normalize in (False, True):
        fig, ax = plt.subplots()
        drawn = None
        try:
            drawn = fn(matrix, ["a", "b", "c"], normalize=normalize, ax=ax)
            # list(...)[0], not [0]: under the checker, the student's own Axes is a proxy
            # that can be iterated but not indexed.
            image = torch.tensor(list(drawn.images)[0].get_array().tolist(), dtype=torch.float64)
            labels = [t.get_text() for t in (*drawn.get_xticklabels(), *drawn.get_yticklabels())]
            flags = [
                drawn is ax,
                labels == ["a", "b", "c"] * 2,
                "predicted" in drawn.get_xlabel().lower(),
                "true" in drawn.get_ylabel().lower(),
            ]
            out += [image, torch.tensor([float(f) for f in flags], dtype=torch.float64)]
        finally:
            plt.close(fig)
            # A figure the student's function made itself; under the checker it lives in
            # the student's kernel and is left there.
            figure = getattr(drawn, "figure", fig)
            if figure is not fig and isinstance(figure, matplotlib.figure.Figure):
                plt.close(figure)
    return tuple(out)


PROBES: dict[str, Callable] = {
    "step": _elementwise,
    "sigmoid": _elementwise,
    "sigmoid_grad": _elementwise,
    "tanh": _elementwise,
    "tanh_grad": _elementwise,
    "relu": _elementwise,
    "relu_grad": _elementwise,
    "leaky_relu": lambda fn: _elementwise(fn, 0.2) + _elementwise(fn),
    "leaky_relu_grad": lambda fn: _elementwise(fn, 0.2) + _elementwise(fn),
    "softplus": _elementwise,
    "logsumexp": _logsumexp,
    "gradient_norms_by_hand": _backprop,
    "rnn_cell": _rnn_cell,
    "rnn_forward": _rnn_forward,
    "rnn_backward": _rnn_backward,
    "clip_by_global_norm": _clip,
    "train_tbptt": _tbptt,
    "mackey_glass": _mackey_glass,
    "make_reservoir": _make_reservoir,
    "run_reservoir": _run_reservoir,
    "fit_readout": _fit_readout,
    "generate": _generate,
    "nrmse": _nrmse,
    "forecast": _forecast,
    "build_vocabulary": _build_vocabulary,
    "encode": _encode,
    "decode": _decode,
    "make_batches": _make_batches,
    "cross_entropy": _cross_entropy,
    "perplexity": _cross_entropy,
    "CharRNN": _char_rnn,
    "sample": _sample,
    "train_language_model": _train_language_model,
    "lstm_cell": _lstm_cell,
    "lstm_cell_backward": _lstm_cell_backward,
    "gru_cell": _gru_cell,
    "lstm_forward": _lstm_forward,
    "fast_lstm_forward": _fast_lstm_forward,
    "clockwork_mask": _clockwork_mask,
    "active_modules": _active_modules,
    "clockwork_step": _clockwork_step,
    "clockwork_forward": _clockwork_forward,
    "recurrent_costs": _recurrent_costs,
    "tokenize": _tokenize,
    "detokenize": _detokenize,
    "make_training_pairs": _make_training_pairs,
    "MelodyLSTM": _melody_lstm,
    "sample_melody": _sample_melody,
    "train_melody_model": _train_melody_model,
    "average_embeddings": _average_embeddings,
    "BagOfEmbeddings": _bag_of_embeddings,
    "LSTMClassifier": _lstm_classifier,
    "train_classifier": _train_classifier,
    "confusion_matrix": _confusion_matrix,
    "plot_confusion_matrix": _plot_confusion_matrix,
}


# ---------------------------------------------------------------------------
# Fingerprints
# ---------------------------------------------------------------------------


def fingerprint(name: str, fn: Callable) -> list[dict] | None:
    """The probe's results for `fn` as plain data, or None if it raised or returned non-tensors."""
    try:
        # Probes seed the global RNG: fork it, so the notebook's random state is untouched.
        with silenced(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # code that wrongly uses the global RNG is fingerprinted too
            results = PROBES[name](fn)
    except (Exception, SystemExit):  # student code may raise anything
        return None
    if not all(isinstance(r, torch.Tensor) for r in results):
        return None
    return [
        {
            "shape": list(r.shape),
            "dtype": str(r.dtype).removeprefix("torch."),
            "values": r.detach().cpu().double().flatten().tolist(),
        }
        for r in results
    ]


def same_fingerprint(a: list[dict], b: list[dict]) -> bool:
    """True when two fingerprints agree in shapes, dtypes and values: to 1e-6 relative in
    float64; in float32, to what its rounding allows (an LSTM's float32 outputs differ
    by a few units in the last place between machines and thread counts)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x["shape"] != y["shape"] or x["dtype"] != y["dtype"]:
            return False
        vx = torch.tensor(x["values"], dtype=torch.float64)
        vy = torch.tensor(y["values"], dtype=torch.float64)
        rtol, atol = (1e-5, 1e-6) if x["dtype"] == "float32" else (1e-6, 1e-9)
        if not torch.allclose(vx, vy, rtol=rtol, atol=atol, equal_nan=True):
            return False
    return True


def _shipped(filename: str) -> dict:
    path = resources.files("rnncourse") / filename
    return json.loads(path.read_text()) if path.is_file() else {}


@cache
def known_mistakes() -> dict:
    """function name -> list of {"mistakes", "hint", "fingerprint"}, from the shipped file."""
    return _shipped(KNOWN_MISTAKES)


@cache
def reference_fingerprints() -> dict:
    """function name -> the reference solution's fingerprint, from the shipped file."""
    return _shipped(REFERENCE_FINGERPRINTS)


def diagnose(name: str, fn: Callable) -> str | None:
    """The hint of the known mistake whose fingerprint `fn` matches, else a description
    of its slip if it belongs to a family (see `family`), or None."""
    entries = known_mistakes().get(name, [])
    right = reference_fingerprints().get(name)
    if not entries and not right:
        return None
    found = fingerprint(name, fn)
    if found is None:
        return None
    for entry in entries:
        if same_fingerprint(found, entry["fingerprint"]):
            return entry["hint"]
    return family(found, right) if right else None


# ---------------------------------------------------------------------------
# Families: a slip named by how a result differs from the right one
# ---------------------------------------------------------------------------


def _tensor(result: dict) -> torch.Tensor:
    return torch.tensor(result["values"], dtype=torch.float64).reshape(result["shape"])


def _close(a: torch.Tensor, b: torch.Tensor, dtype: str) -> bool:
    rtol, atol = (1e-5, 1e-6) if dtype == "float32" else (1e-6, 1e-9)  # as same_fingerprint
    return a.shape == b.shape and torch.allclose(a, b, rtol=rtol, atol=atol)


def _without(shape, axis: int) -> tuple:
    return tuple(shape[:axis]) + tuple(shape[axis + 1 :])


def _slip(found: torch.Tensor, right: torch.Tensor, dtype: str) -> str | None:
    """How `found` differs from `right`, if in one of the common ways; else None."""

    def close(a, b):
        return _close(a, b, dtype)

    if not (found.isfinite().all() and right.isfinite().all()):
        return None
    # With few distinct values (a mask, a count), a shift or a factor can match by chance.
    varied = right.numel() >= 3 and len(torch.unique(right)) >= 3
    for axis, n in enumerate(right.shape):
        if not varied or n < 3 or close(right.narrow(axis, 1, n - 1), right.narrow(axis, 0, n - 1)):
            continue  # (a shift along an axis where nothing changes would not show)
        where = f"along dimension {axis}"
        if found.shape == right.shape:
            if close(found.narrow(axis, 1, n - 1), right.narrow(axis, 0, n - 1)):
                return f"one step late {where} (entry t holds what belongs at t - 1)"
            if close(found.narrow(axis, 0, n - 1), right.narrow(axis, 1, n - 1)):
                return f"one step early {where} (entry t holds what belongs at t + 1)"
            if close(found, right.flip(axis)):
                return f"in reverse order {where}"
        elif found.dim() == right.dim() and _without(found.shape, axis) == _without(
            right.shape, axis
        ):
            if found.shape[axis] == n + 1 and close(found.narrow(axis, 1, n), right):
                return f"with an extra entry first {where} (an initial state, say)"
            if found.shape[axis] == n + 1 and close(found.narrow(axis, 0, n), right):
                return f"with an extra entry last {where}"
            if found.shape[axis] == n - 1 and close(found, right.narrow(axis, 1, n - 1)):
                return f"without its first entry {where}"
            if found.shape[axis] == n - 1 and close(found, right.narrow(axis, 0, n - 1)):
                return f"without its last entry {where}"
    for i in range(right.dim()):
        for j in range(i + 1, right.dim()):
            if close(found, right.transpose(i, j)):
                return f"with dimensions {i} and {j} swapped"
    if varied and found.shape == right.shape:
        factor = float((found * right).sum() / (right * right).sum())
        if 1e-6 < abs(factor) < 1e6 and abs(factor - 1) > 1e-6 and close(found, factor * right):
            return "with the opposite sign" if abs(factor + 1) < 1e-6 else f"times {factor:.4g}"
    return None


def family(found: list[dict], right: list[dict]) -> str | None:
    """A hint for a fingerprint that is the reference's but for one common slip in one of
    its results; None if it is the reference's, or differs in some other way."""
    if len(found) != len(right):
        return None
    for f, r in zip(found, right, strict=True):
        values, expected = _tensor(f), _tensor(r)
        if _close(values, expected, r["dtype"]):
            if f["dtype"] != r["dtype"]:
                dtypes = f"dtype {f['dtype']}, not {r['dtype']}"
                return f"one of its results has the right values but {dtypes}"
            continue
        slip = _slip(values, expected, r["dtype"])
        if slip:
            return f"one of its results is the right one {slip}"
    return None
