"""Small models shared by chapters and exercises."""

import torch
from torch import nn


class SequenceRegressor(nn.Module):
    """An RNN that reads a sequence and predicts one output vector per time step.

    forward(x, h) takes x of shape (B, T, input_size) and an optional state h of
    shape (1, B, hidden_size) (None means zeros), and returns the predictions
    (B, T, output_size) and the last state (1, B, hidden_size), so that a long
    sequence can be fed in chunks, carrying the state from one to the next.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None):
        states, h_last = self.rnn(x, h)
        return self.head(states), h_last


class FixedLogitsModel(nn.Module):
    """A language model whose next-token logits are always `logits`, whatever it has read.

    forward(x, h) takes ids x of shape (B, T) and returns logits (B, T, V) and a state
    (h itself, or zeros of shape (1, B, 1)). Every id a sampler draws from it follows the
    same distribution, so one long sample is many independent draws: the graders use it
    to test sampling with temperature and top-k.
    """

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.register_buffer("logits", logits.detach().clone())

    def forward(self, x: torch.Tensor, h=None):
        batch, steps = x.shape
        logits = self.logits.to(x.device).expand(batch, steps, -1).clone()
        if h is None:
            h = torch.zeros(1, batch, 1, dtype=logits.dtype, device=x.device)
        return logits, h


class AttentionDecoder(nn.Module):
    """The parts of chapter 7's decoder, with no forward of its own (exercise 7 writes the
    step): an embedding of the previous token, additive attention over the encoder's
    outputs (`W_q` for the query, the previous state; `W_k` for the keys; `v` scores), a
    GRU cell that reads [embedding; context], and an output layer that reads
    [new state; context]."""

    def __init__(self, vocab, embed, hidden, encoder_size, attention_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.W_q = nn.Linear(hidden, attention_size, bias=False)
        self.W_k = nn.Linear(encoder_size, attention_size, bias=False)
        self.v = nn.Linear(attention_size, 1, bias=False)
        self.cell = nn.GRUCell(embed + encoder_size, hidden)
        self.out = nn.Linear(hidden + encoder_size, vocab)
