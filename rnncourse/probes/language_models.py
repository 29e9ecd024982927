"""Probes of exercise 3 (Language modelling): see rnncourse/diagnosis.py."""

import torch

from rnncourse.probes import ToyLanguageModel, chars, load_random_weights

_VOCAB = ["\ufffd", " ", "a", "b", "c"]


def _build_vocabulary(fn):
    return chars(fn("hello, world")), chars(fn("b\ufffdab"))


def _encode(fn):
    return (fn("abc cab?", _VOCAB),)


def _decode(fn):
    return chars(fn(torch.tensor([2, 0, 3, 1, 4]), _VOCAB)), chars(fn([4, 4, 0], _VOCAB))


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


def _char_rnn(fn):
    model = fn(5, 3, 4)
    n_parameters = load_random_weights(model, seed=5)
    x = torch.tensor([[0, 1, 2, 3], [4, 4, 0, 1]])
    logits, h = model(x)
    again, h2 = model(x[:, :2], torch.full((1, 2, 4), 0.3))
    return n_parameters, logits, h, again, h2


def _sample(fn):
    model, prefix = ToyLanguageModel(), torch.tensor([1, 3])
    return (
        fn(model, prefix, 6, 0),
        fn(model, prefix, 8, 1.0, None, torch.Generator().manual_seed(0)),
        fn(model, prefix, 8, 0.5, 2, torch.Generator().manual_seed(1)),
    )


def _train_language_model(fn):
    model = ToyLanguageModel(seed=1)
    g = torch.Generator().manual_seed(6)
    inputs = torch.randint(0, 5, (3, 2, 4), generator=g)
    targets = torch.randint(0, 5, (3, 2, 4), generator=g)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = fn(model, inputs, targets, optimizer, 0.1)
    losses = torch.tensor([float(v) for v in losses], dtype=torch.float64)
    return (losses, *(p.detach() for p in model.parameters()))


PROBES = {
    "build_vocabulary": _build_vocabulary,
    "encode": _encode,
    "decode": _decode,
    "make_batches": _make_batches,
    "cross_entropy": _cross_entropy,
    "perplexity": _cross_entropy,
    "CharRNN": _char_rnn,
    "sample": _sample,
    "train_language_model": _train_language_model,
}
