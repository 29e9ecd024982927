"""Probes of exercise 7 (sequence to sequence, attention and beam search): see
rnncourse/diagnosis.py."""

import torch

from rnncourse.models import AttentionDecoder
from rnncourse.probes import load_random_weights, randn


def _attention_mask():
    return torch.tensor([[True, True, True, True], [True, True, False, False]])


def _additive_attention(fn):
    query, keys, W_q, W_k, v = randn(41, (2, 3), (2, 4, 3), (3, 3), (3, 3), (3,))
    return tuple(fn(query, keys, _attention_mask(), W_q, W_k, v))


def _dot_product_attention(fn):
    query, keys, values = randn(42, (2, 4), (2, 4, 4), (2, 4, 2))
    return tuple(fn(query, keys, values, _attention_mask()))


def _masked_cross_entropy(fn):
    (logits,) = randn(43, (2, 3, 5), scale=3.0)
    targets = torch.tensor([[1, 4, 2], [3, 0, 0]])
    return (fn(logits, targets, 0), fn(logits, targets, 2))


def _probe_decoder():
    """Every size 3 (so that a swapped order runs), standard normal weights."""
    decoder = AttentionDecoder(vocab=5, embed=3, hidden=3, encoder_size=3, attention_size=3)
    load_random_weights(decoder, 44)
    return decoder.double()


def _decoder_step(fn):
    h, encoder_outputs = randn(45, (2, 3), (2, 4, 3))
    return tuple(fn(_probe_decoder(), torch.tensor([1, 4]), h, encoder_outputs, _attention_mask()))


def _teacher_forced_logits(fn):
    h0, encoder_outputs = randn(46, (2, 3), (2, 4, 3))
    targets = torch.tensor([[2, 3, 4], [4, 0, 0]])
    return (fn(_probe_decoder(), targets, h0, encoder_outputs, _attention_mask(), 1),)


def _table_step(seed, vocab=4):
    """step(token, state): log-probabilities from a fixed table of (step, token)."""
    (logits,) = randn(seed, (6, vocab, vocab), scale=1.5)
    table = torch.log_softmax(logits, dim=-1)

    def step(token, state):
        return table[min(int(state), 5), int(token)], int(state) + 1

    return step


def _tokens(tokens) -> torch.Tensor:
    return torch.tensor([float(t) for t in tokens], dtype=torch.float64)


def _greedy_decode(fn):
    return tuple(_tokens(fn(_table_step(seed), 0, 0, 3, 5)) for seed in (47, 48, 49))


def _beam_search(fn):
    results = []
    for width, alpha in ((2, 0.0), (2, 1.0), (3, 0.75)):
        tokens, score = fn(_table_step(50), 0, 0, 3, 4, width, alpha)
        results += [_tokens(tokens), torch.tensor([float(score)], dtype=torch.float64)]
    return tuple(results)


def _exact_match(fn):
    cases = [(["12", "34", "5"], ["12", "35", "5"]), (["1234", "12"], ["123", "12"])]
    return (torch.tensor([float(fn(p, t)) for p, t in cases], dtype=torch.float64),)


PROBES = {
    "additive_attention": _additive_attention,
    "dot_product_attention": _dot_product_attention,
    "masked_cross_entropy": _masked_cross_entropy,
    "decoder_step": _decoder_step,
    "teacher_forced_logits": _teacher_forced_logits,
    "greedy_decode": _greedy_decode,
    "beam_search": _beam_search,
    "exact_match": _exact_match,
}
