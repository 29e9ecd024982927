"""Reproducible randomness."""

import random
from contextlib import contextmanager

import numpy as np
import torch


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices); return a CPU generator with that seed."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


# The book's pages compute on the CPU with this many threads, whatever the machine has.
BOOK_THREADS = 1


def use_book_threads() -> None:
    """Run PyTorch's CPU operations on BOOK_THREADS threads.

    The number of threads decides how a long sum is split, and so the order of its
    additions. Fixed here, a page prints the same numbers on a 2-core laptop and on a
    16-core server (with the same kind of CPU: another instruction set, or a GPU, can still
    change the last digits). One thread is also the fastest for the small operations an
    RNN runs one after the other.
    """
    torch.set_num_threads(BOOK_THREADS)


@contextmanager
def threads(count: int):
    """Run a block on `count` CPU threads (to time what more threads give), then return
    to BOOK_THREADS, so that what follows prints the same numbers on every machine with the
    same kind of CPU."""
    torch.set_num_threads(count)
    try:
        yield
    finally:
        use_book_threads()
