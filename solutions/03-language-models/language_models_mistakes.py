"""Chapter 3 (language models): known mistakes and correct alternatives."""

from autograder.mistakes import Mistake, edited, reference

_VOCABULARY = reference("language_models", "build_vocabulary")

_ENCODE = reference("language_models", "encode")

_DECODE = reference("language_models", "decode")

_BATCHES = reference("language_models", "make_batches")

_CROSS_ENTROPY = reference("language_models", "cross_entropy")

_PERPLEXITY = reference("language_models", "perplexity")

_CHAR_RNN = reference("language_models", "CharRNN")

_SAMPLE = reference("language_models", "sample")

_TRAIN = reference("language_models", "train_language_model")


def _two_edits(name, function, test_cell, code, first, second, hint) -> Mistake:
    """A mistake made of two edits of the correct code (each a (correct, wrong) pair)."""
    for correct, _ in (first, second):
        if correct not in code:
            raise ValueError(f"{name}: {correct!r} is not in the correct code")
    wrong = code.replace(*first).replace(*second)
    return Mistake(name, function, test_cell, wrong, hint)


MISTAKES = [
    # --- vocabulary, encode, decode
    edited(
        "vocab_unk_last",
        "build_vocabulary",
        "test_vocabulary",
        _VOCABULARY,
        "[UNK] + sorted(set(text) - {UNK})",
        "sorted(set(text) - {UNK}) + [UNK]",
        "UNK comes first in the vocabulary, so that unknown characters have id 0",
    ),
    edited(
        "vocab_unsorted",
        "build_vocabulary",
        "test_vocabulary",
        _VOCABULARY,
        "[UNK] + sorted(set(text) - {UNK})",
        "[UNK] + [char for char in dict.fromkeys(text) if char != UNK]",
        "sort the characters, so that every run (and every machine) numbers them the same way",
    ),
    edited(
        "vocab_unk_twice",
        "build_vocabulary",
        "test_vocabulary",
        _VOCABULARY,
        "sorted(set(text) - {UNK})",
        "sorted(set(text))",
        "when the text itself contains UNK, it must not appear in the vocabulary twice",
    ),
    edited(
        "encode_unknown_raises",
        "encode",
        "test_vocabulary",
        _ENCODE,
        "index.get(char, 0)",
        "index[char]",
        "a character that is not in the vocabulary gets id 0 (UNK) instead of an error",
    ),
    edited(
        "encode_unknown_last",
        "encode",
        "test_vocabulary",
        _ENCODE,
        "index.get(char, 0)",
        "index.get(char, len(vocab) - 1)",
        "unknown characters get id 0, the id of UNK, not the last id",
    ),
    edited(
        "encode_int32",
        "encode",
        "test_vocabulary",
        _ENCODE,
        "dtype=torch.long",
        "dtype=torch.int32",
        "ids are torch.long (int64): nn.Embedding and the losses expect them",
    ),
    edited(
        "decode_drops_unk",
        "decode",
        "test_vocabulary",
        _DECODE,
        "for i in torch.as_tensor(ids).tolist()",
        "for i in torch.as_tensor(ids).tolist() if i != 0",
        "decode every id, UNK included: dropping them changes the text's length",
    ),
    # --- make_batches
    edited(
        "batches_targets_not_shifted",
        "make_batches",
        "test_make_batches",
        _BATCHES,
        "ids[1 : batch_size * n + 1]",
        "ids[: batch_size * n]",
        "each target is the character that follows its input: shift the targets by one",
    ),
    _two_edits(
        "batches_shift_reversed",
        "make_batches",
        "test_make_batches",
        _BATCHES,
        ("ids[: batch_size * n]", "ids[1 : batch_size * n + 1]"),
        ("ids[1 : batch_size * n + 1].view", "ids[: batch_size * n].view"),
        "the targets come one step after the inputs, not before",
    ),
    edited(
        "batches_interleaved_streams",
        "make_batches",
        "test_make_batches",
        _BATCHES,
        ".view(batch_size, n)",
        ".view(n, batch_size).T",
        "each stream is one contiguous slice of the text (view(batch_size, n)), not every "
        "batch_size-th character",
    ),
    edited(
        "batches_not_transposed",
        "make_batches",
        "test_make_batches",
        _BATCHES,
        ".transpose(0, 1)",
        "",
        "the result's first dimension indexes the batches: shape (n_batches, batch_size, seq_len)",
    ),
    edited(
        "batches_reshaped_in_wrong_order",
        "make_batches",
        "test_make_batches",
        _BATCHES,
        ".reshape(batch_size, n_batches, seq_len).transpose(0, 1)",
        ".reshape(n_batches, batch_size, seq_len)",
        "reshape each stream into its windows first, (batch_size, n_batches, seq_len), then "
        "swap the first two dimensions; a plain reshape to (n_batches, batch_size, seq_len) "
        "breaks the streams",
    ),
    edited(
        "batches_no_room_for_last_target",
        "make_batches",
        "test_make_batches",
        _BATCHES,
        "n = (len(ids) - 1) // batch_size",
        "n = len(ids) // batch_size",
        "leave one id for the last target: n = (len(ids) - 1) // batch_size",
    ),
    # --- cross_entropy, perplexity
    edited(
        "ce_unstable",
        "cross_entropy",
        "test_cross_entropy",
        _CROSS_ENTROPY,
        "top = logits.max(dim=-1, keepdim=True).values",
        "top = torch.zeros_like(logits[..., :1])",
        "subtract the largest logit before exp, or large logits overflow",
    ),
    edited(
        "ce_sum",
        "cross_entropy",
        "test_cross_entropy",
        _CROSS_ENTROPY,
        "(log_normaliser - target_logits).mean()",
        "(log_normaliser - target_logits).sum()",
        "return the mean loss over positions, not the sum",
    ),
    edited(
        "ce_sign",
        "cross_entropy",
        "test_cross_entropy",
        _CROSS_ENTROPY,
        "(log_normaliser - target_logits)",
        "(target_logits - log_normaliser)",
        "the loss is minus the log-probability: log-sum-exp minus the target's logit",
    ),
    edited(
        "ce_bits",
        "cross_entropy",
        "test_cross_entropy",
        _CROSS_ENTROPY,
        "(log_normaliser - target_logits).mean()",
        "(log_normaliser - target_logits).mean() / math.log(2)",
        "return nats (natural logarithm), as F.cross_entropy does, not bits",
    ),
    edited(
        "ce_builtin_log_softmax",
        "cross_entropy",
        "test_cross_entropy",
        _CROSS_ENTROPY,
        "target_logits = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)\n"
        "    return (log_normaliser - target_logits).mean()",
        "log_p = F.log_softmax(logits, dim=-1)\n"
        "    return -log_p.gather(-1, targets.unsqueeze(-1)).mean()",
        "build the loss from max, exp, log and sum, not with log_softmax",
    ),
    edited(
        "ce_log_of_softmax",
        "cross_entropy",
        "test_cross_entropy",
        _CROSS_ENTROPY,
        "target_logits = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)\n"
        "    return (log_normaliser - target_logits).mean()",
        "p = torch.softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1))\n"
        "    return -torch.log(p).mean()",
        "log(softmax) underflows to log(0) = -inf for very unlikely targets: use "
        "log-sum-exp minus the target's logit",
    ),
    edited(
        "ppl_exp_of_sum",
        "perplexity",
        "test_cross_entropy",
        _PERPLEXITY,
        "torch.exp(cross_entropy(logits, targets))",
        "torch.exp(cross_entropy(logits, targets) * targets.numel())",
        "perplexity is exp of the mean loss per character, not of the summed loss",
    ),
    edited(
        "ppl_base_two",
        "perplexity",
        "test_cross_entropy",
        _PERPLEXITY,
        "torch.exp(cross_entropy(logits, targets))",
        "2 ** cross_entropy(logits, targets)",
        "the loss is in nats, so perplexity is e ** loss (2 ** loss would need bits)",
    ),
    edited(
        "ppl_mean_of_exps",
        "perplexity",
        "test_cross_entropy",
        _PERPLEXITY,
        "torch.exp(cross_entropy(logits, targets))",
        "torch.stack([torch.exp(cross_entropy(z, y)) for z, y in "
        "zip(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))]).mean()",
        "perplexity is exp of the mean loss, not the mean of per-character exps",
    ),
    # --- CharRNN
    edited(
        "charrnn_not_batch_first",
        "CharRNN",
        "test_char_rnn",
        _CHAR_RNN,
        ", batch_first=True)",
        ")",
        "give nn.RNN batch_first=True: the ids are (batch, time)",
    ),
    edited(
        "charrnn_ignores_state",
        "CharRNN",
        "test_char_rnn",
        _CHAR_RNN,
        "self.rnn(self.embedding(x), h)",
        "self.rnn(self.embedding(x))",
        "pass the given state h to the RNN: it is where the previous text lives",
    ),
    edited(
        "charrnn_returns_probabilities",
        "CharRNN",
        "test_char_rnn",
        _CHAR_RNN,
        "return self.head(outputs), h",
        "return torch.softmax(self.head(outputs), dim=-1), h",
        "return logits (no softmax): the loss and the sampler apply it themselves",
    ),
    edited(
        "charrnn_relu",
        "CharRNN",
        "test_char_rnn",
        _CHAR_RNN,
        "batch_first=True)",
        'batch_first=True, nonlinearity="relu")',
        "the recurrent layer is a tanh RNN (nn.RNN's default nonlinearity)",
    ),
    edited(
        "charrnn_one_layer_only",
        "CharRNN",
        "test_char_rnn",
        _CHAR_RNN,
        "hidden_size, num_layers, batch_first=True",
        "hidden_size, batch_first=True",
        "pass num_layers to nn.RNN",
    ),
    edited(
        "charrnn_last_step_only",
        "CharRNN",
        "test_char_rnn",
        _CHAR_RNN,
        "return self.head(outputs), h",
        "return self.head(outputs[:, -1]), h",
        "return logits for every position (B, T, V): a language model predicts at every step",
    ),
    # --- sample
    _two_edits(
        "sample_temperature_after_softmax",
        "sample",
        "test_sample",
        _SAMPLE,
        ("z = z / temperature", "z = z"),
        ("torch.softmax(z, dim=-1), 1", "torch.softmax(z, dim=-1) / temperature, 1"),
        "divide the logits by the temperature before the softmax; dividing the "
        "probabilities changes nothing once they are normalised",
    ),
    edited(
        "sample_ignores_generator",
        "sample",
        "test_sample",
        _SAMPLE,
        ", 1, generator=generator)",
        ", 1)",
        "pass generator=generator to torch.multinomial, or a seed does not fix the text",
    ),
    edited(
        "sample_forgets_state",
        "sample",
        "test_sample",
        _SAMPLE,
        "model(next_id.view(1, 1), h)",
        "model(next_id.view(1, 1))",
        "feed each new id with the state the model returned, or it forgets the text so far",
    ),
    edited(
        "sample_top_k_plus_one",
        "sample",
        "test_sample",
        _SAMPLE,
        "torch.topk(z, top_k).values[-1]",
        "torch.topk(z, top_k + 1).values[-1]",
        "keep exactly top_k logits (the k-th largest is values[top_k - 1])",
    ),
    edited(
        "sample_top_k_smallest",
        "sample",
        "test_sample",
        _SAMPLE,
        "z.masked_fill(z < kth_largest, -math.inf)",
        "z.masked_fill(z >= kth_largest, -math.inf)",
        "top-k keeps the k largest logits and removes the others",
    ),
    edited(
        "sample_no_greedy_case",
        "sample",
        "test_sample",
        _SAMPLE,
        "if temperature == 0:",
        "if False:",
        "temperature 0 means greedy (argmax); dividing by 0 gives nan",
    ),
    edited(
        "sample_returns_prefix_too",
        "sample",
        "test_sample",
        _SAMPLE,
        "torch.cat(new_ids) if new_ids",
        "torch.cat([prefix, *new_ids]) if new_ids",
        "return only the n_chars new ids, not the prefix",
    ),
    edited(
        "sample_ids_on_cpu",
        "sample",
        "test_sample",
        _SAMPLE,
        "torch.cat(new_ids) if new_ids",
        "torch.tensor([int(i) for i in new_ids]) if new_ids",
        "return the ids on the prefix's device",
    ),
    # --- train_language_model
    edited(
        "train_no_detach",
        "train_language_model",
        "test_train",
        _TRAIN,
        "h = h.detach()",
        "pass",
        "detach the state between batches, or the next backward pass runs into the previous "
        "batch's freed graph",
    ),
    edited(
        "train_state_reset",
        "train_language_model",
        "test_train",
        _TRAIN,
        "model(x, h)",
        "model(x)",
        "carry the state from batch to batch: row b of the next batch continues row b",
    ),
    edited(
        "train_no_zero_grad",
        "train_language_model",
        "test_train",
        _TRAIN,
        "optimizer.zero_grad()",
        "pass",
        "zero the gradients before each backward pass, or they add up across batches",
    ),
    edited(
        "train_no_clipping",
        "train_language_model",
        "test_train",
        _TRAIN,
        "nn.utils.clip_grad_norm_(model.parameters(), max_norm)",
        "pass",
        "clip the gradients' global norm to max_norm before each step",
    ),
    _two_edits(
        "train_clip_before_backward",
        "train_language_model",
        "test_train",
        _TRAIN,
        ("loss.backward()\n", "nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n"),
        (
            "        nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n        optimizer",
            "        loss.backward()\n        optimizer",
        ),
        "clip after loss.backward(): before it, there are no gradients to clip yet",
    ),
    edited(
        "train_returns_perplexity",
        "train_language_model",
        "test_train",
        _TRAIN,
        "losses.append(loss.item())",
        "losses.append(math.exp(loss.item()))",
        "return the batch losses (mean cross-entropy), not their exp",
    ),
]


ALTERNATIVES = {
    "build_vocabulary": """
def build_vocabulary(text):
    chars = sorted(set(text))
    if UNK in chars:
        chars.remove(UNK)
    return [UNK, *chars]
""",
    "encode": """
def encode(text, vocab):
    return torch.tensor([vocab.index(c) if c in vocab else 0 for c in text], dtype=torch.int64)
""",
    "decode": """
def decode(ids, vocab):
    return "".join(map(vocab.__getitem__, [int(i) for i in ids]))
""",
    "make_batches": """
def make_batches(ids, batch_size, seq_len):
    n = (len(ids) - 1) // batch_size
    xs, ys = [], []
    for k in range(n // seq_len):
        starts = [b * n + k * seq_len for b in range(batch_size)]
        xs.append(torch.stack([ids[s : s + seq_len] for s in starts]))
        ys.append(torch.stack([ids[s + 1 : s + 1 + seq_len] for s in starts]))
    return torch.stack(xs), torch.stack(ys)
""",
    "cross_entropy": """
def cross_entropy(logits, targets):
    shifted = logits - torch.amax(logits, dim=-1, keepdim=True)
    log_probs = shifted - torch.log(torch.sum(torch.exp(shifted), dim=-1, keepdim=True))
    picked = (F.one_hot(targets, logits.shape[-1]) * log_probs).sum(dim=-1)
    return -picked.mean()
""",
    "perplexity": """
def perplexity(logits, targets):
    shifted = logits - logits.max(-1, keepdim=True).values
    nll = shifted.exp().sum(-1).log() - shifted.gather(-1, targets[..., None])[..., 0]
    return nll.mean().exp()
""",
    "CharRNN": """
class CharRNN(nn.Module):
    def __init__(self, vocab_size, embedding_size, hidden_size, num_layers=1):
        super().__init__()
        self.head = nn.Linear(hidden_size, vocab_size)
        self.rnn = nn.RNN(embedding_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.num_layers, self.hidden_size = num_layers, hidden_size

    def forward(self, x, h=None):
        if h is None:
            h = torch.zeros(
                self.num_layers, x.shape[0], self.hidden_size, device=x.device,
                dtype=self.head.weight.dtype,
            )
        outputs, h = self.rnn(self.embedding(x), h)
        return self.head(outputs), h
""",
    "sample": """
def sample(model, prefix, n_chars, temperature=1.0, top_k=None, generator=None):
    out = torch.empty(n_chars, dtype=torch.long, device=prefix.device)
    with torch.no_grad():
        logits, h = model(prefix[None])
        for i in range(n_chars):
            z = logits[0, -1]
            if temperature > 0:
                z = z / temperature
                if top_k:
                    values, indices = torch.topk(z, top_k)
                    z = torch.full_like(z, float("-inf")).scatter(0, indices, values)
                probs = torch.softmax(z, dim=-1)
                out[i] = torch.multinomial(probs, 1, generator=generator)[0]
            else:
                out[i] = torch.argmax(z)
            logits, h = model(out[i : i + 1][None], h)
    return out
""",
    "train_language_model": """
def train_language_model(model, inputs, targets, optimizer, max_norm):
    losses, state = [], None
    for k in range(len(inputs)):
        if state is not None:
            state = state.detach()
        logits, state = model(inputs[k], state)
        loss = F.cross_entropy(logits.transpose(1, 2), targets[k])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
        optimizer.step()
        losses.append(float(loss))
    return losses
""",
}
