"""Probes of Project B (comedy, history or tragedy?): see rnncourse/diagnosis.py."""

import torch

from rnncourse.probes import randn


def _padded_vectors():
    """Vectors (3, 4, 2) with garbage in the padding, lengths 2, 4, 1 (unsorted)."""
    (vectors,) = randn(13, (3, 4, 2))
    lengths = torch.tensor([2, 4, 1])
    vectors[torch.arange(4)[None, :] >= lengths[:, None]] = 50.0
    return vectors, lengths


def _average_embeddings(fn):
    vectors, lengths = _padded_vectors()
    return fn(vectors, lengths), vectors


def _padded_ids():
    ids = torch.tensor([[1, 2, 0, 0], [3, 4, 5, 6], [2, 0, 0, 0]])
    return ids, torch.tensor([2, 4, 1])


def _seeded(model, seed):
    g = torch.Generator().manual_seed(seed)
    shapes = {name: p.shape for name, p in model.named_parameters()}
    model.load_state_dict(
        {n: 0.5 * torch.randn(s, generator=g, dtype=torch.float64) for n, s in shapes.items()}
    )
    return model.double()


def _bag_of_embeddings(fn):
    model = _seeded(fn(7, 3, 2), 14)
    ids, lengths = _padded_ids()
    return torch.tensor([float(len(list(model.parameters())))]), model(ids, lengths)


def _lstm_classifier(fn):
    model = _seeded(fn(7, 3, 4, 2, num_layers=2), 15)
    ids, lengths = _padded_ids()
    return torch.tensor([float(len(list(model.parameters())))]), model(ids, lengths)


class _ToyClassifier(torch.nn.Module):
    """A classifier in float64 for the training probe, unlike the exercise's models (nothing
    here answers one): the largest entry of each embedding dimension over the real words."""

    def __init__(self, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.E = torch.nn.Parameter(torch.randn(6, 3, generator=g, dtype=torch.float64))
        self.W = torch.nn.Parameter(torch.randn(3, 3, generator=g, dtype=torch.float64))

    def forward(self, ids, lengths):
        padding = torch.arange(ids.shape[1])[None, :] >= lengths[:, None]
        pooled = self.E[ids].masked_fill(padding[..., None], float("-inf")).amax(1)
        return pooled @ self.W.T


def _train_classifier(fn):
    model = _ToyClassifier(seed=3)
    g = torch.Generator().manual_seed(8)
    lengths = torch.randint(1, 5, (5,), generator=g)
    ids = torch.randint(1, 6, (5, 4), generator=g)
    ids[torch.arange(4)[None, :] >= lengths[:, None]] = 0
    labels = torch.randint(0, 3, (5,), generator=g)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = fn(model, ids, lengths, labels, optimizer, 2, 2, 0.1, torch.Generator().manual_seed(4))
    losses = torch.tensor([float(v) for v in losses], dtype=torch.float64)
    return (losses, *(p.detach() for p in model.parameters()))


def _confusion_matrix(fn):
    true, predicted = torch.tensor([0, 0, 1, 2, 2, 1, 0]), torch.tensor([0, 2, 1, 2, 0, 0, 0])
    return fn(true, predicted, 4), fn(true[:3], predicted[:3], 3)


def _plot_confusion_matrix(fn):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = torch.tensor([[4, 1, 0], [2, 2, 1], [0, 0, 0]])
    out = []
    for normalize in (False, True):
        fig, ax = plt.subplots()
        drawn = None
        try:
            drawn = fn(matrix, ["a", "b", "c"], normalize=normalize, ax=ax)
            # list(...)[0], not [0]: under the checker, the student's own Axes is a proxy
            # that can be iterated but not indexed.
            image = torch.tensor(list(drawn.images)[0].get_array().tolist(), dtype=torch.float64)
            labels = [t.get_text() for t in (*drawn.get_xticklabels(), *drawn.get_yticklabels())]
            flags = [
                drawn is ax,
                labels == ["a", "b", "c"] * 2,
                "predicted" in drawn.get_xlabel().lower(),
                "true" in drawn.get_ylabel().lower(),
            ]
            out += [image, torch.tensor([float(f) for f in flags], dtype=torch.float64)]
        finally:
            plt.close(fig)
            # A figure the student's function made itself; under the checker it lives in
            # the student's kernel and is left there.
            figure = getattr(drawn, "figure", fig)
            if figure is not fig and isinstance(figure, matplotlib.figure.Figure):
                plt.close(figure)
    return tuple(out)


PROBES = {
    "average_embeddings": _average_embeddings,
    "BagOfEmbeddings": _bag_of_embeddings,
    "LSTMClassifier": _lstm_classifier,
    "train_classifier": _train_classifier,
    "confusion_matrix": _confusion_matrix,
    "plot_confusion_matrix": _plot_confusion_matrix,
}
