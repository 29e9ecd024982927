"""Hidden checks for exercise 3 (character-level language models).

Oracles, written independently of the reference solution: plain Python loops
over characters and list slices for the vocabulary and the batches;
`F.cross_entropy` for the loss; an explicit tanh recurrence over the same
weights for the model; for sampling, the model run again over the whole text at
every step (no state carried) with `torch.topk` for top-k, and the softmax itself for
the distribution of a first draw; `torch.func.grad` per batch with a hand-written SGD
update for the training loop. (`oracle_sample`, which carries the state as `sample`
does, is only lent to later cells.)
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from rnncourse.checks import (
    CheckFailed,
    Checks,
    cuda_or_simulated,
    expect_close,
    expect_finite,
    expect_same_training,
    expect_tensor,
    expect_unchanged,
    forbid_torch_functions,
)
from rnncourse.corpus import load_text
from rnncourse.models import FixedLogitsModel
from rnncourse.wire import place_generator

UNK = "\ufffd"
F64 = torch.float64


# ---------------------------------------------------------------------------
# Oracles (also lent to the training cell, so it is graded on its own logic only)
# ---------------------------------------------------------------------------


def oracle_build_vocabulary(text):
    seen = []
    for char in text:
        if char != UNK and char not in seen:
            seen.append(char)
    return [UNK, *sorted(seen)]


def oracle_encode(text, vocab):
    ids = []
    for char in text:
        ids.append(vocab.index(char) if char in vocab else 0)
    return torch.tensor(ids, dtype=torch.long)


def oracle_decode(ids, vocab):
    return "".join(vocab[int(i)] for i in ids)


def oracle_make_batches(ids, batch_size, seq_len):
    values = ids.tolist()
    n = (len(values) - 1) // batch_size
    inputs, targets = [], []
    for k in range(n // seq_len):
        starts = [b * n + k * seq_len for b in range(batch_size)]
        inputs.append([values[s : s + seq_len] for s in starts])
        targets.append([values[s + 1 : s + seq_len + 1] for s in starts])
    shape = (n // seq_len, batch_size, seq_len)
    as_tensor = lambda rows: torch.tensor(rows, dtype=ids.dtype).reshape(shape).to(ids.device)  # noqa: E731
    return as_tensor(inputs), as_tensor(targets)


def oracle_cross_entropy(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


class LentCharRNN(nn.Module):
    """The model the exercise describes, built from PyTorch's own modules: lent to later
    cells, and the template of the parameters the checks draw. Not an oracle: a student's
    model is compared with `explicit_recurrence`."""

    def __init__(self, vocab_size, embedding_size, hidden_size, num_layers=1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = nn.RNN(embedding_size, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, h=None):
        outputs, h = self.rnn(self.embedding(x), h)
        return self.head(outputs), h


def explicit_recurrence(parameters: dict, x, h=None):
    """CharRNN's (logits, last state) from its named parameters, written out step by step."""
    layers = sum(name.startswith("rnn.weight_ih_l") for name in parameters)
    hidden = parameters["rnn.weight_hh_l0"].shape[0]
    if h is None:
        h = parameters["head.weight"].new_zeros(layers, x.shape[0], hidden)
    sequence = parameters["embedding.weight"][x]  # one-hot times the embedding matrix
    last = []
    for layer in range(layers):
        w_ih, w_hh, b_ih, b_hh = (
            parameters[f"rnn.{name}_l{layer}"]
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        state, outputs = h[layer], []
        for t in range(x.shape[1]):
            state = torch.tanh(sequence[:, t] @ w_ih.T + b_ih + state @ w_hh.T + b_hh)
            outputs.append(state)
        sequence = torch.stack(outputs, dim=1)
        last.append(state)
    logits = sequence @ parameters["head.weight"].T + parameters["head.bias"]
    return logits, torch.stack(last)


@torch.no_grad()
def oracle_sample(model, prefix, n_chars, temperature=1.0, top_k=None, generator=None):
    logits, h = model(prefix.reshape(1, -1))
    drawn = torch.zeros(n_chars, dtype=torch.long, device=prefix.device)
    for i in range(n_chars):
        z = logits[0, -1]
        if temperature == 0:
            choice = torch.argmax(z)
        else:
            z = z / temperature
            if top_k is not None:
                order = torch.sort(z, descending=True).indices
                z = torch.full_like(z, -math.inf).scatter(0, order[:top_k], z[order[:top_k]])
            choice = torch.multinomial(torch.softmax(z, dim=-1), 1, generator=generator)[0]
        drawn[i] = choice
        logits, h = model(choice.reshape(1, 1), h)
    return drawn


@torch.no_grad()
def sample_by_rerunning(model, prefix, n_chars, temperature=1.0, top_k=None, generator=None):
    """The oracle of `sample`: at every step the model reads the whole text so far from
    its start (no state carried from step to step), and top-k keeps the logits not below
    the k-th largest (`torch.topk`)."""
    text = prefix.reshape(1, -1)
    for _ in range(n_chars):
        z = model(text)[0][0, -1]
        if temperature == 0:
            choice = torch.argmax(z)
        else:
            z = z / temperature
            if top_k is not None:
                z = z.masked_fill(z < torch.topk(z, top_k).values[-1], -math.inf)
            choice = torch.multinomial(torch.softmax(z, dim=-1), 1, generator=generator)[0]
        text = torch.cat([text, choice.reshape(1, 1)], dim=1)
    return text[0, prefix.numel() :]


def train_oracle(model, inputs, targets, lr, max_norm):
    """Plain SGD over the batches, functionally: one torch.func.grad per batch, the state
    entering each batch as a constant (that is what detaching means).
    Returns (losses, final parameters)."""
    params = {name: p.detach().clone() for name, p in model.named_parameters()}

    def batch_loss(params, x, y, h):
        logits, h_out = functional_call(model, params, (x, h))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        return loss, (loss.detach(), h_out.detach())

    losses, h = [], None
    for x, y in zip(inputs, targets, strict=True):
        grads, (loss, h) = torch.func.grad(batch_loss, has_aux=True)(params, x, y, h)
        norm = math.sqrt(sum(float((g**2).sum()) for g in grads.values()))
        scale = min(1.0, max_norm / (norm + 1e-6))  # clip_grad_norm_'s formula
        params = {name: p - lr * scale * grads[name] for name, p in params.items()}
        losses.append(float(loss))
    return losses, params


def reference_parts() -> dict:
    """Correct versions of what `train_language_model`'s cell uses, under the exercise's names."""
    return {
        "build_vocabulary": oracle_build_vocabulary,
        "encode": oracle_encode,
        "decode": oracle_decode,
        "make_batches": oracle_make_batches,
        "cross_entropy": oracle_cross_entropy,
        "perplexity": lambda logits, targets: torch.exp(oracle_cross_entropy(logits, targets)),
        "CharRNN": LentCharRNN,
        "sample": oracle_sample,
    }


def _random_model(seed, vocab=7, embedding=3, hidden=5, layers=1, cls=LentCharRNN, device="cpu"):
    """A `cls` model holding weights drawn from `seed`, loaded by name (not by order)."""
    oracle = LentCharRNN(vocab, embedding, hidden, layers)
    g = torch.Generator().manual_seed(seed)
    weights = {name: torch.randn(p.shape, generator=g) for name, p in oracle.named_parameters()}
    model = cls(vocab, embedding, hidden, layers)
    model.load_state_dict(weights)
    return model.to(device)


# ---------------------------------------------------------------------------
# The checks, one function per exercise cell
# ---------------------------------------------------------------------------


def vocabulary_checks(checks: Checks, build, encode, decode) -> None:
    text = load_text()[:20000]

    def vocabulary():
        for sample in (text, "banana", f"a{UNK}b", "", "\n \t"):
            got, want = build(sample), oracle_build_vocabulary(sample)
            if list(got) != want:
                raise CheckFailed(
                    f"build_vocabulary({sample[:20]!r}...) returned {list(got)[:12]!r}..., "
                    f"expected {want[:12]!r}... (UNK first, then sorted distinct characters)"
                )

    checks.check(
        "vocabulary of real text, of '' and with UNK in the text: UNK, then sorted characters",
        1,
        vocabulary,
    )

    def encoding():
        vocab = oracle_build_vocabulary(text)
        for sample in (text[:3000], "Zürich £5 ünknown", "", "a"):
            got = encode(sample, vocab)
            expect_close(got, oracle_encode(sample, vocab), what=f"encode({sample[:20]!r}...)")
            if decode(got, vocab) != oracle_decode(oracle_encode(sample, vocab), vocab):
                raise CheckFailed(f"decode(encode({sample[:20]!r}...)) is not the same text")
        if decode([3, 1, 2], vocab) != oracle_decode([3, 1, 2], vocab):
            raise CheckFailed("decode of a plain Python list of ids failed")

    checks.check(
        "encode matches a character-by-character lookup (unknown characters give 0, empty "
        "text gives an empty long tensor); decode inverts it, from a tensor or a list",
        2,
        encoding,
    )


def make_batches_checks(checks: Checks, fn) -> None:
    cases = [(101, 4, 5), (100, 3, 7), (50, 1, 49), (64, 8, 1), (23, 2, 11), (20, 2, 4)]

    def values(device):
        g = torch.Generator().manual_seed(0)
        for n, batch, seq_len in cases:
            ids = torch.randint(0, 50, (n,), generator=g).to(device)
            before = ids.clone()
            got = fn(ids, batch, seq_len)
            want = oracle_make_batches(ids, batch, seq_len)
            if not isinstance(got, tuple | list) or len(got) != 2:
                raise CheckFailed(f"expected (inputs, targets), got {type(got).__name__}")
            what = f"N={n}, B={batch}, seq_len={seq_len}"
            expect_close(got[0], want[0], what=f"the inputs ({what})")
            expect_close(got[1], want[1], what=f"the targets ({what})")
            expect_unchanged(before, ids, what="ids")

    checks.on_each_device(
        "inputs and targets match slices of contiguous streams (6 sizes: B = 1, seq_len = 1, "
        "a leftover dropped, a window as long as the stream)",
        3,
        values,
    )
    checks.device_safe(
        "CUDA ids give CUDA batches",
        1,
        lambda ids: fn(ids, 2, 3),
        lambda device: (torch.arange(30, device=device),),
    )


def cross_entropy_checks(checks: Checks, cross_entropy, perplexity) -> None:
    forbidden = ("cross_entropy", "log_softmax", "logsumexp", "nll_loss")

    def values(device):
        g = torch.Generator().manual_seed(1)
        for shape, dtype in (((6, 5), F64), ((2, 3, 11), torch.float32), ((1, 2), F64)):
            logits = (3 * torch.randn(shape, generator=g, dtype=dtype)).to(device)
            targets = torch.randint(0, shape[-1], shape[:-1], generator=g).to(device)
            before = logits.clone()
            with forbid_torch_functions(*forbidden):
                got = cross_entropy(logits, targets)
                ppl = perplexity(logits, targets)
            want = oracle_cross_entropy(logits, targets)
            expect_close(got, want, rtol=1e-5, what=f"the mean loss for logits {shape}")
            expect_close(ppl, torch.exp(want), rtol=1e-5, what=f"the perplexity for {shape}")
            expect_unchanged(before, logits, what="logits")

    checks.on_each_device(
        "match F.cross_entropy and its exp (shapes (6, 5), (2, 3, 11) float32, (1, 2)); "
        "built without cross_entropy, log_softmax, logsumexp or nll_loss",
        2,
        values,
    )

    def stable():
        logits = torch.tensor([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -999.0]])
        targets = torch.tensor([2, 2])
        got = cross_entropy(logits, targets)
        expect_finite(got, what="the loss for logits of +-1000")
        expect_close(got, oracle_cross_entropy(logits, targets), what="the loss for +-1000")
        uniform = perplexity(torch.zeros(4, 9), torch.arange(4))
        expect_close(uniform, torch.tensor(9.0), what="the perplexity of equal logits over 9")

    checks.check(
        "stable for logits of +-1000 (float32); equal logits over 9 symbols: perplexity 9",
        1,
        stable,
    )

    def gradient():
        g = torch.Generator().manual_seed(2)
        logits = torch.randn(4, 6, generator=g, dtype=F64, requires_grad=True)
        targets = torch.tensor([0, 5, 2, 2])
        (grad,) = torch.autograd.grad(cross_entropy(logits, targets), logits)
        want = (torch.softmax(logits, -1) - F.one_hot(targets, 6)).detach() / 4
        expect_close(grad, want, rtol=1e-8, what="d loss / d logits")

    checks.check("its gradient is (softmax - one_hot) / number of positions", 1, gradient)
    checks.device_safe(
        "CUDA logits give CUDA results",
        1,
        lambda z, y: (cross_entropy(z, y), perplexity(z, y)),
        lambda device: (torch.randn(3, 4, device=device), torch.tensor([0, 1, 3], device=device)),
    )


def char_rnn_checks(checks: Checks, cls) -> None:
    def outputs():
        cases = [  # (layers, batch, time, h given, dtype)
            (1, 3, 7, False, torch.float32),
            (1, 1, 1, True, F64),
            (2, 2, 5, True, F64),
            (3, 4, 2, False, F64),
        ]
        for i, (layers, batch, time, given, dtype) in enumerate(cases):
            model = _random_model(i, layers=layers, cls=cls).to(dtype)
            weights = dict(_random_model(i, layers=layers).to(dtype).named_parameters())
            g = torch.Generator().manual_seed(10 + i)
            x = torch.randint(0, 7, (batch, time), generator=g)
            h = torch.randn(layers, batch, 5, generator=g, dtype=dtype) if given else None
            got_logits, got_h = model(x, h)
            want_logits, want_h = explicit_recurrence(weights, x, h)
            what = f"{layers} layer(s), B={batch}, T={time}, h " + ("given" if given else "None")
            tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-9)
            expect_close(got_logits, want_logits, **tol, what=f"the logits ({what})")
            expect_close(got_h, want_h, **tol, what=f"the last state ({what})")

    checks.check(
        "logits and last state match an explicit tanh recurrence over the same weights "
        "(1 to 3 layers, B = 1, T = 1, with and without h, float32 and float64)",
        3,
        outputs,
    )

    def carries_state():
        model = _random_model(5, cls=cls).double()
        x = torch.randint(0, 7, (2, 6), generator=torch.Generator().manual_seed(3))
        whole, h_whole = model(x)
        first, h = model(x[:, :4])
        second, h = model(x[:, 4:], h)
        expect_close(torch.cat([first, second], 1), whole, rtol=1e-9, what="the logits")
        expect_close(h, h_whole, rtol=1e-9, what="the last state")

    checks.check("running in two pieces, passing the state, equals one run", 1, carries_state)

    def on_gpu():
        with cuda_or_simulated():
            model = _random_model(6, cls=cls, device="cuda")
            logits, h = model(torch.zeros(2, 3, dtype=torch.long, device="cuda"))
            expect_tensor(logits, device="cuda", what="the logits")
            expect_tensor(h, device="cuda", what="the last state")

    checks.check("a model on CUDA computes on CUDA (h=None)", 1, on_gpu)


class _FunctionalModel(nn.Module):
    """A small history-dependent model without parameters, so it also runs on the
    simulated GPU: logits = W (state), state = tanh(A state + E[x])."""

    def __init__(self, device, vocab=6, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.A = (0.9 * torch.randn(8, 8, generator=g, dtype=F64) / math.sqrt(8)).to(device)
        self.E = torch.randn(vocab, 8, generator=g, dtype=F64).to(device)
        self.W = (2 * torch.randn(vocab, 8, generator=g, dtype=F64)).to(device)

    def forward(self, x, h=None):
        state = self.E[0] * 0 if h is None else h[0, 0]
        outputs = []
        for t in range(x.shape[1]):
            state = torch.tanh(self.A @ state + self.E[x[0, t]])
            outputs.append(self.W @ state)
        return torch.stack(outputs).unsqueeze(0), state.reshape(1, 1, -1)


def _generator(device, seed):
    """A generator on `device` (the simulated GPU's where there is no real one)."""
    return place_generator(torch.device(device).type).manual_seed(seed)


def sample_checks(checks: Checks, fn) -> None:
    prefix = torch.tensor([1, 4, 2])

    def same_as_oracle(device):
        model = _FunctionalModel(device)
        for temperature, top_k, n in ((1.0, None, 30), (0.5, None, 20), (2.0, 3, 25), (1.0, 1, 8)):
            got = fn(model, prefix.to(device), n, temperature, top_k, _generator(device, 7))
            want = sample_by_rerunning(
                model, prefix.to(device), n, temperature, top_k, _generator(device, 7)
            )
            expect_close(got, want, what=f"the ids for temperature {temperature}, top_k {top_k}")

    checks.on_each_device(
        "seeded samples match the model run again over the whole text at each step "
        "(temperature 0.5, 1, 2; top_k 1, 3; history-dependent model)",
        2,
        same_as_oracle,
    )

    def greedy():
        model = _FunctionalModel("cpu", seed=1)
        want = sample_by_rerunning(model, prefix, 15, 0)
        expect_close(fn(model, prefix, 15, 0), want, what="the greedy ids (temperature 0)")
        cold = fn(model, prefix, 15, 1e-4, None, torch.Generator().manual_seed(0))
        expect_close(cold, want, what="the ids for temperature 1e-4 (must equal greedy)")
        expect_close(
            fn(model, prefix, 15, 1.0, 1, torch.Generator().manual_seed(0)),
            want,
            what="the ids for top_k = 1 (must equal greedy)",
        )
        empty = fn(model, prefix, 0, 1.0, None, torch.Generator().manual_seed(0))
        expect_tensor(empty, shape=(0,), what="sample(..., n_chars=0)")

    checks.check(
        "temperature 0, temperature 1e-4 and top_k 1 all give the greedy text; n_chars 0",
        1,
        greedy,
    )

    def distribution():
        # The frequencies of 2000 draws follow softmax(logits / T), top-k. The model's
        # logits never change (FixedLogitsModel, public: it runs in the student's kernel),
        # so one sample of 2000 ids is 2000 independent draws: one call, not 2000.
        logits = _FunctionalModel("cpu", seed=2)(prefix.reshape(1, -1))[0][0, -1]
        model = FixedLogitsModel(logits)
        for temperature, top_k in ((0.7, None), (1.5, 4)):
            z = logits / temperature
            if top_k is not None:
                z = z.masked_fill(z < z.topk(top_k).values[-1], -math.inf)
            want = torch.softmax(z, -1)
            n = 2000
            ids = fn(model, prefix, n, temperature, top_k, torch.Generator().manual_seed(0))
            expect_tensor(ids, shape=(n,), what=f"sample(..., n_chars={n})")
            got = torch.bincount(ids.long(), minlength=6).double() / n
            worst = float(
                ((got - want).abs() / (want * (1 - want) / n).sqrt().clamp_min(1e-3)).max()
            )
            if worst > 5:
                raise CheckFailed(
                    f"temperature {temperature}, top_k {top_k}: the ids' frequencies "
                    f"{[round(v, 3) for v in got.tolist()]} are far from softmax(logits / T) "
                    f"= {[round(v, 3) for v in want.tolist()]}"
                )

    checks.check(
        "the ids follow softmax(logits / temperature) restricted to the top k "
        "(2000 draws, within 5 standard errors)",
        1,
        distribution,
    )

    def uses_generator():
        model = _FunctionalModel("cpu", seed=3)
        torch.manual_seed(0)
        a = fn(model, prefix, 30, 1.0, None, torch.Generator().manual_seed(5))
        torch.manual_seed(1)
        b = fn(model, prefix, 30, 1.0, None, torch.Generator().manual_seed(5))
        c = fn(model, prefix, 30, 1.0, None, torch.Generator().manual_seed(6))
        if not torch.equal(a, b):
            raise CheckFailed(
                "the same generator seed gave different ids after the global seed changed: "
                "pass generator=generator to torch.multinomial"
            )
        if torch.equal(a, c):
            raise CheckFailed("different generator seeds gave the same 30 ids")

    checks.check("draws come from the given generator, not the global one", 1, uses_generator)
    checks.device_safe(
        "a CUDA prefix gives CUDA ids, no tensor made on the CPU",
        1,
        lambda model, ids, g: fn(model, ids, 5, 1.0, 2, g),
        lambda device: (_FunctionalModel(device), prefix.to(device), _generator(device, 0)),
    )


def _training_case(seed, *, batches=4, batch=3, seq_len=5, device="cpu"):
    model = _random_model(seed, vocab=6, embedding=3, hidden=4).double()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.5)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 6, (batches * batch * seq_len + batch,), generator=g)
    inputs, targets = oracle_make_batches(ids, batch, seq_len)
    return model.to(device), inputs.to(device), targets.to(device)


def train_checks(checks: Checks, fn) -> None:
    """Run inside `replaced(globals(), **reference_parts())`."""
    lr = 0.5

    def matches_oracle():
        for seed, max_norm, batches in ((0, 0.05, 4), (1, 1e3, 4), (2, 0.05, 1)):
            model, inputs, targets = _training_case(seed, batches=batches)
            want_losses, want_params = train_oracle(model, inputs, targets, lr, max_norm)
            optimizer = torch.optim.SGD(model.parameters(), lr=lr)
            losses = fn(model, inputs, targets, optimizer, max_norm)
            what = f"max_norm={max_norm:g}, {batches} batch(es)"
            expect_same_training(losses, want_losses, model, want_params, what=what)

    checks.check(
        "losses and updated weights match per-batch gradients (torch.func) with the state "
        "carried and detached, clipped, applied with SGD (clipping on and off, 1 batch)",
        2,
        matches_oracle,
    )

    def perplexity_threshold():
        # The real task: 150,000 characters of Python's documentation, one pass.
        text = load_text()
        vocab = oracle_build_vocabulary(text)
        train_ids = oracle_encode(text[:150_000], vocab)
        valid_ids = oracle_encode(text[150_000:170_000], vocab)
        torch.manual_seed(0)
        model = LentCharRNN(len(vocab), 32, 128)
        inputs, targets = oracle_make_batches(train_ids, 32, 50)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        fn(model, inputs, targets, optimizer, 1.0)
        with torch.no_grad():
            logits, _ = model(valid_ids[:-1].unsqueeze(0))
            valid = math.exp(float(oracle_cross_entropy(logits[0], valid_ids[1:])))
        if not valid < 10.0:
            raise CheckFailed(
                f"after one pass over 150,000 characters the validation perplexity is "
                f"{valid:.2f}; the reference reaches about 7.5, the unigram model 24; "
                "expected below 10"
            )

    checks.check(
        "one pass over 150,000 characters of Python's documentation reaches validation "
        "perplexity below 10 (reference: about 7.5; unigram model: 24)",
        2,
        perplexity_threshold,
    )

    def on_gpu():
        with cuda_or_simulated():
            model, inputs, targets = _training_case(4, device="cuda")
            optimizer = torch.optim.SGD(model.parameters(), lr=lr)
            losses = fn(model, inputs, targets, optimizer, 1.0)
            if not all(math.isfinite(v) for v in losses):
                raise CheckFailed(f"non-finite losses on CUDA: {losses}")

    checks.check("a model and batches on CUDA train on CUDA", 1, on_gpu)
