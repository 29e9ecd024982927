"""Dates as people write them, in seven languages, paired with their ISO 8601 form.

The data of chapter 7 (sequence to sequence), made offline and on the fly: a random day
between 1950 and 2049 is written the way a person might write it, in English, French,
German, Spanish, Italian, Portuguese or Dutch ("mardi 3 avril 2001", "3. April 2001",
"Apr 3, 2001", "03.04.01"), and the target is the same day as `YYYY-MM-DD`
("2001-04-03"). The names of months and weekdays, and each language's own standard
forms, come from `babel`, which ships the Unicode CLDR locale data (Sphinx depends on it,
so every machine that builds the book has it).

Two choices keep every input unambiguous, so that a perfect model is possible:

- forms written with digits only are always *day first* (`d/M/y`, `dd.MM.yy`, the
  locales' `medium` forms): the American `M/d/yy` (CLDR's `short` form in English) would
  make "3/4/2001" mean two different days, so it is left out;
- the years span exactly one century, 1950 to 2049, so a two-digit year has one meaning:
  50 to 99 are the 1900s, 00 to 49 the 2000s.

Babel formats dates; it does not choose how a person would write one, so the list of
patterns below is ours, and a pattern is applied in every language even where its order
is unusual there ("avril 3, 2001"). Babel also writes every name in its dictionary case
(lower case in French, capitalised in German): no random capitals are added.

Every day of the range belongs to one split, fixed by `SPLIT_SEED`: one day in ten is held
out (`split="test"`), so a test input never shows a day the training set had in any form.
All randomness comes from `random.Random(seed)`: the same seed gives the same pairs.

Token ids: `<pad>` 0, `<bos>` 1, `<eos>` 2, then the characters (`CharVocab`).
"""

import datetime
import random
from functools import cache

import torch
from babel.dates import format_date

LOCALES = ("en", "fr", "de", "es", "it", "pt", "nl")
# CLDR patterns (d day, M month: MMM abbreviated name, MMMM full name; EEE/EEEE weekday;
# y year, yy two digits), and the locale's own standard forms "medium", "long", "full".
PATTERNS = (
    "d MMMM y",
    "MMMM d, y",
    "MMM d, y",
    "d MMM y",
    "EEEE d MMMM y",
    "EEEE, MMMM d, y",
    "EEE d MMM y",
    "dd.MM.yy",
    "d/M/y",
    "dd/MM/y",
    "medium",
    "long",
    "full",
)
START, END = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)
SPLIT_SEED = 2015  # fixes which days are held out; not meant to change
TEST_EVERY = 10  # one day in ten is held out

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"  # ids 0, 1, 2
TARGET_CHARACTERS = "0123456789-"


def random_dates(
    n: int, seed: int, start: datetime.date = START, end: datetime.date = END
) -> list[datetime.date]:
    """`n` days drawn uniformly, with replacement, from `start` to `end` (both included)."""
    rng = random.Random(seed)
    span = (end - start).days
    return [start + datetime.timedelta(days=rng.randint(0, span)) for _ in range(n)]


def human_form(day: datetime.date, rng: random.Random) -> str:
    """`day` as a person might write it: a language of `LOCALES` and a pattern of
    `PATTERNS`, both drawn with `rng`."""
    locale = rng.choice(LOCALES)
    return format_date(day, format=rng.choice(PATTERNS), locale=locale)


def iso_form(day: datetime.date) -> str:
    """`day` in ISO 8601, `YYYY-MM-DD`."""
    return day.isoformat()


@cache
def split_days(split: str) -> tuple[datetime.date, ...]:
    """The days of `START` to `END` that belong to `split` ("train" or "test"): a shuffle
    with `SPLIT_SEED` puts one day in `TEST_EVERY` in the test split."""
    if split not in ("train", "test"):
        raise ValueError(f'split must be "train" or "test", got {split!r}')
    days = [START + datetime.timedelta(days=i) for i in range((END - START).days + 1)]
    random.Random(SPLIT_SEED).shuffle(days)
    held_out = days[: len(days) // TEST_EVERY]
    kept = held_out if split == "test" else days[len(held_out) :]
    return tuple(sorted(kept))


def make_pairs(n: int, seed: int, split: str = "train") -> list[tuple[str, str]]:
    """`n` pairs (human form, ISO form) of days of `split`, drawn with replacement."""
    rng = random.Random(seed)
    days = split_days(split)
    pairs = []
    for _ in range(n):
        day = rng.choice(days)
        pairs.append((human_form(day, rng), iso_form(day)))
    return pairs


@cache
def source_characters() -> str:
    """Every character a human form can contain, sorted: the digits, and what every
    pattern writes in every locale for the twelve months and the seven weekdays."""
    days = [datetime.date(2001, month, 1) for month in range(1, 13)]
    days += [datetime.date(2001, 1, d) for d in range(1, 8)]  # Monday 1 to Sunday 7
    seen = set("0123456789")
    for locale in LOCALES:
        for pattern in PATTERNS:
            for day in days:
                seen.update(format_date(day, format=pattern, locale=locale))
    return "".join(sorted(seen))


class CharVocab:
    """Characters <-> ids: `<pad>` is id 0, `<bos>` 1, `<eos>` 2, then `characters` in the
    order given. An unknown character raises a KeyError: every input is made from the
    characters of `source_characters()`, so none should occur."""

    pad_id, bos_id, eos_id = 0, 1, 2

    def __init__(self, characters: str):
        if len(set(characters)) != len(characters):
            raise ValueError("characters must not repeat")
        self.tokens = [PAD, BOS, EOS, *characters]
        self.index = {token: i for i, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        """The ids of the characters of `text`, with `<bos>` before and `<eos>` after if asked."""
        ids = [self.index[c] for c in text]
        return [self.bos_id] * bos + ids + [self.eos_id] * eos

    def decode(self, ids) -> str:
        """The text of these ids (a list or a 1-D tensor): it ends at the first `<eos>`;
        `<pad>` and `<bos>` are left out."""
        text = []
        for i in torch.as_tensor(ids).flatten().tolist():
            if i == self.eos_id:
                break
            if i > self.eos_id:
                text.append(self.tokens[i])
        return "".join(text)


def source_vocab() -> CharVocab:
    """The vocabulary of the human forms: special tokens, then `source_characters()`."""
    return CharVocab(source_characters())


def target_vocab() -> CharVocab:
    """The vocabulary of the ISO forms: special tokens, then `0123456789-` (ids 3 to 13)."""
    return CharVocab(TARGET_CHARACTERS)


def encode_batch(
    strings, vocab: CharVocab, bos: bool = False, eos: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode and pad strings to one length: (ids (B, T_max) long, padded with
    `vocab.pad_id` at the end; lengths (B,) long, `<bos>` and `<eos>` counted), on the CPU."""
    encoded = [vocab.encode(s, bos=bos, eos=eos) for s in strings]
    lengths = torch.tensor([len(ids) for ids in encoded], dtype=torch.long)
    ids = torch.full((len(encoded), int(lengths.max())), vocab.pad_id, dtype=torch.long)
    for row, sequence in enumerate(encoded):
        ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    return ids, lengths
