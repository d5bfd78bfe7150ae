"""Small text helpers shared by the extraction modules."""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def clean_whitespace(text: str) -> str:
    """Collapse runs of whitespace (non-breaking spaces included) to one space."""
    return _SPACE.sub(" ", text.replace("\xa0", " ").replace("\u200b", "")).strip()


def count_words(text: str) -> int:
    return len(_WORD.findall(text))
