"""Hidden checks for project A (composing melodies with an LSTM).

Oracles, written independently of the reference solution: music21's own parse for the
tokens (notes read one by one, tied notes joined by hand, not with `stripTies`), the
token text split by hand for the streams, Python lists for the training pairs, the LSTM
equations written out for the model, for sampling the model run again over the whole
melody at every step (no state carried) and the softmax itself for the distribution of a
first draw, and a training loop that takes `torch.autograd.grad` per minibatch and
applies SGD by hand. (`oracle_sample`, which carries the state as `sample_melody` does,
is only lent to later cells.)
"""

import copy
import math
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn

from language_models_hidden_checks import _FunctionalModel, _generator
from rnncourse.checks import (
    CheckFailed,
    Checks,
    cuda_or_simulated,
    expect_close,
    expect_same_training,
    expect_tensor,
    in_kernel,
)
from rnncourse.models import FixedLogitsModel
from rnncourse.music import END, UNK, Vocabulary, load_chorales

F64 = torch.float64


# ---------------------------------------------------------------------------
# Oracles (also lent to the training cell, so it is graded on its own logic only)
# ---------------------------------------------------------------------------


def _length_text(quarter_length) -> str:
    from music21.common import opFrac

    return str(opFrac(quarter_length))


def oracle_tokenize(melody):
    """Notes and rests of music21's parse, a tied note's parts summed by hand."""
    names, lengths = [], []
    for element in melody.flatten().notesAndRests:
        if element.quarterLength == 0:
            continue
        name = element.pitch.nameWithOctave if element.isNote else "rest"
        tied = element.isNote and element.tie is not None and element.tie.type != "start"
        if tied and names and names[-1] == name:
            lengths[-1] += element.quarterLength
            continue
        names.append(name)
        lengths.append(element.quarterLength)
    return [f"{name}_{_length_text(length)}" for name, length in zip(names, lengths, strict=True)]


def oracle_detokenize(tokens):
    from music21 import note, stream

    out = stream.Stream()
    for token in tokens:
        if token.count("_") != 1:
            continue
        name, length = token.split("_")
        element = note.Rest() if name == "rest" else note.Note(name)
        element.quarterLength = Fraction(length)
        out.append(element)
    return out


def oracle_make_training_pairs(melodies, vocab, seq_len):
    ids = []
    for tokens in melodies:
        ids += [vocab.index.get(t, 0) for t in tokens] + [vocab.end_id]
    n = (len(ids) - 1) // seq_len
    inputs = [ids[i * seq_len : (i + 1) * seq_len] for i in range(n)]
    targets = [ids[i * seq_len + 1 : (i + 1) * seq_len + 1] for i in range(n)]
    as_tensor = lambda rows: torch.tensor(rows, dtype=torch.long).reshape(n, seq_len)  # noqa: E731
    return as_tensor(inputs), as_tensor(targets)


class LentMelodyLSTM(nn.Module):
    """The model the exercise describes, built from PyTorch's own modules: lent to later
    cells, and the template of the parameters the checks draw. Not an oracle: a student's
    model is compared with `lstm_equations`."""

    def __init__(self, vocab_size, embedding_size, hidden_size, num_layers=1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.lstm = nn.LSTM(embedding_size, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None):
        outputs, state = self.lstm(self.embedding(x), state)
        return self.head(outputs), state


def lstm_equations(parameters: dict, x, state=None):
    """MelodyLSTM's (logits, (h, c)) from its named parameters, step by step."""
    layers = sum(name.startswith("lstm.weight_ih_l") for name in parameters)
    hidden = parameters["lstm.weight_hh_l0"].shape[1]
    if state is None:
        zeros = parameters["head.weight"].new_zeros(layers, x.shape[0], hidden)
        state = (zeros, zeros)
    sequence = parameters["embedding.weight"][x]
    last_h, last_c = [], []
    for layer in range(layers):
        w_ih, w_hh, b_ih, b_hh = (
            parameters[f"lstm.{name}_l{layer}"]
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        h, c = state[0][layer], state[1][layer]
        outputs = []
        for t in range(x.shape[1]):
            gates = sequence[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
            i, f, g, o = gates.split(hidden, dim=-1)  # PyTorch's order: input, forget, cell, output
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        sequence = torch.stack(outputs, dim=1)
        last_h.append(h)
        last_c.append(c)
    logits = sequence @ parameters["head.weight"].T + parameters["head.bias"]
    return logits, (torch.stack(last_h), torch.stack(last_c))


@torch.no_grad()
def oracle_sample(model, prefix, n_tokens, temperature=1.0, generator=None, end_id=None):
    logits, state = model(prefix.reshape(1, -1))
    drawn = []
    while len(drawn) < n_tokens:
        z = logits[0, -1]
        if temperature == 0:
            choice = int(torch.argmax(z))
        else:
            p = torch.softmax(z / temperature, dim=-1)
            choice = int(torch.multinomial(p, 1, generator=generator)[0])
        if choice == end_id:
            break
        drawn.append(choice)
        logits, state = model(torch.full((1, 1), choice, device=prefix.device), state)
    return torch.tensor(drawn, dtype=torch.long, device=prefix.device)


@torch.no_grad()
def sample_by_rerunning(model, prefix, n_tokens, temperature=1.0, generator=None, end_id=None):
    """The oracle of `sample_melody`: at every step the model reads the whole melody so far
    from its start (no state carried from step to step); a drawn end_id ends it, unkept."""
    melody = prefix.reshape(1, -1)
    for _ in range(n_tokens):
        z = model(melody)[0][0, -1]
        if temperature == 0:
            choice = torch.argmax(z)
        else:
            p = torch.softmax(z / temperature, dim=-1)
            choice = torch.multinomial(p, 1, generator=generator)[0]
        if end_id is not None and int(choice) == end_id:
            break
        melody = torch.cat([melody, choice.reshape(1, 1)], dim=1)
    return melody[0, prefix.numel() :]


def train_oracle(model, inputs, targets, lr, n_epochs, batch_size, max_norm, seed):
    """Plain SGD over shuffled minibatches on a copy of `model`, gradients by
    torch.autograd.grad, clipping by its formula. Returns (losses, final parameters)."""
    model = copy.deepcopy(model)
    params = list(model.parameters())
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(n_epochs):
        order = torch.randperm(len(inputs), generator=generator).tolist()
        for batch in (order[s : s + batch_size] for s in range(0, len(order), batch_size)):
            logits, _ = model(inputs[batch])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets[batch].reshape(-1))
            grads = torch.autograd.grad(loss, params)
            norm = math.sqrt(sum(float((g**2).sum()) for g in grads))
            scale = min(1.0, max_norm / (norm + 1e-6))
            with torch.no_grad():
                for p, g in zip(params, grads, strict=True):
                    p -= lr * scale * g
            losses.append(float(loss))
    return losses, {name: p.detach() for name, p in model.named_parameters()}


def reference_parts() -> dict:
    """Correct versions of what `train_melody_model`'s cell uses, under the exercise's names."""
    return {
        "tokenize": oracle_tokenize,
        "detokenize": oracle_detokenize,
        "make_training_pairs": oracle_make_training_pairs,
        "MelodyLSTM": LentMelodyLSTM,
        "sample_melody": oracle_sample,
    }


def _random_model(seed, vocab=7, embedding=3, hidden=5, layers=1, cls=LentMelodyLSTM):
    oracle = LentMelodyLSTM(vocab, embedding, hidden, layers)
    g = torch.Generator().manual_seed(seed)
    weights = {name: torch.randn(p.shape, generator=g) for name, p in oracle.named_parameters()}
    model = cls(vocab, embedding, hidden, layers)
    model.load_state_dict(weights)
    return model


# ---------------------------------------------------------------------------
# The checks, one function per exercise cell
# ---------------------------------------------------------------------------


def _made_melody():
    """A part with measures, a tie over a bar line, rests, a grace note and a triplet."""
    from music21 import meter, note, stream, tie

    part = stream.Part()
    part.append(meter.TimeSignature("4/4"))
    for name, length in (("E5", 1.0), ("rest", 0.5), ("F#5", 0.5), ("G5", 2.0)):
        part.append(
            note.Rest(quarterLength=length)
            if name == "rest"
            else note.Note(name, quarterLength=length)
        )
    part.append(note.Note("D5").getGrace())
    first, second = note.Note("A4", quarterLength=1.0), note.Note("A4", quarterLength=1.0)
    first.tie, second.tie = tie.Tie("start"), tie.Tie("stop")
    for element in (
        note.Note("C5", quarterLength=2.0),
        note.Note("B-4", quarterLength=1.0),
        first,
        second,
        *(note.Note(n, quarterLength=Fraction(1, 3)) for n in ("C5", "D5", "E-5")),
        note.Note("F5", quarterLength=2.0),
    ):
        part.append(element)
    return part.makeMeasures()


def tokenize_checks(checks: Checks, tokenize, detokenize) -> None:
    chorales = load_chorales(25)  # among them, chorales with ties over bar lines

    def real_chorales():
        for i, melody in enumerate([_made_melody(), *chorales]):
            got, want = tokenize(melody), oracle_tokenize(melody)
            if list(got) != want:
                where = next(
                    (k for k, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None
                )
                where = min(len(got), len(want)) if where is None else where
                raise CheckFailed(
                    f"melody {i}: {len(got)} tokens, expected {len(want)}; first difference at "
                    f"token {where}: got {list(got)[where : where + 3]!r}, expected "
                    f"{want[where : where + 3]!r}"
                )

    checks.check(
        "the tokens of 25 real chorales (and of a melody with a tie over a bar line, rests, a "
        "grace note and a triplet) match music21's notes one by one, tied notes joined",
        3,
        real_chorales,
    )

    def round_trip():
        for melody in [_made_melody(), *chorales[:10]]:
            tokens = oracle_tokenize(melody)
            back = detokenize([UNK, *tokens[:5], END, "nonsense", *tokens[5:], END])
            notes = list(back.flatten().notesAndRests)
            want = list(oracle_detokenize(tokens).flatten().notesAndRests)
            if len(notes) != len(want):
                raise CheckFailed(
                    f"detokenize gave {len(notes)} notes and rests for {len(want)} note "
                    "tokens (UNK, END and 'nonsense' must be skipped)"
                )
            for k, (a, b) in enumerate(zip(notes, want, strict=True)):
                same = (
                    a.isRest == b.isRest
                    and (a.isRest or a.pitch.nameWithOctave == b.pitch.nameWithOctave)
                    and a.quarterLength == b.quarterLength
                    and a.offset == b.offset
                )
                if not same:
                    raise CheckFailed(
                        f"element {k} of detokenize's stream is {a!r} (length "
                        f"{a.quarterLength}, at {a.offset}), expected {b!r} (length "
                        f"{b.quarterLength}, at {b.offset})"
                    )

    checks.check(
        "detokenize plays the tokens of 10 chorales and of a melody with a triplet one after "
        "the other, with their pitches and durations, skipping UNK, END and other tokens",
        2,
        round_trip,
    )

    def full_round_trip():
        for melody in chorales[10:]:
            tokens = oracle_tokenize(melody)
            again = tokenize(detokenize(tokens))
            if list(again) != tokens:
                raise CheckFailed("tokenize(detokenize(tokens)) differs from tokens")

    checks.check("tokenize(detokenize(tokens)) == tokens for 15 chorales", 1, full_round_trip)

    def writes_midi():
        from music21 import midi

        tokens = oracle_tokenize(chorales[0])
        # music21's own writer, run where the stream lives (when graded: the student's kernel).
        written = midi.MidiFile()
        written.readstr(in_kernel(midi.translate.streamToMidiFile, detokenize(tokens)).writestr())
        melody = midi.translate.midiFileToStream(written)
        back = [n.pitch.midi for n in melody.stripTies().flatten().notes]
        want = [n.pitch.midi for n in chorales[0].stripTies().flatten().notes]
        if back != want:
            raise CheckFailed("the MIDI file written from detokenize's stream has other pitches")

    checks.check(
        "music21 writes detokenize's stream to a MIDI file with the right pitches", 1, writes_midi
    )


def pairs_checks(checks: Checks, fn) -> None:
    g = torch.Generator().manual_seed(0)
    pool = [f"{n}{o}_{d}" for n in "CDEFGAB" for o in (4, 5) for d in ("0.5", "1.0", "2.0")]
    melodies = [
        [pool[int(i)] for i in torch.randint(0, len(pool), (int(n),), generator=g)]
        for n in torch.randint(1, 30, (12,), generator=g)
    ]
    vocab = Vocabulary(melodies[:8])  # the last melodies have unknown tokens

    def values():
        for seq_len, some in (
            (16, melodies),
            (5, melodies[:3]),
            (1, melodies[:2]),
            (7, melodies[8:]),
        ):
            got = fn(some, vocab, seq_len)
            want = oracle_make_training_pairs(some, vocab, seq_len)
            if not isinstance(got, tuple | list) or len(got) != 2:
                raise CheckFailed(f"expected (inputs, targets), got {type(got).__name__}")
            what = f"{len(some)} melodies, seq_len {seq_len}"
            expect_close(got[0], want[0], what=f"the inputs ({what})")
            expect_close(got[1], want[1], what=f"the targets ({what})")

    checks.check(
        "inputs and targets match windows of a list of ids with END after each melody "
        "(seq_len 1, 5, 7, 16; unknown tokens)",
        3,
        values,
    )

    def exact_fit():
        # 3 melodies of 3 tokens: 12 ids; with seq_len 11 one window, with 12 none.
        some = [melodies[0][:3]] * 3
        for seq_len, count in ((11, 1), (12, 0), (3, 3)):
            inputs, targets = fn(some, vocab, seq_len)
            expect_tensor(
                inputs,
                shape=(count, seq_len),
                dtype=torch.long,
                what=f"inputs for seq_len {seq_len}",
            )
            expect_tensor(
                targets,
                shape=(count, seq_len),
                dtype=torch.long,
                what=f"targets for seq_len {seq_len}",
            )
        melodies_before = copy.deepcopy(melodies)
        fn(melodies, vocab, 4)
        if melodies != melodies_before:
            raise CheckFailed("the list of melodies was modified")

    checks.check(
        "12 ids give 1 window of 11, none of 12, 3 of 3 (room for the last target); "
        "the melodies are left unchanged",
        1,
        exact_fit,
    )


def model_checks(checks: Checks, cls) -> None:
    def outputs():
        cases = [  # (layers, batch, time, state given, dtype)
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
            state = None
            if given:
                state = tuple(torch.randn(layers, batch, 5, generator=g, dtype=dtype) for _ in "hc")
            got_logits, got_state = model(x, state)
            want_logits, want_state = lstm_equations(weights, x, state)
            what = f"{layers} layer(s), B={batch}, T={time}, state " + (
                "given" if given else "None"
            )
            tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-9)
            expect_close(got_logits, want_logits, **tol, what=f"the logits ({what})")
            expect_close(got_state[0], want_state[0], **tol, what=f"the last h ({what})")
            expect_close(got_state[1], want_state[1], **tol, what=f"the last c ({what})")

    checks.check(
        "logits and last (h, c) match the LSTM equations over the same weights "
        "(1 to 3 layers, B = 1, T = 1, with and without a state, float32 and float64)",
        3,
        outputs,
    )

    def carries_state():
        model = _random_model(5, cls=cls).double()
        x = torch.randint(0, 7, (2, 6), generator=torch.Generator().manual_seed(3))
        whole, (h_whole, c_whole) = model(x)
        first, state = model(x[:, :4])
        second, (h, c) = model(x[:, 4:], state)
        expect_close(torch.cat([first, second], 1), whole, rtol=1e-9, what="the logits")
        expect_close(h, h_whole, rtol=1e-9, what="the last h")
        expect_close(c, c_whole, rtol=1e-9, what="the last c")

    checks.check("running in two pieces, passing the state, equals one run", 1, carries_state)

    def on_gpu():
        with cuda_or_simulated():
            model = _random_model(6, cls=cls).to("cuda")
            logits, (h, c) = model(torch.zeros(2, 3, dtype=torch.long, device="cuda"))
            expect_tensor(logits, device="cuda", what="the logits")
            expect_tensor(h, device="cuda", what="the last h")

    checks.check("a model on CUDA computes on CUDA (state None)", 1, on_gpu)


def sample_checks(checks: Checks, fn) -> None:
    prefix = torch.tensor([1, 4, 2])

    def same_as_oracle(device):
        model = _FunctionalModel(device)
        for temperature, n, end_id in (
            (1.0, 30, None),
            (0.5, 20, 3),
            (2.0, 25, None),
            (1.0, 40, 0),
        ):
            got = fn(model, prefix.to(device), n, temperature, _generator(device, 7), end_id)
            want = sample_by_rerunning(
                model, prefix.to(device), n, temperature, _generator(device, 7), end_id
            )
            expect_close(got, want, what=f"the ids for temperature {temperature}, end_id {end_id}")

    checks.on_each_device(
        "seeded samples match the model run again over the whole melody at each step "
        "(temperature 0.5, 1, 2; with and without an end id; history-dependent model)",
        2,
        same_as_oracle,
    )

    def distribution():
        # One sample of 2000 ids from a model whose logits never change: 2000 independent
        # draws (see the language-model checks).
        logits = _FunctionalModel("cpu", seed=2)(prefix.reshape(1, -1))[0][0, -1]
        model = FixedLogitsModel(logits)
        for temperature in (0.5, 2.0):
            want = torch.softmax(logits / temperature, -1)
            n = 2000
            ids = fn(model, prefix, n, temperature, torch.Generator().manual_seed(0))
            expect_tensor(ids, shape=(n,), what=f"sample_melody(..., n={n})")
            got = torch.bincount(ids.long(), minlength=6).double() / n
            worst = float(
                ((got - want).abs() / (want * (1 - want) / n).sqrt().clamp_min(1e-3)).max()
            )
            if worst > 5:
                raise CheckFailed(
                    f"temperature {temperature}: the ids' frequencies "
                    f"{[round(v, 3) for v in got.tolist()]} are far from softmax(logits / T) "
                    f"= {[round(v, 3) for v in want.tolist()]}"
                )

    checks.check(
        "the ids follow softmax(logits / temperature) for T = 0.5 and 2 "
        "(2000 draws, within 5 standard errors)",
        1,
        distribution,
    )

    def greedy_and_end():
        model = _FunctionalModel("cpu", seed=1)
        want = sample_by_rerunning(model, prefix, 15, 0)
        expect_close(fn(model, prefix, 15, 0), want, what="the greedy ids (temperature 0)")
        cold = fn(model, prefix, 15, 1e-4, torch.Generator().manual_seed(0))
        expect_close(cold, want, what="the ids for temperature 1e-4 (must equal greedy)")
        end_id = int(want[4])
        expect_close(
            fn(model, prefix, 15, 0, None, end_id),
            sample_by_rerunning(model, prefix, 15, 0, None, end_id),
            what=f"the greedy ids with end_id {end_id} (stop before it)",
        )
        empty = fn(model, prefix, 0, 1.0, torch.Generator().manual_seed(0))
        expect_tensor(empty, shape=(0,), dtype=torch.long, what="sample_melody(..., n_tokens=0)")

    checks.check(
        "temperature 0 and 1e-4 give the greedy melody; it stops before end_id; n_tokens 0",
        1,
        greedy_and_end,
    )

    def uses_generator():
        model = _FunctionalModel("cpu", seed=3)
        torch.manual_seed(0)
        a = fn(model, prefix, 30, 1.0, torch.Generator().manual_seed(5))
        torch.manual_seed(1)
        b = fn(model, prefix, 30, 1.0, torch.Generator().manual_seed(5))
        c = fn(model, prefix, 30, 1.0, torch.Generator().manual_seed(6))
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
        lambda model, ids, g: fn(model, ids, 5, 1.0, g),
        lambda device: (_FunctionalModel(device), prefix.to(device), _generator(device, 0)),
    )


def _training_case(seed, n_windows=10, seq_len=5):
    model = _random_model(seed, vocab=6, embedding=3, hidden=4).double()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.5)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 6, (n_windows, seq_len + 1), generator=g)
    return model, ids[:, :-1].clone(), ids[:, 1:].clone()


def chorale_loss(train, seconds_budget=None):
    """Train a MelodyLSTM with `train` on 90 chorales; (validation loss, unigram loss)."""
    melodies = [oracle_tokenize(m) for m in load_chorales(120)]
    vocab = Vocabulary(melodies[:90])
    inputs, targets = oracle_make_training_pairs(melodies[:90], vocab, 32)
    valid_inputs, valid_targets = oracle_make_training_pairs(melodies[90:], vocab, 32)
    torch.manual_seed(0)
    model = LentMelodyLSTM(len(vocab), 32, 128)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    train(model, inputs, targets, optimizer, 10, 32, 1.0, torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits, _ = model(valid_inputs)
        valid = float(F.cross_entropy(logits.flatten(0, 1), valid_targets.flatten()))
    counts = torch.bincount(targets.flatten(), minlength=len(vocab)).double() + 0.5
    unigram = float(-(counts / counts.sum()).log()[valid_targets.flatten()].mean())
    return valid, unigram


THRESHOLD = 3.2  # nats per token; the unigram model: about 3.9, the reference about 3.0


def train_checks(checks: Checks, fn) -> None:
    """Run inside `replaced(globals(), **reference_parts())`."""
    lr = 0.5

    def matches_oracle():
        for seed, max_norm, epochs, batch in ((0, 0.05, 2, 4), (1, 1e3, 1, 3), (2, 0.05, 2, 20)):
            model, inputs, targets = _training_case(seed)
            want_losses, want_params = train_oracle(
                model, inputs, targets, lr, epochs, batch, max_norm, seed
            )
            optimizer = torch.optim.SGD(model.parameters(), lr=lr)
            generator = torch.Generator().manual_seed(seed)
            losses = fn(model, inputs, targets, optimizer, epochs, batch, max_norm, generator)
            what = f"{epochs} epoch(s), batch {batch}, max_norm={max_norm:g}"
            expect_same_training(
                losses, want_losses, model, want_params, what=what, unit="minibatch"
            )

    checks.check(
        "losses and updated weights match shuffled minibatches (one randperm per epoch from "
        "the generator, the last minibatch smaller) with per-minibatch gradients, clipped, "
        "applied with SGD (clipping on and off; a minibatch larger than the data)",
        3,
        matches_oracle,
    )

    def threshold():
        valid, unigram = chorale_loss(fn)
        if not valid < THRESHOLD:
            raise CheckFailed(
                f"after 10 epochs over 90 chorales the validation loss is {valid:.3f} nats per "
                f"token; expected below {THRESHOLD} (the reference reaches about 3.0, the "
                f"unigram model {unigram:.2f})"
            )

    checks.check(
        f"10 epochs over 90 chorales reach a validation loss below {THRESHOLD} nats per token "
        "on 30 others (reference: about 3.0; unigram model: about 3.9)",
        2,
        threshold,
    )

    def on_gpu():
        with cuda_or_simulated():
            model, inputs, targets = _training_case(4)
            model, inputs, targets = model.to("cuda"), inputs.to("cuda"), targets.to("cuda")
            optimizer = torch.optim.SGD(model.parameters(), lr=lr)
            losses = fn(
                model, inputs, targets, optimizer, 1, 4, 1.0, torch.Generator().manual_seed(0)
            )
            if not all(math.isfinite(v) for v in losses):
                raise CheckFailed(f"non-finite losses on CUDA: {losses}")

    checks.check("a model and windows on CUDA train on CUDA", 1, on_gpu)
