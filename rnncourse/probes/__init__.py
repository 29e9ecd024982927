"""Probes of the exercises' functions, one module per exercise (named after its notebook):
each module's PROBES maps a function's name to its probe, a fixed small call whose
results fingerprint the function (see rnncourse/diagnosis.py). Helpers several use:"""

import torch


def chars(text) -> torch.Tensor:
    """A string (or list of characters) as a tensor of code points."""
    return torch.tensor([float(ord(c)) for c in "".join(text)], dtype=torch.float64)


class ToyLanguageModel(torch.nn.Module):
    """A small model called like the exercises' (ids (B, T), state) -> (logits, state), but
    no RNN (nothing here answers an exercise): its state is a fading sum of the vectors of
    the ids read so far, and the logits are a linear function of it."""

    def __init__(self, vocab=5, hidden=4, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        # Scaled so that sampling is neither near-uniform nor near-certain.
        self.E = torch.nn.Parameter(
            0.5 * torch.randn(vocab, hidden, generator=g, dtype=torch.float64)
        )
        self.W = torch.nn.Parameter(torch.randn(vocab, hidden, generator=g, dtype=torch.float64))

    def forward(self, x, h=None):
        state = self.E.new_zeros(x.shape[0], self.E.shape[1]) if h is None else h[0]
        states = []
        for t in range(x.shape[1]):
            state = 0.5 * state + self.E[x[:, t]]
            states.append(state)
        return torch.stack(states, 1) @ self.W.T, state.unsqueeze(0)


def randn(seed, *shapes, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]


def load_random_weights(model: torch.nn.Module, seed: int) -> torch.Tensor:
    """Give `model` standard normal weights, drawn in the order of the parameters' sorted
    names; returns how many parameter tensors it has (a probe result: a layer too many or
    too few shows)."""
    g = torch.Generator().manual_seed(seed)
    names = sorted(name for name, _ in model.named_parameters())
    shapes = {name: p.shape for name, p in model.named_parameters()}
    model.load_state_dict(
        {name: torch.randn(shapes[name], generator=g) for name in names}, strict=True
    )
    return torch.tensor([float(len(names))])
