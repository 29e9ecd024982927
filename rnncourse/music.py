"""Bach chorale melodies, available offline, and the tools to look at and hear melodies.

`music21` (BSD-3-Clause) ships a corpus of encoded scores inside the package, among them
about 400 four-part chorales harmonised by J. S. Bach (MusicXML, `music21/corpus/bach`,
3.4 MB): no download is needed. Parsing one takes about 0.07 s, so the book and the
exercise use fixed subsets (the first chorales in the order of their file names), and
each is parsed once per process.

This module holds what the chapter and the exercise share: loading the soprano lines,
a token vocabulary with ids for unknown tokens and for the end of a melody, a piano-roll
plot and MIDI output (written by music21 itself). Turning a melody into tokens and back
is the reader's work (Project A and its exercise).
"""

import copy
from functools import cache
from pathlib import Path

import torch

UNK = "<unk>"  # id 0: a token the vocabulary has never seen
END = "<end>"  # id 1: the end of a melody


@cache
def chorale_paths() -> tuple[Path, ...]:
    """The MusicXML files of the Bach chorales in music21's corpus, sorted by file name."""
    from music21 import corpus

    return tuple(sorted(corpus.getComposer("bach", fileExtensions=("mxl",)), key=str))


@cache
def _soprano(path: Path):
    from music21 import corpus

    score = corpus.parse(path, forceSource=True)  # forceSource: no pickle cache written
    for part in score.parts:
        if (part.partName or "").lower().startswith("soprano") or part.id == "Soprano":
            return part
    return None  # one file has no soprano part


def load_chorales(n: int, start: int = 0) -> list:
    """The soprano lines (music21 `Part`s, as parsed: measures, ties) of `n` chorales,
    starting at position `start` in `chorale_paths()`; files without a soprano are
    skipped, so the list may be one shorter. Treat them as read-only: they are cached."""
    parts = [_soprano(path) for path in chorale_paths()[start : start + n]]
    return [part for part in parts if part is not None]


class Vocabulary:
    """Tokens (strings) <-> ids: UNK is id 0, END id 1, then the sorted distinct tokens."""

    def __init__(self, melodies):
        """`melodies`: lists of tokens (the training melodies only)."""
        seen = {token for melody in melodies for token in melody} - {UNK, END}
        self.tokens = [UNK, END, *sorted(seen)]
        self.index = {token: i for i, token in enumerate(self.tokens)}

    unk_id = 0
    end_id = 1

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens) -> torch.Tensor:
        """A 1-D long tensor of ids on the CPU; unknown tokens get `unk_id`."""
        return torch.tensor([self.index.get(t, self.unk_id) for t in tokens], dtype=torch.long)

    def decode(self, ids) -> list[str]:
        """The tokens of these ids (a tensor or a list)."""
        return [self.tokens[int(i)] for i in torch.as_tensor(ids).flatten().tolist()]


def piano_roll(ax, melody, *, color="#0072B2", title: str = ""):
    """Draw a melody (any music21 stream) as a piano roll: one bar per note, from its
    onset to its end (in quarter notes) at its MIDI pitch. Returns the axis."""
    notes = [n for n in melody.flatten().notes if n.quarterLength > 0]
    for n in notes:
        ax.broken_barh(
            [(float(n.offset), float(n.quarterLength) * 0.95)],
            (n.pitch.midi - 0.4, 0.8),
            facecolors=color,
        )
    if notes:
        low = min(n.pitch.midi for n in notes)
        high = max(n.pitch.midi for n in notes)
        ticks = [m for m in range(low - 1, high + 2) if m % 12 in (0, 4, 7)]  # C, E, G
        names = {0: "C", 4: "E", 7: "G"}
        ax.set_yticks(ticks, [f"{names[m % 12]}{m // 12 - 1}" for m in ticks])
        ax.set_ylim(low - 1.5, high + 1.5)
        end = max(float(n.offset + n.quarterLength) for n in notes)
        ax.set_xlim(0, end)
    ax.set(xlabel="time (quarter notes)", ylabel="pitch", title=title)
    return ax


def write_midi(melody, path: str | Path, tempo: int = 80) -> Path:
    """Write a melody (any music21 stream) to a standard MIDI file, at `tempo` quarter
    notes per minute, with music21's own writer. Returns the path."""
    from music21 import stream
    from music21 import tempo as m21tempo

    score = stream.Stream()
    score.insert(0, m21tempo.MetronomeMark(number=tempo))
    for element in melody.flatten().notesAndRests:
        score.insert(element.offset, copy.deepcopy(element))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    score.write("midi", fp=str(path))
    return path
