"""English text to train language models on, available offline on every machine.

CPython ships the text of its own reference documentation (the pages `help("if")`,
`help("lambda")`... show) as the module `pydoc_data.topics`: about 460,000 characters
of English prose with some code, on every Python installation, no download needed.
Any other UTF-8 text file works too: pass its path.
"""

from pathlib import Path


def load_text(path: str | Path | None = None) -> str:
    """The text of the file at `path`, or by default Python's documentation topics."""
    if path is not None:
        return Path(path).read_text(encoding="utf-8")
    from pydoc_data.topics import topics

    # Sorted by topic name so that every machine builds the same text.
    return "\n\n".join(topics[name].strip() for name in sorted(topics))


def split_text(text: str, valid_fraction: float = 0.1) -> tuple[str, str]:
    """(train, validation): the last `valid_fraction` of the text is held out.

    The split is by position, not by random characters or lines, so that no
    validation text is seen, even in part, during training.
    """
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be between 0 and 1, got {valid_fraction}")
    cut = int(len(text) * (1.0 - valid_fraction))
    return text[:cut], text[cut:]
