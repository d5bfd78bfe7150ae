"""How two copies of a story differ, word by word: what the story page highlights.

Wire copies differ by a few words (spelling, a dateline, "Monday" for a date, a trailing line);
a word-level diff (difflib) shows exactly those. The result is plain records of text, so the
template escapes every word like any other stored text: nothing here makes HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum

_PARAGRAPH = "\n\n"
_TOKEN = re.compile(r"\n\s*\n|\S+")


class Change(StrEnum):
    SAME = "same"
    #: Words this copy has and the base copy lacks.
    ADDED = "added"
    #: Words of the base copy this copy lacks.
    REMOVED = "removed"


@dataclass(frozen=True)
class Segment:
    change: Change
    text: str


#: A paragraph as a run of segments.
Paragraph = tuple[Segment, ...]


def _tokens(text: str) -> list[str]:
    """Words, with a paragraph break as a token of its own (so a diff never spans paragraphs
    without saying so)."""
    return [_PARAGRAPH if token.isspace() else token for token in _TOKEN.findall(text)]


def _paragraphs(pieces: list[tuple[Change, str]]) -> list[Paragraph]:
    """Group (change, token) pieces into paragraphs of merged segments."""
    paragraphs: list[Paragraph] = []
    current: list[Segment] = []

    def add(change: Change, word: str) -> None:
        if current and current[-1].change == change:
            current[-1] = Segment(change, f"{current[-1].text} {word}")
        else:
            current.append(Segment(change, word))

    for change, token in pieces:
        if token == _PARAGRAPH:
            if current:
                paragraphs.append(tuple(current))
                current = []
            continue
        add(change, token)
    if current:
        paragraphs.append(tuple(current))
    return paragraphs


def plain(text: str) -> list[Paragraph]:
    """A text as unchanged paragraphs (the base copy's own column)."""
    return _paragraphs([(Change.SAME, t) for t in _tokens(text)])


def compare(base: str, other: str) -> list[Paragraph]:
    """``other`` as paragraphs of segments: words it shares with ``base``, words it adds, and the
    words of ``base`` it drops (in place, so a reader sees "defence" struck through before
    "defense")."""
    a, b = _tokens(base), _tokens(other)
    # autojunk off: in a 500-word article "the" and "of" are more than 1% of the words, and
    # treating them as junk splits the diff into noise.
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    pieces: list[tuple[Change, str]] = []
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            pieces += [(Change.SAME, t) for t in b[b0:b1]]
            continue
        if op in ("delete", "replace"):
            pieces += [(Change.REMOVED, t) for t in a[a0:a1]]
        if op in ("insert", "replace"):
            pieces += [(Change.ADDED, t) for t in b[b0:b1]]
    return _paragraphs(pieces)


def similarity(base: str, other: str) -> float:
    """The share of words the two copies have in common (difflib's ratio), 0 to 1."""
    return SequenceMatcher(None, _tokens(base), _tokens(other), autojunk=False).ratio()
