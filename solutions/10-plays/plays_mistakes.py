"""Project B (comedy, history or tragedy): known mistakes and correct alternatives."""

from autograder.mistakes import edited, reference

_AVERAGE = reference("plays", "average_embeddings")

_BAG = reference("plays", "BagOfEmbeddings")

_LSTM = reference("plays", "LSTMClassifier")

_TRAIN = reference("plays", "train_classifier")

_CONFUSION = reference("plays", "confusion_matrix")

_PLOT = reference("plays", "plot_confusion_matrix")

MISTAKES = [
    # --- average_embeddings
    edited(
        "plays_mean_divides_by_padded_length",
        "average_embeddings",
        "test_average",
        _AVERAGE,
        "return total / lengths[:, None].to(vectors.dtype)",
        "return total / vectors.shape[1]",
        "divide by each sequence's own length, not by the padded length T",
    ),
    edited(
        "plays_mean_includes_padding",
        "average_embeddings",
        "test_average",
        _AVERAGE,
        "total = (vectors * real[:, :, None]).sum(dim=1)",
        "total = vectors.sum(dim=1)",
        "mask the padding before summing: only the first lengths[b] vectors count",
    ),
    edited(
        "plays_mean_mask_off_by_one",
        "average_embeddings",
        "test_average",
        _AVERAGE,
        "steps[None, :] < lengths[:, None]",
        "steps[None, :] <= lengths[:, None]",
        "step t (counted from 0) is real when t < lengths[b]: <= takes one padding step too",
    ),
    edited(
        "plays_mean_mask_on_cpu",
        "average_embeddings",
        "test_average",
        _AVERAGE,
        "torch.arange(vectors.shape[1], device=vectors.device)",
        "torch.arange(vectors.shape[1])",
        "create the steps on the vectors' device: torch.arange(T, device=vectors.device)",
    ),
    edited(
        "plays_mean_in_place",
        "average_embeddings",
        "test_average",
        _AVERAGE,
        "total = (vectors * real[:, :, None]).sum(dim=1)",
        "total = vectors.mul_(real[:, :, None]).sum(dim=1)",
        "do not modify the input in place (mul_): multiply into a new tensor",
    ),
    edited(
        "plays_mean_lengths_not_a_column",
        "average_embeddings",
        "test_average",
        _AVERAGE,
        "return total / lengths[:, None].to(vectors.dtype)",
        "return total / lengths.to(vectors.dtype)",
        "divide row b by lengths[b]: make the lengths a column, lengths[:, None], so that "
        "they broadcast over the E features",
    ),
    # --- BagOfEmbeddings
    edited(
        "plays_bag_mean_over_padding",
        "BagOfEmbeddings",
        "test_bag",
        _BAG,
        "mean = average_embeddings(self.embedding(ids), lengths)",
        "mean = self.embedding(ids).mean(dim=1)",
        "average only the real words (average_embeddings with the lengths), not all T positions",
    ),
    edited(
        "plays_bag_returns_probabilities",
        "BagOfEmbeddings",
        "test_bag",
        _BAG,
        "return self.head(mean)",
        "return torch.softmax(self.head(mean), dim=-1)",
        "return logits, not probabilities: the loss applies the softmax",
    ),
    edited(
        "plays_bag_sum_of_vectors",
        "BagOfEmbeddings",
        "test_bag",
        _BAG,
        "return self.head(mean)",
        "return self.head(mean * lengths[:, None])",
        "use the mean of the word vectors, not their sum: a long speech would get larger logits",
    ),
    edited(
        "plays_bag_activation_before_head",
        "BagOfEmbeddings",
        "test_bag",
        _BAG,
        "return self.head(mean)",
        "return self.head(torch.tanh(mean))",
        "the mean goes straight into the linear layer: logits = W mean + b",
    ),
    # --- LSTMClassifier
    edited(
        "plays_lstm_last_padded_output",
        "LSTMClassifier",
        "test_lstm",
        _LSTM,
        """        sequences = pack_padded_sequence(
            vectors, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (h_n, _) = self.lstm(sequences)
        return self.head(h_n[-1])""",
        """        outputs, _ = self.lstm(vectors)
        return self.head(outputs[:, -1])""",
        "output[:, -1] of the padded batch has read the padding of every shorter sequence: "
        "pack the batch and use h_n",
    ),
    edited(
        "plays_lstm_first_layer",
        "LSTMClassifier",
        "test_lstm",
        _LSTM,
        "return self.head(h_n[-1])",
        "return self.head(h_n[0])",
        "h_n has one row per layer: the top layer's last state is h_n[-1], not h_n[0]",
    ),
    edited(
        "plays_lstm_cell_state",
        "LSTMClassifier",
        "test_lstm",
        _LSTM,
        """        _, (h_n, _) = self.lstm(sequences)
        return self.head(h_n[-1])""",
        """        _, (_, c_n) = self.lstm(sequences)
        return self.head(c_n[-1])""",
        "classify from the hidden state h_n, not from the cell state c_n",
    ),
    edited(
        "plays_lstm_enforce_sorted",
        "LSTMClassifier",
        "test_lstm",
        _LSTM,
        "batch_first=True, enforce_sorted=False",
        "batch_first=True",
        "the lengths of a batch are not sorted: pass enforce_sorted=False",
    ),
    edited(
        "plays_lstm_sorted_not_restored",
        "LSTMClassifier",
        "test_lstm",
        _LSTM,
        """        vectors = self.embedding(ids)
        sequences = pack_padded_sequence(
            vectors, lengths.cpu(), batch_first=True, enforce_sorted=False
        )""",
        """        lengths, order = lengths.sort(descending=True)
        vectors = self.embedding(ids[order])
        sequences = pack_padded_sequence(vectors, lengths.cpu(), batch_first=True)""",
        "after sorting the batch by length, put the results back in the batch's order "
        "(or let enforce_sorted=False do both)",
    ),
    edited(
        "plays_lstm_not_batch_first_packing",
        "LSTMClassifier",
        "test_lstm",
        _LSTM,
        "vectors, lengths.cpu(), batch_first=True, enforce_sorted=False",
        "vectors, lengths.cpu(), enforce_sorted=False",
        "the batch is (B, T, E): pack it with batch_first=True",
    ),
    edited(
        "plays_lstm_mean_of_padded_outputs",
        "LSTMClassifier",
        "test_lstm",
        _LSTM,
        """        sequences = pack_padded_sequence(
            vectors, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (h_n, _) = self.lstm(sequences)
        return self.head(h_n[-1])""",
        """        outputs, _ = self.lstm(vectors)
        return self.head(outputs.mean(dim=1))""",
        "use the last state after each sequence's own end; a mean over all T outputs "
        "includes the padding",
    ),
    edited(
        "plays_lstm_lengths_on_gpu",
        "LSTMClassifier",
        "test_lstm",
        _LSTM,
        "vectors, lengths.cpu(), batch_first=True, enforce_sorted=False",
        "vectors, lengths, batch_first=True, enforce_sorted=False",
        "pack_padded_sequence wants the lengths on the CPU even when the batch is on the "
        "GPU: pass lengths.cpu()",
    ),
    edited(
        "plays_lstm_ignores_num_layers",
        "LSTMClassifier",
        "test_lstm",
        _LSTM,
        "nn.LSTM(embedding_size, hidden_size, num_layers, batch_first=True)",
        "nn.LSTM(embedding_size, hidden_size, batch_first=True)",
        "pass num_layers to nn.LSTM",
    ),
    edited(
        "plays_lstm_returns_probabilities",
        "LSTMClassifier",
        "test_lstm",
        _LSTM,
        "return self.head(h_n[-1])",
        "return torch.log_softmax(self.head(h_n[-1]), dim=-1)",
        "return the raw logits: F.cross_entropy applies the (log-)softmax itself",
    ),
    # --- train_classifier
    edited(
        "plays_train_no_zero_grad",
        "train_classifier",
        "test_train",
        _TRAIN,
        "            optimizer.zero_grad()\n",
        "",
        "zero the gradients before each backward pass, or they add up over minibatches",
    ),
    edited(
        "plays_train_permutation_drawn_on_gpu",
        "train_classifier",
        "test_train",
        _TRAIN,
        "torch.randperm(len(ids), generator=generator).to(ids.device)",
        "torch.randperm(len(ids), generator=generator, device=ids.device)",
        "the generator is a CPU one: draw the permutation on the CPU, then move it "
        "(torch.randperm(..., generator=generator).to(ids.device))",
    ),
    edited(
        "plays_train_not_shuffled",
        "train_classifier",
        "test_train",
        _TRAIN,
        "torch.randperm(len(ids), generator=generator)",
        "torch.arange(len(ids))",
        "shuffle the examples every epoch with torch.randperm(..., generator=generator)",
    ),
    edited(
        "plays_train_global_rng",
        "train_classifier",
        "test_train",
        _TRAIN,
        "torch.randperm(len(ids), generator=generator)",
        "torch.randperm(len(ids))",
        "draw the order from the given generator, not the global random state",
    ),
    edited(
        "plays_train_drops_last_minibatch",
        "train_classifier",
        "test_train",
        _TRAIN,
        "for batch in order.split(batch_size):",
        "for batch in order.split(batch_size)[: len(ids) // batch_size]:",
        "keep the last, smaller minibatch: every example is used once per epoch",
    ),
    edited(
        "plays_train_sum_loss",
        "train_classifier",
        "test_train",
        _TRAIN,
        "F.cross_entropy(model(ids[batch], lengths[batch]), labels[batch])",
        'F.cross_entropy(model(ids[batch], lengths[batch]), labels[batch], reduction="sum")',
        "use the mean cross-entropy over the minibatch (the default), not the sum",
    ),
    edited(
        "plays_train_no_clipping",
        "train_classifier",
        "test_train",
        _TRAIN,
        "            nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n",
        "",
        "clip the gradients' global norm to max_norm between backward() and step()",
    ),
    edited(
        "plays_train_step_before_backward",
        "train_classifier",
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
    # --- confusion_matrix, plot_confusion_matrix
    edited(
        "plays_confusion_transposed",
        "confusion_matrix",
        "test_confusion",
        _CONFUSION,
        "matrix.index_put_((true, predicted),",
        "matrix.index_put_((predicted, true),",
        "rows are the true classes and columns the predicted ones: matrix[true, predicted]",
    ),
    edited(
        "plays_confusion_bincount_without_minlength",
        "confusion_matrix",
        "test_confusion",
        _CONFUSION,
        """    matrix = torch.zeros(n_classes, n_classes, dtype=torch.long, device=true.device)
    matrix.index_put_((true, predicted), torch.ones_like(true), accumulate=True)
    return matrix""",
        """    counts = torch.bincount(true * n_classes + predicted)
    return counts.reshape(-1, n_classes)""",
        "give bincount minlength=n_classes ** 2: a class that never occurs still has its row",
    ),
    edited(
        "plays_confusion_on_cpu",
        "confusion_matrix",
        "test_confusion",
        _CONFUSION,
        "dtype=torch.long, device=true.device)",
        "dtype=torch.long)",
        "create the matrix on the labels' device (device=true.device)",
    ),
    edited(
        "plays_plot_normalizes_columns",
        "plot_confusion_matrix",
        "test_confusion",
        _PLOT,
        "values.sum(dim=1, keepdim=True)",
        "values.sum(dim=0, keepdim=True)",
        "normalise each row (a true class) by its sum: sum(dim=1), not each column",
    ),
    edited(
        "plays_plot_normalizes_by_total",
        "plot_confusion_matrix",
        "test_confusion",
        _PLOT,
        "values.sum(dim=1, keepdim=True).clamp_min(1)",
        "values.sum().clamp_min(1)",
        "normalise each row by its own sum, not the whole matrix by the total",
    ),
    edited(
        "plays_plot_ignores_normalize",
        "plot_confusion_matrix",
        "test_confusion",
        _PLOT,
        """    if normalize:
        values = values / values.sum(dim=1, keepdim=True).clamp_min(1)
""",
        "",
        "with normalize=True, divide each row by its sum before drawing",
    ),
    edited(
        "plays_plot_no_tick_labels",
        "plot_confusion_matrix",
        "test_confusion",
        _PLOT,
        """    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_yticks(range(len(class_names)), class_names)
""",
        "",
        "put the class names on both axes: ax.set_xticks(range(C), class_names), likewise y",
    ),
    edited(
        "plays_plot_axis_labels_swapped",
        "plot_confusion_matrix",
        "test_confusion",
        _PLOT,
        """    ax.set_xlabel("predicted")
    ax.set_ylabel("true")""",
        """    ax.set_xlabel("true")
    ax.set_ylabel("predicted")""",
        "the columns (x) are the predictions and the rows (y) the true classes",
    ),
    edited(
        "plays_plot_new_axes",
        "plot_confusion_matrix",
        "test_confusion",
        _PLOT,
        "    if ax is None:\n        _, ax = plt.subplots()\n",
        "    _, ax = plt.subplots()\n",
        "draw into the ax you are given (make a new one only when ax is None)",
    ),
    edited(
        "plays_plot_transposed_image",
        "plot_confusion_matrix",
        "test_confusion",
        _PLOT,
        'ax.imshow(values.numpy(), cmap="Blues")',
        'ax.imshow(values.numpy().T, cmap="Blues")',
        "imshow draws row i of the matrix as row i of the image: do not transpose it",
    ),
]

ALTERNATIVES = {
    "average_embeddings": '''
def average_embeddings(vectors, lengths):
    """torch.where on the padding, the divisor from the mask itself."""
    positions = torch.arange(vectors.shape[1], device=lengths.device).expand(len(lengths), -1)
    keep = (positions < lengths.unsqueeze(1)).unsqueeze(2)
    summed = torch.where(keep, vectors, torch.zeros_like(vectors)).sum(1)
    return summed / keep.sum(1).to(vectors.dtype)
''',
    "BagOfEmbeddings": '''
class BagOfEmbeddings(nn.Module):
    """With padding_idx=0 (the padding's vector is zero; it is masked anyway)."""

    def __init__(self, vocab_size, embedding_size, n_classes):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=0)
        self.head = nn.Linear(embedding_size, n_classes)

    def forward(self, ids, lengths):
        return self.head(average_embeddings(self.embedding(ids), lengths))
''',
    "LSTMClassifier": '''
class LSTMClassifier(nn.Module):
    """Unpacked, but reading each sequence's output at its own last step: for a
    one-directional LSTM the padding after the end cannot change it."""

    def __init__(self, vocab_size, embedding_size, hidden_size, n_classes, num_layers=1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.lstm = nn.LSTM(embedding_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, n_classes)

    def forward(self, ids, lengths):
        outputs, _ = self.lstm(self.embedding(ids))  # (B, T, H)
        rows = torch.arange(len(ids), device=ids.device)
        return self.head(outputs[rows, lengths - 1])
''',
    "train_classifier": '''
def train_classifier(
    model, ids, lengths, labels, optimizer, n_epochs, batch_size, max_norm=1.0, generator=None
):
    """Slices of the permutation by index, left on the CPU (a GPU tensor may be indexed
    with CPU indices); each minibatch trimmed to its longest sequence."""
    history = []
    for epoch in range(n_epochs):
        permutation = torch.randperm(ids.shape[0], generator=generator)
        for start in range(0, len(permutation), batch_size):
            chosen = permutation[start : start + batch_size]
            width = int(lengths[chosen].max())
            logits = model(ids[chosen, :width], lengths[chosen])
            loss = F.cross_entropy(logits, labels[chosen])
            model.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
            optimizer.step()
            history.append(float(loss))
    return history
''',
    "confusion_matrix": '''
def confusion_matrix(true, predicted, n_classes):
    """bincount over the flat index true * C + predicted."""
    flat = torch.bincount(true * n_classes + predicted, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes).long()
''',
    "plot_confusion_matrix": '''
def plot_confusion_matrix(matrix, class_names, normalize=False, ax=None):
    """NumPy for the values, ax.set for the labels."""
    import numpy as np

    ax = plt.gca() if ax is None else ax
    counts = np.asarray(matrix.cpu(), dtype=float)
    if normalize:
        sums = counts.sum(axis=1, keepdims=True)
        counts = np.divide(counts, sums, out=np.zeros_like(counts), where=sums > 0)
    ax.imshow(counts, cmap="viridis")
    for (i, j), v in np.ndenumerate(counts):
        ax.text(j, i, format(v, ".2f" if normalize else ".0f"), ha="center", va="center")
    ticks = list(range(len(class_names)))
    ax.set(xticks=ticks, yticks=ticks, xlabel="predicted class", ylabel="true class")
    ax.set_xticklabels(class_names)
    ax.set_yticklabels(class_names)
    return ax
''',
}
