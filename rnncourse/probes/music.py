"""Probes of Project A (composing melodies with an LSTM): see rnncourse/diagnosis.py."""

import torch

from rnncourse.probes import ToyLanguageModel, chars, load_random_weights


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
    return (chars("|".join(fn(_melody()))),)


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
    n_parameters = load_random_weights(model, seed=5)
    x = torch.tensor([[0, 1, 2, 3], [4, 4, 0, 1]])
    logits, (h, c) = model(x)
    state = (torch.full((1, 2, 4), 0.3), torch.full((1, 2, 4), -0.2))
    again, (h2, c2) = model(x[:, :2], state)
    return n_parameters, logits, h, c, again, h2, c2


def _sample_melody(fn):
    model, prefix = ToyLanguageModel(), torch.tensor([1, 3])
    return (
        fn(model, prefix, 6, 0),
        fn(model, prefix, 6, 0, None, 2),
        fn(model, prefix, 8, 1.0, torch.Generator().manual_seed(0)),
        fn(model, prefix, 8, 0.5, torch.Generator().manual_seed(1), 4),
        fn(model, prefix, 8, 0.5, torch.Generator().manual_seed(2)),
    )


def _train_melody_model(fn):
    model = ToyLanguageModel(seed=2)
    g = torch.Generator().manual_seed(7)
    inputs = torch.randint(0, 5, (5, 4), generator=g)
    targets = torch.randint(0, 5, (5, 4), generator=g)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = fn(model, inputs, targets, optimizer, 2, 2, 0.1, torch.Generator().manual_seed(3))
    losses = torch.tensor([float(v) for v in losses], dtype=torch.float64)
    return (losses, *(p.detach() for p in model.parameters()))


PROBES = {
    "tokenize": _tokenize,
    "detokenize": _detokenize,
    "make_training_pairs": _make_training_pairs,
    "MelodyLSTM": _melody_lstm,
    "sample_melody": _sample_melody,
    "train_melody_model": _train_melody_model,
}
