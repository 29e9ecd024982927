"""Project A (melodies with an LSTM): known mistakes and correct alternatives."""

from autograder.mistakes import edited, reference

_TOKENIZE = reference("music", "tokenize")

_DETOKENIZE = reference("music", "detokenize")

_PAIRS = reference("music", "make_training_pairs")

_MODEL = reference("music", "MelodyLSTM")

_SAMPLE = reference("music", "sample_melody")

_TRAIN = reference("music", "train_melody_model")

MISTAKES = [
    # --- tokenize, detokenize
    edited(
        "tokenize_ties_not_merged",
        "tokenize",
        "test_tokenize",
        _TOKENIZE,
        "melody.stripTies().flatten()",
        "melody.flatten()",
        "a note tied over a bar line is one note: merge it with stripTies() before reading",
    ),
    edited(
        "tokenize_drops_rests",
        "tokenize",
        "test_tokenize",
        _TOKENIZE,
        ".flatten().notesAndRests",
        ".flatten().notes",
        "rests are part of the melody: read notesAndRests, not only notes",
    ),
    edited(
        "tokenize_pitch_only",
        "tokenize",
        "test_tokenize",
        _TOKENIZE,
        'f"{name}_{element.quarterLength}"',
        'f"{name}_1.0"',
        "a token holds the duration too: write str(element.quarterLength) after the name",
    ),
    edited(
        "tokenize_keeps_grace_notes",
        "tokenize",
        "test_tokenize",
        _TOKENIZE,
        "if element.quarterLength == 0:",
        "if element.quarterLength < 0:",
        "skip grace notes: their quarterLength is 0",
    ),
    edited(
        "tokenize_octave_dropped",
        "tokenize",
        "test_tokenize",
        _TOKENIZE,
        "element.pitch.nameWithOctave",
        "element.pitch.name",
        "the note's name needs its octave (pitch.nameWithOctave), or C4 and C5 are one token",
    ),
    edited(
        "detokenize_float_duration",
        "detokenize",
        "test_tokenize",
        _DETOKENIZE,
        "Fraction(length)",
        "round(float(Fraction(length)), 2)",
        "durations such as 1/3 must stay exact: use Fraction(length), not a rounded float",
    ),
    edited(
        "detokenize_keeps_unknown",
        "detokenize",
        "test_tokenize",
        _DETOKENIZE,
        """        if not length:
            continue
""",
        """        if not length:
            melody.append(note.Rest(quarterLength=1.0))
            continue
""",
        "UNK, END and other tokens without a duration are skipped, not played as rests",
    ),
    edited(
        "detokenize_all_at_start",
        "detokenize",
        "test_tokenize",
        _DETOKENIZE,
        "melody.append(element)",
        "melody.insert(0, element)",
        "append each note, so that it starts where the previous one ends; insert(0, ...) "
        "stacks them all at the start",
    ),
    # --- make_training_pairs
    edited(
        "pairs_targets_not_shifted",
        "make_training_pairs",
        "test_pairs",
        _PAIRS,
        "ids[1 : n * seq_len + 1]",
        "ids[: n * seq_len]",
        "each target is the token that follows its input: shift the targets by one",
    ),
    edited(
        "pairs_no_end_token",
        "make_training_pairs",
        "test_pairs",
        _PAIRS,
        "pieces += [vocab.encode(tokens), torch.tensor([vocab.end_id])]",
        "pieces += [vocab.encode(tokens)]",
        "put the end token after every melody, so that the model learns where melodies stop",
    ),
    edited(
        "pairs_end_token_first",
        "make_training_pairs",
        "test_pairs",
        _PAIRS,
        "pieces += [vocab.encode(tokens), torch.tensor([vocab.end_id])]",
        "pieces += [torch.tensor([vocab.end_id]), vocab.encode(tokens)]",
        "the end token comes after each melody, not before it",
    ),
    edited(
        "pairs_no_room_for_last_target",
        "make_training_pairs",
        "test_pairs",
        _PAIRS,
        "n = (len(ids) - 1) // seq_len",
        "n = len(ids) // seq_len",
        "n = (N - 1) // seq_len: the last window's targets need one more id after it",
    ),
    edited(
        "pairs_transposed_windows",
        "make_training_pairs",
        "test_pairs",
        _PAIRS,
        """    inputs = ids[: n * seq_len].view(n, seq_len)
    targets = ids[1 : n * seq_len + 1].view(n, seq_len)""",
        """    inputs = ids[: n * seq_len].view(seq_len, n).T
    targets = ids[1 : n * seq_len + 1].view(seq_len, n).T""",
        "each window is seq_len consecutive ids (view(n, seq_len)), not every n-th id",
    ),
    # --- MelodyLSTM
    edited(
        "model_ignores_state",
        "MelodyLSTM",
        "test_model",
        _MODEL,
        "self.lstm(self.embedding(x), state)",
        "self.lstm(self.embedding(x))",
        "pass the given state to the LSTM: the model must continue from it",
    ),
    edited(
        "model_returns_probabilities",
        "MelodyLSTM",
        "test_model",
        _MODEL,
        "return self.head(outputs), state",
        "return torch.softmax(self.head(outputs), dim=-1), state",
        "return logits, not probabilities: the loss and the sampler apply the softmax",
    ),
    edited(
        "model_no_head_on_outputs",
        "MelodyLSTM",
        "test_model",
        _MODEL,
        "return self.head(outputs), state",
        "return self.head(outputs.tanh()), state",
        "the LSTM's outputs go straight into the linear layer (they are already h_t)",
    ),
    # --- sample_melody
    edited(
        "melody_sample_temperature_after_softmax",
        "sample_melody",
        "test_sample",
        _SAMPLE,
        "torch.softmax(z / temperature, dim=-1)",
        "torch.softmax(z, dim=-1) / temperature",
        "divide the logits by the temperature before the softmax; dividing the "
        "probabilities changes nothing once multinomial renormalises them",
    ),
    edited(
        "melody_sample_ignores_generator",
        "sample_melody",
        "test_sample",
        _SAMPLE,
        "torch.multinomial(probabilities, 1, generator=generator)",
        "torch.multinomial(probabilities, 1)",
        "pass generator=generator to torch.multinomial, or the seed changes nothing",
    ),
    edited(
        "melody_sample_state_not_carried",
        "sample_melody",
        "test_sample",
        _SAMPLE,
        "logits, state = model(next_id.view(1, 1), state)",
        "logits, state = model(next_id.view(1, 1))",
        "feed each new token with the state the model returned last time",
    ),
    edited(
        "melody_sample_ids_on_cpu",
        "sample_melody",
        "test_sample",
        _SAMPLE,
        "return torch.cat(new_ids) if new_ids else prefix.new_zeros(0)",
        "return torch.tensor([int(i) for i in new_ids], dtype=torch.long)",
        "return the ids on the prefix's device (torch.cat of the drawn ids), not a new CPU tensor",
    ),
    edited(
        "melody_sample_ignores_end",
        "sample_melody",
        "test_sample",
        _SAMPLE,
        "if end_id is not None and next_id.item() == end_id:",
        "if False:",
        "stop as soon as the end token is drawn (and leave it out)",
    ),
    edited(
        "melody_sample_keeps_end",
        "sample_melody",
        "test_sample",
        _SAMPLE,
        """            if end_id is not None and next_id.item() == end_id:
                break
            new_ids.append(next_id)
""",
        """            new_ids.append(next_id)
            if end_id is not None and next_id.item() == end_id:
                break
""",
        "the end token itself is not part of the melody: stop before appending it",
    ),
    # --- train_melody_model
    edited(
        "melody_train_no_zero_grad",
        "train_melody_model",
        "test_train",
        _TRAIN,
        "            optimizer.zero_grad()\n",
        "",
        "zero the gradients before each backward pass, or they add up over minibatches",
    ),
    edited(
        "melody_train_permutation_drawn_on_gpu",
        "train_melody_model",
        "test_train",
        _TRAIN,
        "torch.randperm(len(inputs), generator=generator).to(inputs.device)",
        "torch.randperm(len(inputs), generator=generator, device=inputs.device)",
        "the generator is a CPU one: draw the permutation on the CPU, then move it "
        "(torch.randperm(..., generator=generator).to(inputs.device))",
    ),
    edited(
        "melody_train_not_shuffled",
        "train_melody_model",
        "test_train",
        _TRAIN,
        "torch.randperm(len(inputs), generator=generator)",
        "torch.arange(len(inputs))",
        "shuffle the windows every epoch with torch.randperm(..., generator=generator)",
    ),
    edited(
        "melody_train_global_rng",
        "train_melody_model",
        "test_train",
        _TRAIN,
        "torch.randperm(len(inputs), generator=generator)",
        "torch.randperm(len(inputs))",
        "draw the order from the given generator, not the global random state",
    ),
    edited(
        "melody_train_drops_last_minibatch",
        "train_melody_model",
        "test_train",
        _TRAIN,
        "range(0, len(inputs), batch_size)",
        "range(0, len(inputs) - batch_size + 1, batch_size)",
        "keep the last, smaller minibatch: every window is used once per epoch",
    ),
    edited(
        "melody_train_no_clipping",
        "train_melody_model",
        "test_train",
        _TRAIN,
        "            nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n",
        "",
        "clip the gradients' global norm to max_norm between backward() and step()",
    ),
    edited(
        "melody_train_step_before_backward",
        "train_melody_model",
        "test_train",
        _TRAIN,
        """            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()""",
        """            optimizer.step()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm)""",
        "backward(), then clip, then step(): a step before backward() uses no gradient",
    ),
]

ALTERNATIVES = {
    "tokenize": '''
def tokenize(melody):
    """Ties joined by hand instead of stripTies()."""
    names, lengths = [], []
    for item in melody.flatten().notesAndRests:
        if not item.quarterLength:
            continue
        label = "rest" if item.isRest else item.nameWithOctave
        continues = item.isNote and item.tie is not None and item.tie.type in ("stop", "continue")
        if continues and names and names[-1] == label:
            lengths[-1] = lengths[-1] + item.quarterLength
        else:
            names.append(label)
            lengths.append(item.quarterLength)
    texts = [str(note.Note(quarterLength=q).quarterLength) for q in lengths]
    return [label + "_" + text for label, text in zip(names, texts)]
''',
    "detokenize": '''
def detokenize(tokens):
    """A Part, each element inserted at a running offset."""
    part, offset = stream.Part(), Fraction(0)
    for token in tokens:
        if token.count("_") != 1:
            continue
        label, text = token.split("_")
        length = Fraction(text)
        if label == "rest":
            element = note.Rest(quarterLength=length)
        else:
            element = note.Note(label, quarterLength=length)
        part.insert(offset, element)
        offset += length
    return part
''',
    "make_training_pairs": '''
def make_training_pairs(melodies, vocab, seq_len):
    """A Python list of ids, windows cut by a list comprehension."""
    ids = []
    for tokens in melodies:
        ids.extend(vocab.encode(tokens).tolist())
        ids.append(vocab.end_id)
    count = (len(ids) - 1) // seq_len
    starts = [k * seq_len for k in range(count)]
    x = torch.tensor([ids[s : s + seq_len] for s in starts], dtype=torch.long)
    y = torch.tensor([ids[s + 1 : s + seq_len + 1] for s in starts], dtype=torch.long)
    return x.reshape(count, seq_len), y.reshape(count, seq_len)
''',
    "sample_melody": '''
@torch.no_grad()
def sample_melody(model, prefix, n_tokens, temperature=1.0, generator=None, end_id=None):
    """The ids collected in a preallocated tensor on the prefix's device."""
    out = torch.empty(n_tokens, dtype=torch.long, device=prefix.device)
    logits, state = model(prefix[None, :])
    count = 0
    while count < n_tokens:
        scores = logits[0, -1]
        if temperature == 0:
            token = torch.argmax(scores, dim=-1, keepdim=True)
        else:
            weights = F.softmax(scores / temperature, dim=-1)
            token = torch.multinomial(weights, 1, generator=generator)
        if end_id is not None and int(token) == end_id:
            break
        out[count] = token[0]
        count += 1
        logits, state = model(token.reshape(1, 1), state)
    return out[:count]
''',
    "train_melody_model": '''
def train_melody_model(
    model, inputs, targets, optimizer, n_epochs, batch_size, max_norm=1.0, generator=None
):
    """The loss with the class dimension second; the minibatches by split() of a
    permutation left on the CPU (a GPU tensor may be indexed with CPU indices)."""
    history = []
    for epoch in range(n_epochs):
        permutation = torch.randperm(inputs.shape[0], generator=generator)
        for batch in permutation.split(batch_size):
            logits, _ = model(inputs[batch])
            loss = F.cross_entropy(logits.transpose(1, 2), targets[batch])
            model.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
            optimizer.step()
            history.append(float(loss))
    return history
''',
}
