"""Chapter 7 (sequence to sequence, attention and beam search): known mistakes and correct
alternatives."""

from autograder.mistakes import Mistake, edited, reference

_ADDITIVE = reference("seq2seq", "additive_attention")

_DOT = reference("seq2seq", "dot_product_attention")

_LOSS = reference("seq2seq", "masked_cross_entropy")

_STEP = reference("seq2seq", "decoder_step")

_TEACHER = reference("seq2seq", "teacher_forced_logits")

_GREEDY = reference("seq2seq", "greedy_decode")

_BEAM = reference("seq2seq", "beam_search")

_EXACT = reference("seq2seq", "exact_match")

_MASKED_SOFTMAX = "torch.softmax(scores.masked_fill(~mask, -math.inf), dim=1)"

MISTAKES = [
    # additive_attention
    edited(
        "additive_softmax_over_batch",
        "additive_attention",
        "test_additive",
        _ADDITIVE,
        _MASKED_SOFTMAX,
        "torch.softmax(scores.masked_fill(~mask, -math.inf), dim=0)",
        "the softmax runs over the source positions (dim=1), not over the batch",
    ),
    edited(
        "additive_mask_after_softmax",
        "additive_attention",
        "test_additive",
        _ADDITIVE,
        _MASKED_SOFTMAX,
        "torch.softmax(scores, dim=1) * mask",
        "masking after the softmax leaves weights that no longer sum to 1: set padded scores "
        "to minus infinity before it",
    ),
    edited(
        "additive_mask_added",
        "additive_attention",
        "test_additive",
        _ADDITIVE,
        _MASKED_SOFTMAX,
        "torch.softmax(scores + mask, dim=1)",
        "adding the boolean mask to the scores shifts them by 1 and keeps the padding: set "
        "padded scores to minus infinity (masked_fill)",
    ),
    edited(
        "additive_mask_inverted",
        "additive_attention",
        "test_additive",
        _ADDITIVE,
        "scores.masked_fill(~mask, -math.inf)",
        "scores.masked_fill(mask, -math.inf)",
        "mask is True at the real positions: fill the scores where it is False (~mask)",
    ),
    edited(
        "additive_without_tanh",
        "additive_attention",
        "test_additive",
        _ADDITIVE,
        "torch.tanh((query @ W_q.T).unsqueeze(1) + keys @ W_k.T) @ v",
        "((query @ W_q.T).unsqueeze(1) + keys @ W_k.T) @ v",
        "additive attention puts a tanh between the sum of projections and v: without it the "
        "scores are linear and the query's part cancels in the softmax",
    ),
    edited(
        "additive_projections_swapped",
        "additive_attention",
        "test_additive",
        _ADDITIVE,
        "(query @ W_q.T).unsqueeze(1) + keys @ W_k.T",
        "(query @ W_k.T).unsqueeze(1) + keys @ W_q.T",
        "W_q projects the query (the decoder's state) and W_k the keys (the encoder's outputs)",
    ),
    edited(
        "additive_context_from_scores",
        "additive_attention",
        "test_additive",
        _ADDITIVE,
        "torch.bmm(weights.unsqueeze(1), keys)",
        "torch.bmm(scores.masked_fill(~mask, 0).unsqueeze(1), keys)",
        "the context mixes the keys with the weights (after the softmax), not with the raw scores",
    ),
    # dot_product_attention
    edited(
        "dot_unscaled",
        "dot_product_attention",
        "test_dot",
        _DOT,
        " / math.sqrt(query.shape[1])",
        "",
        "scaled dot-product attention divides the scores by sqrt(D)",
    ),
    edited(
        "dot_scaled_by_dimension",
        "dot_product_attention",
        "test_dot",
        _DOT,
        "math.sqrt(query.shape[1])",
        "query.shape[1]",
        "the scores are divided by the square root of D, not by D",
    ),
    edited(
        "dot_mask_after_softmax",
        "dot_product_attention",
        "test_dot",
        _DOT,
        _MASKED_SOFTMAX,
        "torch.softmax(scores, dim=1) * mask",
        "masking after the softmax leaves weights that no longer sum to 1: set padded scores "
        "to minus infinity before it",
    ),
    edited(
        "dot_context_from_keys",
        "dot_product_attention",
        "test_dot",
        _DOT,
        "(weights.unsqueeze(2) * values).sum(dim=1)",
        "(weights.unsqueeze(2) * keys).sum(dim=1)",
        "the weights mix the values, not the keys (keys only score)",
    ),
    edited(
        "dot_softmax_over_batch",
        "dot_product_attention",
        "test_dot",
        _DOT,
        _MASKED_SOFTMAX,
        "torch.softmax(scores.masked_fill(~mask, -math.inf), dim=0)",
        "the softmax runs over the source positions (dim=1), not over the batch",
    ),
    # masked_cross_entropy
    edited(
        "loss_padding_counted",
        "masked_cross_entropy",
        "test_loss",
        _LOSS,
        "-(picked * real).sum() / real.sum()",
        "-picked.mean()",
        "padding must count neither in the sum nor in the number of tokens: average over the "
        "real targets only",
    ),
    edited(
        "loss_divided_by_all_positions",
        "masked_cross_entropy",
        "test_loss",
        _LOSS,
        "/ real.sum()",
        "/ real.numel()",
        "divide by the number of real target tokens, not by every position (padding included)",
    ),
    edited(
        "loss_divided_by_batch",
        "masked_cross_entropy",
        "test_loss",
        _LOSS,
        "/ real.sum()",
        "/ targets.shape[0]",
        "the mean is per real token, not per sequence",
    ),
    edited(
        "loss_log_of_softmax",
        "masked_cross_entropy",
        "test_loss",
        _LOSS,
        "torch.log_softmax(logits, dim=-1)",
        "torch.log(torch.softmax(logits, dim=-1))",
        "log(softmax(x)) underflows to log 0 for large logits: torch.log_softmax is stable",
    ),
    Mistake(
        "loss_without_ignore_index",
        "masked_cross_entropy",
        "test_loss",
        """
def masked_cross_entropy(logits, targets, pad_id):
    return F.cross_entropy(logits.transpose(1, 2), targets)
""",
        "without ignore_index=pad_id, F.cross_entropy also scores the padded positions",
    ),
    # decoder_step
    edited(
        "step_output_reads_old_state",
        "decoder_step",
        "test_step",
        _STEP,
        "d.out(torch.cat([h_new, context], dim=1))",
        "d.out(torch.cat([h, context], dim=1))",
        "the output layer reads the new state h_new (with the context), not the previous one",
    ),
    edited(
        "step_mask_ignored",
        "decoder_step",
        "test_step",
        _STEP,
        "h, encoder_outputs, mask, d.W_q.weight",
        "h, encoder_outputs, torch.ones_like(mask), d.W_q.weight",
        "pass the source mask to the attention: padded source positions must get no weight",
    ),
    edited(
        "step_cell_input_order",
        "decoder_step",
        "test_step",
        _STEP,
        "torch.cat([d.embedding(y_prev), context], dim=1)",
        "torch.cat([context, d.embedding(y_prev)], dim=1)",
        "the cell reads [embedding; context] in that order: its weights expect the embedding first",
    ),
    edited(
        "step_attends_with_embedding",
        "decoder_step",
        "test_step",
        _STEP,
        "context, weights = additive_attention(\n        h,",
        "context, weights = additive_attention(\n        d.embedding(y_prev),",
        "the attention's query is the previous state h, not the embedding of the previous token",
    ),
    # teacher_forced_logits
    edited(
        "teacher_not_shifted",
        "teacher_forced_logits",
        "test_teacher",
        _TEACHER,
        "torch.cat([torch.full_like(targets[:, :1], bos_id), targets[:, :-1]], dim=1)",
        "targets",
        "step t must read targets[:, t - 1] (bos first) to predict targets[:, t]; reading "
        "targets[:, t] lets it copy the answer",
    ),
    edited(
        "teacher_no_bos",
        "teacher_forced_logits",
        "test_teacher",
        _TEACHER,
        "torch.full_like(targets[:, :1], bos_id)",
        "targets[:, :1]",
        "the first step reads the start token bos_id, not the first target",
    ),
    edited(
        "teacher_state_not_carried",
        "teacher_forced_logits",
        "test_teacher",
        _TEACHER,
        "step_logits, h, _ = decoder_step(",
        "step_logits, _, _ = decoder_step(",
        "carry the state: each step starts from the state the previous step returned",
    ),
    Mistake(
        "teacher_free_running",
        "teacher_forced_logits",
        "test_teacher",
        """
def teacher_forced_logits(d, targets, h0, encoder_outputs, mask, bos_id):
    token, h, logits = torch.full_like(targets[:, 0], bos_id), h0, []
    for t in range(targets.shape[1]):
        step_logits, h, _ = decoder_step(d, token, h, encoder_outputs, mask)
        logits.append(step_logits)
        token = step_logits.argmax(dim=1)
    return torch.stack(logits, dim=1)
""",
        "with teacher forcing each step reads the true previous token, not the decoder's own "
        "guess (that is free-running decoding)",
    ),
    # greedy_decode
    edited(
        "greedy_eos_dropped",
        "greedy_decode",
        "test_greedy",
        _GREEDY,
        "        tokens.append(token)\n        if token == eos_id:\n            break",
        "        if token == eos_id:\n            break\n        tokens.append(token)",
        "keep the end token in the output: append it, then stop",
    ),
    edited(
        "greedy_never_stops",
        "greedy_decode",
        "test_greedy",
        _GREEDY,
        "        if token == eos_id:\n            break\n",
        "",
        "stop after the end token: nothing follows it",
    ),
    edited(
        "greedy_token_not_fed_back",
        "greedy_decode",
        "test_greedy",
        _GREEDY,
        "log_probs, state = step(token, state)",
        "log_probs, state = step(bos_id, state)",
        "feed each chosen token back as the next step's input; only the first step reads bos_id",
    ),
    edited(
        "greedy_state_not_carried",
        "greedy_decode",
        "test_greedy",
        _GREEDY,
        "log_probs, state = step(token, state)",
        "log_probs, _ = step(token, state)",
        "carry the state that step returns into the next step",
    ),
    # beam_search
    edited(
        "beam_length_not_normalised",
        "beam_search",
        "test_beam",
        _BEAM,
        "return log_prob / len(tokens) ** alpha",
        "return log_prob",
        "rank by the log-probability divided by length^alpha: raw log-probabilities favour "
        "short outputs",
    ),
    edited(
        "beam_normalised_twice",
        "beam_search",
        "test_beam",
        _BEAM,
        "return log_prob / len(tokens) ** alpha",
        "return log_prob / len(tokens) ** (2 * alpha)",
        "divide by length^alpha once; dividing again favours long outputs",
    ),
    edited(
        "beam_finished_still_extended",
        "beam_search",
        "test_beam",
        _BEAM,
        "(finished if hypothesis[0][-1] == eos_id else beam).append(hypothesis)",
        "beam.append(hypothesis)",
        "a hypothesis that ends with the end token is finished: take it out of the beam, "
        "never extend it",
    ),
    edited(
        "beam_first_finished_returned",
        "beam_search",
        "test_beam",
        _BEAM,
        "best = max(finished + beam, key=score)",
        "best = (finished + beam)[0]",
        "return the best-scoring hypothesis, not the first one that finished",
    ),
    edited(
        "beam_length_counts_bos",
        "beam_search",
        "test_beam",
        _BEAM,
        "len(tokens) ** alpha",
        "(len(tokens) + 1) ** alpha",
        "the length is the number of generated tokens (end token included, start token not)",
    ),
    Mistake(
        "beam_best_per_hypothesis",
        "beam_search",
        "test_beam",
        """
def beam_search(step, state, bos_id, eos_id, max_len, beam_width, alpha=0.75):
    def score(hypothesis):
        tokens, log_prob, _ = hypothesis
        return log_prob / len(tokens) ** alpha

    beam, finished = [([], 0.0, state)], []
    for _ in range(max_len):
        new_beam = []
        for tokens, log_prob, beam_state in beam:
            log_probs, next_state = step(tokens[-1] if tokens else bos_id, beam_state)
            children = [
                (tokens + [token], log_prob + value, next_state)
                for token, value in enumerate(log_probs.tolist())
            ]
            children.sort(key=score, reverse=True)
            for hypothesis in children[:beam_width]:
                (finished if hypothesis[0][-1] == eos_id else new_beam).append(hypothesis)
        beam = new_beam
        if not beam:
            break
    best = max(finished + beam, key=score)
    return best[0], score(best)
""",
        "keep the best beam_width candidates of all hypotheses together, not beam_width "
        "children of each (the beam would grow without bound)",
    ),
    edited(
        "beam_raw_score_returned",
        "beam_search",
        "test_beam",
        _BEAM,
        "return best[0], score(best)",
        "return best[0], best[1]",
        "return the hypothesis's score (log-probability / length^alpha), not its raw "
        "log-probability",
    ),
    # exact_match
    Mistake(
        "exact_character_accuracy",
        "exact_match",
        "test_exact",
        """
def exact_match(predictions, targets):
    right = total = 0
    for p, t in zip(predictions, targets):
        right += sum(a == b for a, b in zip(p, t))
        total += len(t)
    return right / total
""",
        "a date with one wrong character is wrong: count whole outputs that are equal, not "
        "characters",
    ),
    edited(
        "exact_count_not_share",
        "exact_match",
        "test_exact",
        _EXACT,
        " / len(targets)",
        "",
        "return the share of right outputs (between 0 and 1), not their number",
    ),
    edited(
        "exact_prefix_only",
        "exact_match",
        "test_exact",
        _EXACT,
        "p == t",
        "p[: len(t)] == t",
        "an output with extra characters after the date is wrong too: compare whole strings",
    ),
]

ALTERNATIVES = {
    "additive_attention": """
def additive_attention(query, keys, mask, W_q, W_k, v):
    hidden = torch.tanh(F.linear(query, W_q)[:, None, :] + F.linear(keys, W_k))
    scores = torch.einsum("bsa,a->bs", hidden, v)
    scores = torch.where(mask, scores, torch.full_like(scores, float("-inf")))
    weights = F.softmax(scores, dim=-1)
    return torch.einsum("bs,bsh->bh", weights, keys), weights
""",
    "dot_product_attention": """
def dot_product_attention(query, keys, values, mask):
    scores = torch.einsum("bd,bsd->bs", query, keys) * query.shape[-1] ** -0.5
    scores = scores - 1e9 * (~mask).to(scores.dtype)
    weights = scores.softmax(-1)
    return torch.einsum("bs,bsv->bv", weights, values), weights
""",
    "masked_cross_entropy": """
def masked_cross_entropy(logits, targets, pad_id):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=pad_id)
""",
    "decoder_step": """
def decoder_step(d, y_prev, h, encoder_outputs, mask):
    v = d.v.weight.squeeze(0)
    context, weights = additive_attention(h, encoder_outputs, mask, d.W_q.weight, d.W_k.weight, v)
    x = torch.cat((d.embedding(y_prev), context), -1)
    h_new = d.cell(x, h)
    logits = d.out(torch.cat((h_new, context), -1))
    return logits, h_new, weights
""",
    "teacher_forced_logits": """
def teacher_forced_logits(d, targets, h0, encoder_outputs, mask, bos_id):
    h, outputs = h0, []
    previous = torch.full_like(targets[:, 0], bos_id)
    for target in targets.unbind(1):
        logits, h, _ = decoder_step(d, previous, h, encoder_outputs, mask)
        outputs.append(logits)
        previous = target
    return torch.stack(outputs, 1)
""",
    "greedy_decode": """
def greedy_decode(step, state, bos_id, eos_id, max_len):
    out = []
    while len(out) < max_len and (not out or out[-1] != eos_id):
        log_probs, state = step(out[-1] if out else bos_id, state)
        out.append(log_probs.argmax().item())
    return out
""",
    "beam_search": """
def beam_search(step, state, bos_id, eos_id, max_len, beam_width, alpha=0.75):
    import heapq

    def score(item):
        return item[1] / len(item[0]) ** alpha

    alive, done = [((), 0.0, state)], []
    for _ in range(max_len):
        grown = []
        for tokens, lp, st in alive:
            log_probs, st = step(tokens[-1] if tokens else bos_id, st)
            values = log_probs.tolist()
            grown.extend((tokens + (k,), lp + values[k], st) for k in range(len(values)))
        best = heapq.nlargest(beam_width, grown, key=score)
        done.extend(b for b in best if b[0][-1] == eos_id)
        alive = [b for b in best if b[0][-1] != eos_id]
        if not alive:
            break
    winner = max(done + alive, key=score)
    return list(winner[0]), score(winner)
""",
    "exact_match": """
def exact_match(predictions, targets):
    return float(sum(map(str.__eq__, predictions, targets))) / len(targets)
""",
}
