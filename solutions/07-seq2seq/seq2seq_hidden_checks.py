"""Hidden checks for exercise 7 (sequence to sequence, attention and beam search).

Oracles, independent of the reference solution: additive attention as a loop over source
positions with a softmax over the real positions; PyTorch's own
`scaled_dot_product_attention` and `cross_entropy(ignore_index=...)`; a decoder step with
the GRU's equations written out from `nn.GRUCell`'s weights; teacher forcing as a loop
that reads each step's input by index; greedy decoding as a `while` loop; beam search
checked against an exhaustive search over every output sequence of a tiny model (a wide
beam must find its best) and against the definition written with `heapq` (narrow beams).
"""

import heapq
import math

import torch
import torch.nn.functional as F

from rnncourse.checks import (
    CheckFailed,
    Checks,
    expect_close,
    expect_finite,
    expect_tensor,
    expect_unchanged,
    run_on_cuda,
)
from rnncourse.models import AttentionDecoder

F64 = torch.float64


# ---------------------------------------------------------------------------
# Oracles
# ---------------------------------------------------------------------------


def _softmax_over_real(scores, mask):
    shifted = scores - scores.masked_fill(~mask, -math.inf).amax(dim=1, keepdim=True)
    e = torch.exp(shifted.masked_fill(~mask, -math.inf))
    return e / e.sum(dim=1, keepdim=True)


def attention_by_positions(query, keys, mask, W_q, W_k, v):
    """Bahdanau's attention, one source position at a time."""
    projected = F.linear(query, W_q)
    scores = torch.stack(
        [torch.tanh(projected + F.linear(keys[:, s], W_k)) @ v for s in range(keys.shape[1])],
        dim=1,
    )
    weights = _softmax_over_real(scores, mask)
    context = sum(weights[:, s : s + 1] * keys[:, s] for s in range(keys.shape[1]))
    return context, weights


def gru_by_hand(cell, x, h):
    """nn.GRUCell's update, from its weights (gates r, z, n in that order)."""
    i_r, i_z, i_n = F.linear(x, cell.weight_ih, cell.bias_ih).chunk(3, dim=1)
    h_r, h_z, h_n = F.linear(h, cell.weight_hh, cell.bias_hh).chunk(3, dim=1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def step_by_hand(d, y_prev, h, encoder_outputs, mask):
    context, weights = attention_by_positions(
        h, encoder_outputs, mask, d.W_q.weight, d.W_k.weight, d.v.weight[0]
    )
    x = torch.cat([d.embedding.weight[y_prev], context], dim=1)
    h_new = gru_by_hand(d.cell, x, h)
    logits = F.linear(torch.cat([h_new, context], dim=1), d.out.weight, d.out.bias)
    return logits, h_new, weights


def teacher_forcing_by_index(d, targets, h0, encoder_outputs, mask, bos_id):
    h, logits = h0, []
    for t in range(targets.shape[1]):
        y_prev = targets[:, t - 1] if t > 0 else torch.full_like(targets[:, 0], bos_id)
        step_logits, h, _ = step_by_hand(d, y_prev, h, encoder_outputs, mask)
        logits.append(step_logits)
    return torch.stack(logits, dim=1)


def step_parts() -> dict:
    """A correct `additive_attention`, lent to the `decoder_step` cell."""
    return {"additive_attention": attention_by_positions}


def teacher_parts() -> dict:
    """A correct `decoder_step`, lent to the `teacher_forced_logits` cell."""
    return {"additive_attention": attention_by_positions, "decoder_step": step_by_hand}


class TableModel:
    """`step(token, state)` for the decoding checks: the next token's log-probabilities
    depend on the previous token and on the step number (the state, an int)."""

    def __init__(self, vocab, steps, seed, eos_id=None, eos_boost=0.0, device="cpu"):
        g = torch.Generator().manual_seed(seed)
        logits = 1.5 * torch.randn(steps + 1, vocab, vocab, generator=g, dtype=F64)
        if eos_id is not None:
            logits[..., eos_id] += eos_boost
        self.table = torch.log_softmax(logits, dim=-1).to(device)

    def __call__(self, token, state):
        row = min(int(state), self.table.shape[0] - 1)
        return self.table[row, int(token)], int(state) + 1


def greedy_by_while(step, state, bos_id, eos_id, max_len):
    tokens, token = [], bos_id
    while len(tokens) < max_len and (not tokens or tokens[-1] != eos_id):
        log_probs, state = step(token, state)
        token = max(range(len(log_probs)), key=lambda i: float(log_probs[i]))
        tokens.append(token)
    return tokens


def _normalised(log_prob, length, alpha):
    return log_prob / length**alpha


def exhaustive_best(step, state, bos_id, eos_id, max_len, alpha):
    """(tokens, score) of the best of every output: those that end with eos_id and those
    that reach max_len without it."""
    best = (None, -math.inf)
    stack = [([], 0.0, state)]
    while stack:
        tokens, log_prob, st = stack.pop()
        if tokens and (tokens[-1] == eos_id or len(tokens) == max_len):
            score = _normalised(log_prob, len(tokens), alpha)
            best = max(best, (tokens, score), key=lambda pair: pair[1])
            continue
        log_probs, following = step(tokens[-1] if tokens else bos_id, st)
        for token, value in enumerate(log_probs.tolist()):
            stack.append((tokens + [token], log_prob + value, following))
    return best


def beam_by_heap(step, state, bos_id, eos_id, max_len, beam_width, alpha):
    """Beam search as the notebook defines it, written with heapq."""
    beam, done = [((), 0.0, state)], []
    for _ in range(max_len):
        grown = []
        for tokens, log_prob, st in beam:
            log_probs, following = step(tokens[-1] if tokens else bos_id, st)
            grown += [
                (tokens + (token,), log_prob + value, following)
                for token, value in enumerate(log_probs.tolist())
            ]
        kept = heapq.nlargest(beam_width, grown, key=lambda c: _normalised(c[1], len(c[0]), alpha))
        done += [c for c in kept if c[0][-1] == eos_id]
        beam = [c for c in kept if c[0][-1] != eos_id]
        if not beam:
            break
    tokens, log_prob, _ = max(done + beam, key=lambda c: _normalised(c[1], len(c[0]), alpha))
    return list(tokens), _normalised(log_prob, len(tokens), alpha)


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def _mask(batch, length, g, device):
    lengths = torch.randint(1, length + 1, (batch,), generator=g)
    lengths[0] = length  # one full row
    return (torch.arange(length)[None] < lengths[:, None]).to(device)


def _attention_inputs(batch, length, hq, hk, size, seed, dtype=F64, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(batch, hq, generator=g, dtype=dtype)
    keys = torch.randn(batch, length, hk, generator=g, dtype=dtype)
    W_q = torch.randn(size, hq, generator=g, dtype=dtype)
    W_k = torch.randn(size, hk, generator=g, dtype=dtype)
    v = torch.randn(size, generator=g, dtype=dtype)
    mask = _mask(batch, length, g, device)
    return [query.to(device), keys.to(device), mask, W_q.to(device), W_k.to(device), v.to(device)]


ATTENTION_SIZES = [(3, 5, 4, 6, 7), (1, 1, 2, 2, 3), (4, 7, 3, 5, 2)]  # B, S, H_q, H_k, A


def _decoder(seed, vocab=9, embed=3, hidden=5, encoder_size=4, attention_size=6, dtype=F64):
    torch.manual_seed(seed)
    return AttentionDecoder(vocab, embed, hidden, encoder_size, attention_size).to(dtype)


def _decoder_inputs(d, batch, length, seed, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    dtype = d.out.weight.dtype
    y_prev = torch.randint(0, d.embedding.num_embeddings, (batch,), generator=g)
    h = torch.randn(batch, d.cell.hidden_size, generator=g, dtype=dtype)
    enc = torch.randn(batch, length, d.W_k.in_features, generator=g, dtype=dtype)
    mask = _mask(batch, length, g, device)
    return y_prev.to(device), h.to(device), enc.to(device), mask


def _check_unchanged(saved, now, names):
    for before, after, name in zip(saved, now, names, strict=True):
        expect_unchanged(before, after, what=name)


# ---------------------------------------------------------------------------
# The checks, one function per exercise cell
# ---------------------------------------------------------------------------


def additive_checks(checks: Checks, fn) -> None:
    def values(device):
        for i, sizes in enumerate(ATTENTION_SIZES):
            for dtype in (F64, torch.float32):
                args = _attention_inputs(*sizes, 10 + i, dtype, device)
                saved = [t.clone() for t in args]
                context, weights = fn(*args)
                want_context, want_weights = attention_by_positions(*(t.cpu() for t in args))
                batch, length, _, hk, _ = sizes
                expect_tensor(weights, shape=(batch, length), dtype=dtype, what="the weights")
                expect_tensor(context, shape=(batch, hk), dtype=dtype, what="the context")
                tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10)
                what = f"(B, S, H_q, H_k, A) = {sizes}, {dtype}"
                expect_close(weights.cpu(), want_weights, **tol, what=f"the weights, {what}")
                expect_close(context.cpu(), want_context, **tol, what=f"the context, {what}")
                if (weights.cpu()[~args[2].cpu()] != 0).any():
                    raise CheckFailed("a padded position got a weight that is not exactly 0")
                _check_unchanged(saved, args, ("query", "keys", "mask", "W_q", "W_k", "v"))

    checks.on_each_device(
        "matches a loop over source positions (3 sizes incl. S = 1, H_q != H_k; padded rows; "
        "float32 and float64; padded positions weigh exactly 0; inputs unchanged)",
        2,
        values,
    )

    def padding_is_ignored():
        query, keys, mask, W_q, W_k, v = _attention_inputs(3, 6, 4, 5, 6, 20)
        other = torch.where(mask[..., None], keys, 1e4 * torch.randn_like(keys))
        first, second = fn(query, keys, mask, W_q, W_k, v), fn(query, other, mask, W_q, W_k, v)
        expect_close(first[0], second[0], rtol=1e-12, what="the context with other padding")

    checks.check(
        "what stands at padded positions (even values of 1e4) changes nothing",
        1,
        padding_is_ignored,
    )

    def gradients():
        args = _attention_inputs(3, 5, 4, 6, 7, 21)
        leaves = [args[i].requires_grad_() for i in (0, 1, 3, 4, 5)]
        all_args = [args[0], args[1], args[2], args[3], args[4], args[5]]
        weights_out = torch.randn(3, 6, dtype=F64, generator=torch.Generator().manual_seed(22))
        got = torch.autograd.grad((fn(*all_args)[0] * weights_out).sum(), leaves)
        want = torch.autograd.grad(
            (attention_by_positions(*all_args)[0] * weights_out).sum(), leaves
        )
        for name, g, w in zip(("query", "keys", "W_q", "W_k", "v"), got, want, strict=True):
            expect_close(g, w, rtol=1e-8, atol=1e-10, what=f"the gradient with respect to {name}")

    checks.check("gradients match autograd through the loop", 1, gradients)
    checks.device_safe(
        "CUDA inputs give CUDA context and weights, no tensor made on the CPU",
        1,
        fn,
        lambda device: _attention_inputs(2, 4, 3, 5, 6, 23, torch.float32, device),
    )


def _dot_inputs(batch, length, dim, value_dim, seed, dtype=F64, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(batch, dim, generator=g, dtype=dtype)
    keys = torch.randn(batch, length, dim, generator=g, dtype=dtype)
    values = torch.randn(batch, length, value_dim, generator=g, dtype=dtype)
    mask = _mask(batch, length, g, device)
    return [query.to(device), keys.to(device), values.to(device), mask]


def _sdpa(query, keys, values, mask):
    """PyTorch's own: (context, weights); the weights are its output for identity values."""
    q, k, m = query[:, None, None], keys[:, None], mask[:, None, None]
    context = F.scaled_dot_product_attention(q, k, values[:, None], attn_mask=m)[:, 0, 0]
    eye = torch.eye(keys.shape[1], dtype=keys.dtype).expand(keys.shape[0], -1, -1)
    weights = F.scaled_dot_product_attention(q, k, eye[:, None], attn_mask=m)[:, 0, 0]
    return context, weights


def dot_checks(checks: Checks, fn) -> None:
    def values(device):
        for i, sizes in enumerate(((3, 5, 4, 2), (1, 1, 3, 3), (4, 8, 16, 5))):
            for dtype in (F64, torch.float32):
                args = _dot_inputs(*sizes, 30 + i, dtype, device)
                saved = [t.clone() for t in args]
                context, weights = fn(*args)
                want_context, want_weights = _sdpa(*(t.cpu() for t in args))
                batch, length, _, value_dim = sizes
                expect_tensor(weights, shape=(batch, length), dtype=dtype, what="the weights")
                expect_tensor(context, shape=(batch, value_dim), dtype=dtype, what="the context")
                tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10)
                what = f"(B, S, D, D_v) = {sizes}, {dtype}"
                expect_close(weights.cpu(), want_weights, **tol, what=f"the weights, {what}")
                expect_close(context.cpu(), want_context, **tol, what=f"the context, {what}")
                if (weights.cpu()[~args[3].cpu()] != 0).any():
                    raise CheckFailed("a padded position got a weight that is not exactly 0")
                _check_unchanged(saved, args, ("query", "keys", "values", "mask"))

    checks.on_each_device(
        "matches torch.nn.functional.scaled_dot_product_attention (3 sizes incl. S = 1 and "
        "D = 16; padded rows; float32 and float64; padding weighs exactly 0; inputs unchanged)",
        2,
        values,
    )

    def gradients():
        args = _dot_inputs(3, 5, 4, 2, 33)
        leaves = [args[i].requires_grad_() for i in range(3)]
        weights_out = torch.randn(3, 2, dtype=F64, generator=torch.Generator().manual_seed(34))
        got = torch.autograd.grad((fn(*args)[0] * weights_out).sum(), leaves)
        want = torch.autograd.grad((_sdpa(*args)[0] * weights_out).sum(), leaves)
        for name, g, w in zip(("query", "keys", "values"), got, want, strict=True):
            expect_close(g, w, rtol=1e-8, atol=1e-10, what=f"the gradient with respect to {name}")

    checks.check("gradients match autograd through scaled_dot_product_attention", 1, gradients)
    checks.device_safe(
        "CUDA inputs give CUDA context and weights, no tensor made on the CPU",
        1,
        fn,
        lambda device: _dot_inputs(2, 4, 3, 2, 35, torch.float32, device),
    )


def _loss_inputs(batch, length, vocab, pad_id, seed, dtype=F64, device="cpu", scale=1.0):
    g = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(batch, length, vocab, generator=g, dtype=dtype)
    targets = torch.randint(0, vocab, (batch, length), generator=g)
    lengths = torch.randint(1, length + 1, (batch,), generator=g)
    targets[torch.arange(length)[None] >= lengths[:, None]] = pad_id
    targets[targets == pad_id] = (pad_id + 1) % vocab  # no pad inside the real part...
    targets[torch.arange(length)[None] >= lengths[:, None]] = pad_id  # ...padding at the end
    return logits.to(device), targets.to(device)


def _cross_entropy(logits, targets, pad_id):
    return F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=pad_id)


def loss_checks(checks: Checks, fn) -> None:
    def values(device):
        cases = [(3, 6, 5, 0), (1, 1, 4, 3), (4, 9, 7, 6), (2, 5, 3, 1)]  # B, T, V, pad id
        for i, (batch, length, vocab, pad_id) in enumerate(cases):
            for dtype in (F64, torch.float32):
                logits, targets = _loss_inputs(batch, length, vocab, pad_id, 40 + i, dtype, device)
                saved = [logits.clone(), targets.clone()]
                got = fn(logits, targets, pad_id)
                want = _cross_entropy(logits.cpu(), targets.cpu(), pad_id)
                expect_tensor(got, shape=(), dtype=dtype, what="the loss")
                tol = dict(rtol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10)
                what = f"the loss, (B, T, V) = {(batch, length, vocab)}, pad id {pad_id}, {dtype}"
                expect_close(got.cpu(), want, **tol, what=what)
                _check_unchanged(saved, (logits, targets), ("logits", "targets"))

    checks.on_each_device(
        "matches F.cross_entropy with ignore_index (4 cases: pad ids 0, 1 and the last id, "
        "T = 1; float32 and float64; inputs unchanged)",
        2,
        values,
    )

    def large_logits():
        logits, targets = _loss_inputs(3, 6, 5, 0, 45, scale=1000.0)
        got = fn(logits, targets, 0)
        expect_finite(got, what="the loss with logits of about 1000")
        expect_close(got, _cross_entropy(logits, targets, 0), rtol=1e-10, what="the loss")

    checks.check("logits of about 1000: finite and exact (log_softmax)", 1, large_logits)

    def gradients():
        logits, targets = _loss_inputs(3, 6, 5, 0, 46)
        logits.requires_grad_()
        got = torch.autograd.grad(fn(logits, targets, 0), logits)[0]
        want = torch.autograd.grad(_cross_entropy(logits, targets, 0), logits)[0]
        expect_close(got, want, rtol=1e-9, atol=1e-12, what="the gradient; padding gets none")

    checks.check("the gradient matches; padded positions get exactly none", 1, gradients)
    checks.device_safe(
        "CUDA inputs give a CUDA loss, no tensor made on the CPU",
        1,
        lambda logits, targets: fn(logits, targets, 0),
        lambda device: _loss_inputs(2, 4, 5, 0, 47, torch.float32, device),
    )


DECODER_SIZES = [  # vocab, embed, hidden, encoder size, attention size
    dict(vocab=9, embed=3, hidden=5, encoder_size=4, attention_size=6),
    dict(vocab=4, embed=2, hidden=2, encoder_size=2, attention_size=2),
    dict(vocab=11, embed=6, hidden=3, encoder_size=7, attention_size=5),
]


def step_checks(checks: Checks, fn) -> None:
    """Run inside `replaced(globals(), **step_parts())`."""

    def values(device):
        for i, sizes in enumerate(DECODER_SIZES):
            d = _decoder(50 + i, **sizes).to(device)
            for batch, length in ((3, 5), (1, 1)):
                y_prev, h, enc, mask = _decoder_inputs(d, batch, length, 60 + i, device)
                saved = [t.clone() for t in (y_prev, h, enc, mask)]
                logits, h_new, weights = fn(d, y_prev, h, enc, mask)
                want = step_by_hand(d.cpu(), *(t.cpu() for t in (y_prev, h, enc, mask)))
                d.to(device)
                for name, got, w in zip(
                    ("logits", "h_new", "weights"), (logits, h_new, weights), want, strict=True
                ):
                    expect_tensor(got, shape=w.shape, what=name)
                    expect_close(got.cpu(), w, rtol=1e-9, atol=1e-12, what=f"{name}, sizes {sizes}")
                _check_unchanged(
                    saved, (y_prev, h, enc, mask), ("y_prev", "h", "encoder_outputs", "mask")
                )

    checks.on_each_device(
        "matches the GRU's equations written out, with attention (3 sizes: embedding, state, "
        "encoder and attention sizes all different, and all equal; padded rows; batch of 1)",
        2,
        values,
    )

    def gradients():
        d = _decoder(53)
        y_prev, h, enc, mask = _decoder_inputs(d, 3, 4, 63)
        h.requires_grad_(), enc.requires_grad_()
        leaves = [h, enc, *d.parameters()]
        got = torch.autograd.grad(fn(d, y_prev, h, enc, mask)[0].sum(), leaves)
        want = torch.autograd.grad(step_by_hand(d, y_prev, h, enc, mask)[0].sum(), leaves)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            expect_close(
                g,
                w,
                rtol=1e-8,
                atol=1e-10,
                what=f"gradient {i} (h, encoder outputs, then the decoder's parameters)",
            )

    checks.check(
        "gradients match, to the state, the encoder outputs and every parameter", 1, gradients
    )

    def on_cuda(device):
        d = _decoder(54, dtype=torch.float32).to(device)
        y_prev, h, enc, mask = _decoder_inputs(d, 2, 3, 64, device)
        return (d, y_prev, h, enc, mask)

    checks.device_safe(
        "a CUDA decoder and inputs give CUDA logits, state and weights", 1, fn, on_cuda
    )


def teacher_checks(checks: Checks, fn) -> None:
    """Run inside `replaced(globals(), **teacher_parts())`."""

    def targets_for(d, batch, length, seed, device):
        g = torch.Generator().manual_seed(seed)
        return torch.randint(3, d.embedding.num_embeddings, (batch, length), generator=g).to(device)

    def values(device):
        for i, sizes in enumerate(DECODER_SIZES[:2]):
            d = _decoder(70 + i, **sizes).to(device)
            for batch, steps, length in ((3, 6, 4), (1, 1, 2)):
                _, h0, enc, mask = _decoder_inputs(d, batch, length, 80 + i, device)
                targets = targets_for(d, batch, steps, 90 + i, device)
                saved = targets.clone()
                got = fn(d, targets, h0, enc, mask, 1)
                want = teacher_forcing_by_index(
                    d.cpu(), targets.cpu(), h0.cpu(), enc.cpu(), mask.cpu(), 1
                )
                d.to(device)
                expect_tensor(got, shape=want.shape, what="the logits")
                expect_close(
                    got.cpu(), want, rtol=1e-9, atol=1e-12, what=f"the logits, T = {steps}"
                )
                expect_unchanged(saved, targets, what="targets")

    checks.on_each_device(
        "matches a loop that reads bos, then targets[:, t - 1], carrying the state (T = 6 "
        "and T = 1; padded sources)",
        2,
        values,
    )

    def gradients():
        # To the first state and the encoder's outputs: they reach every step through the
        # carried state and the attention.
        d = _decoder(73)
        _, h0, enc, mask = _decoder_inputs(d, 2, 3, 83)
        targets = targets_for(d, 2, 4, 93, "cpu")
        leaves = [h0.requires_grad_(), enc.requires_grad_()]
        loss = F.cross_entropy(fn(d, targets, h0, enc, mask, 1).transpose(1, 2), targets)
        want_loss = F.cross_entropy(
            teacher_forcing_by_index(d, targets, h0, enc, mask, 1).transpose(1, 2), targets
        )
        got, want = torch.autograd.grad(loss, leaves), torch.autograd.grad(want_loss, leaves)
        for name, g, w in zip(("h0", "encoder_outputs"), got, want, strict=True):
            expect_close(g, w, rtol=1e-8, atol=1e-10, what=f"the gradient with respect to {name}")

    checks.check(
        "the loss's gradients to h0 and the encoder's outputs, through every step, match",
        1,
        gradients,
    )

    def on_cuda(device):
        d = _decoder(74, dtype=torch.float32).to(device)
        _, h0, enc, mask = _decoder_inputs(d, 2, 3, 84, device)
        return d, targets_for(d, 2, 3, 94, device), h0, enc, mask

    checks.device_safe(
        "CUDA decoder and inputs give CUDA logits, no tensor made on the CPU",
        1,
        lambda d, targets, h0, enc, mask: fn(d, targets, h0, enc, mask, 1),
        on_cuda,
    )


def _tokens(value) -> list[int]:
    if not isinstance(value, list | tuple):
        raise CheckFailed(f"expected a list of token ids, got {type(value).__name__}")
    return [int(t) for t in value]


GREEDY_CASES = [  # vocab, seed, eos id, eos boost, max_len
    (5, 0, 4, 0.0, 8),
    (6, 1, 2, 1.5, 10),
    (4, 2, 3, -4.0, 6),  # the end token is unlikely: max_len stops it
    (5, 3, 1, 6.0, 5),  # the end token is likely at once
    (7, 4, 6, 0.5, 1),
]


def greedy_checks(checks: Checks, fn) -> None:
    def values():
        for vocab, seed, eos_id, boost, max_len in GREEDY_CASES:
            model = TableModel(vocab, max_len, seed, eos_id, boost)
            got = _tokens(fn(model, 0, 0, eos_id, max_len))
            want = greedy_by_while(model, 0, 0, eos_id, max_len)
            if got != want:
                raise CheckFailed(
                    f"vocabulary {vocab}, end token {eos_id}, max_len {max_len}: got {got}, "
                    f"expected {want}"
                )

    checks.check(
        "matches greedy decoding of 5 table models (end token reached, never reached, at once; "
        "max_len 1)",
        2,
        values,
    )

    def on_cuda():
        model_args = lambda device: (TableModel(6, 8, 5, 2, 1.0, device=device), 0, 0, 2, 8)  # noqa: E731
        got, how = run_on_cuda(fn, model_args)
        want = greedy_by_while(*model_args("cpu"))
        if _tokens(got) != want:
            raise CheckFailed(f"with CUDA log-probabilities ({how}): got {got}, expected {want}")

    checks.check("decodes a model whose log-probabilities are on CUDA", 1, on_cuda)


BEAM_MODELS = [(4, 10, 3, 0.5), (4, 11, 0, 1.0), (3, 12, 2, 0.0)]  # vocab, seed, eos, boost


def beam_checks(checks: Checks, fn) -> None:
    def result(value):
        if not isinstance(value, tuple | list) or len(value) != 2:
            raise CheckFailed(f"expected (tokens, score), got {type(value).__name__}")
        return _tokens(value[0]), float(value[1])

    def exhaustive():
        for vocab, seed, eos_id, boost in BEAM_MODELS:
            for alpha in (0.0, 0.75, 1.0):
                max_len = 4
                model = TableModel(vocab, max_len, seed, eos_id, boost)
                tokens, score = result(
                    fn(model, 0, 1 % vocab, eos_id, max_len, vocab**max_len, alpha)
                )
                want_tokens, want_score = exhaustive_best(
                    model, 0, 1 % vocab, eos_id, max_len, alpha
                )
                if tokens != want_tokens or not math.isclose(score, want_score, rel_tol=1e-9):
                    raise CheckFailed(
                        f"a beam of {vocab**max_len} (every candidate kept), alpha = {alpha}: "
                        f"got {tokens} scoring {score:.6g}; the best of all outputs is "
                        f"{want_tokens} scoring {want_score:.6g}"
                    )

    checks.check(
        "a beam wide enough for every candidate finds the best of all outputs, found by "
        "enumerating them (3 models, alpha 0, 0.75 and 1)",
        2,
        exhaustive,
    )

    def narrow():
        for vocab, seed, eos_id, boost in BEAM_MODELS + [(6, 13, 5, 1.0), (5, 14, 4, 0.0)]:
            for width, alpha in ((1, 0.75), (2, 0.0), (3, 0.75), (2, 1.0)):
                model = TableModel(vocab, 6, seed, eos_id, boost)
                got = result(fn(model, 0, 1 % vocab, eos_id, 6, width, alpha))
                want = beam_by_heap(model, 0, 1 % vocab, eos_id, 6, width, alpha)
                if got[0] != want[0] or not math.isclose(got[1], want[1], rel_tol=1e-9):
                    raise CheckFailed(
                        f"beam width {width}, alpha = {alpha}, vocabulary {vocab}: got "
                        f"{got[0]} scoring {got[1]:.6g}; expected {want[0]} scoring {want[1]:.6g}"
                    )
            greedy = greedy_by_while(
                TableModel(vocab, 6, seed, eos_id, boost), 0, 1 % vocab, eos_id, 6
            )
            one = result(
                fn(TableModel(vocab, 6, seed, eos_id, boost), 0, 1 % vocab, eos_id, 6, 1, 0.75)
            )
            if one[0] != greedy:
                raise CheckFailed(f"beam width 1 gave {one[0]}, greedy decoding gives {greedy}")

    checks.check(
        "narrow beams (widths 1, 2, 3; alpha 0, 0.75, 1) keep the best candidates of all, "
        "retire finished ones, return the best score; width 1 is greedy (5 models)",
        2,
        narrow,
    )

    def on_cuda():
        def make(device):
            return (TableModel(5, 5, 15, 4, 0.5, device=device), 0, 1, 4, 5, 3, 0.75)

        got, how = run_on_cuda(fn, make)
        want = beam_by_heap(*make("cpu"))
        tokens, score = result(got)
        if tokens != want[0] or not math.isclose(score, want[1], rel_tol=1e-6):
            raise CheckFailed(
                f"with CUDA log-probabilities ({how}): got {(tokens, score)}, expected {want}"
            )

    checks.check("searches a model whose log-probabilities are on CUDA", 1, on_cuda)


# (predictions, targets, the share of exact matches, counted by hand)
EXACT_CASES = [
    (["2024-03-01", "1999-12-31", "2000-01-01"], ["2024-03-01", "1999-12-30", "2000-01-01"], 2 / 3),
    (["2024-03-01"], ["2024-03-01"], 1.0),
    (["2024-03-0", "2024-03-011", ""], ["2024-03-01", "2024-03-01", "2024-03-01"], 0.0),
    (
        ["1987-06-05", "1987-06-05", "1987-05-06", "0000-00-00"],
        ["1987-06-05", "1987-05-06", "1987-06-05", "1987-06-05"],
        1 / 4,
    ),
]


def exact_checks(checks: Checks, fn) -> None:
    def values():
        for predictions, targets, want in EXACT_CASES:
            got = fn(list(predictions), list(targets))
            if (
                not isinstance(got, float | int)
                or isinstance(got, bool)
                or not math.isclose(got, want)
            ):
                raise CheckFailed(
                    f"exact_match({predictions}, {targets}) = {got!r}; expected {want}"
                )

    checks.check(
        "4 cases: one wrong digit, a single pair, outputs too short, too long or empty",
        1,
        values,
    )
