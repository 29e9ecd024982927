"""rnncourse/plays.py: Shakespeare's speeches, their labels, padding and the split by play."""

from collections import Counter

import torch

from rnncourse.plays import (
    GENRE,
    GENRES,
    Vocabulary,
    encode_examples,
    load_examples,
    pad_batch,
    parse_speeches,
    play_paths,
    speeches,
    split_plays,
    tokenize,
)

SAMPLE = """# A Play

## ACT I

### SCENE I. A heath.

_Thunder. Enter two Witches, with
their familiars_

**First Witch**|
When shall we meet again|
In thunder? _Aside_ Soon.

_Exit Second Witch_

Now she is gone.

**KING HENRY**|
\\[Aside\\] By my word.

### SCENE II. A camp.

A line after a heading, with no speaker.
""".replace("|", "  ")  # Markdown's line break: two spaces at the end of a verse line


def test_speeches_lose_names_stage_directions_and_headings():
    got = parse_speeches(SAMPLE)
    assert got == [
        "When shall we meet again In thunder?   Soon. Now she is gone.",
        "By my word.",
    ]


def test_the_first_folio_headings_for_36_plays_all_installed():
    assert Counter(GENRE.values()) == {"comedy": 14, "history": 10, "tragedy": 12}
    assert "pericles" not in GENRE and "edward-iii" not in GENRE
    paths = play_paths()
    assert sorted(paths) == sorted(GENRE) and all(p.is_file() for p in paths.values())
    lines = speeches("macbeth")
    assert lines[0] == "When shall we three meet again In thunder, lightning, or in rain?"
    assert len(lines) > 500
    for text in (s for play in GENRE for s in speeches(play)):
        assert not any(mark in text for mark in ("**", "_", "[", "]", "\\")), text


def test_tokenize_keeps_inner_apostrophes():
    assert tokenize("O'er the hills, I'll go -- 'tis WELL!") == [
        "o'er",
        "the",
        "hills",
        "i'll",
        "go",
        "tis",
        "well",
    ]


def test_split_is_by_whole_plays_deterministic_and_balanced():
    split = split_plays()
    assert split == split_plays(seed=0)
    assert split != split_plays(seed=1)
    everything = split["train"] + split["valid"] + split["test"]
    assert sorted(everything) == sorted(GENRE)  # each play in exactly one part
    for part, size in (("valid", 1), ("test", 3)):
        assert Counter(GENRE[p] for p in split[part]) == dict.fromkeys(GENRES, size)


def test_examples_vocabulary_and_padding():
    examples = load_examples(["macbeth"], min_words=5, max_words=12)
    assert all(5 <= len(tokens) <= 12 for tokens, _, _ in examples)
    assert {(label, play) for _, label, play in examples} == {(2, "macbeth")}
    vocab = Vocabulary([["a", "b", "b", "c", "c", "c"]], min_count=2)
    assert vocab.words == ["<pad>", "<unk>", "c", "b"] and len(vocab) == 4
    assert vocab.encode(["c", "a", "zzz", "b"]).tolist() == [2, 1, 1, 3]
    assert vocab.decode(torch.tensor([2, 3, 0, 0])) == ["c", "b"]
    ids, lengths = pad_batch([torch.tensor([4, 5]), torch.tensor([6]), torch.tensor([7, 8, 9])])
    assert ids.tolist() == [[4, 5, 0], [6, 0, 0], [7, 8, 9]] and lengths.tolist() == [2, 1, 3]
    ids, lengths, labels = encode_examples(examples, Vocabulary([t for t, _, _ in examples]))
    assert ids.shape == (len(examples), 12) and ids.dtype == torch.long
    assert lengths.tolist() == [len(t) for t, _, _ in examples]
    assert (labels == 2).all()
