"""Datelines: "TOKYO —", "TOKYO (AP) —", "NEW YORK, June 3 (Reuters) -" at the start of a story.

The place goes to the record's dateline field and leaves the body, which keeps the sentence; wire
copies then compare equal whatever agency tag each outlet printed.
"""

from __future__ import annotations

import re

_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z.'’\-]+(?: [A-Z][A-Z.'’\-]+){0,3}"
    r"(?:,\s+[A-Z][A-Za-z.'’]+(?: [A-Z][A-Za-z.'’]+){0,2})?)"
    r"(?:,\s+(?:[A-Z][a-z]{2,8}\.?\s+\d{1,2}|\d{1,2}\s+[A-Z][a-z]{2,8}\.?))?"
    r"\s*(?:\((?P<agency>[A-Za-z&. ]{2,25})\)\s*)?"
    r"(?:[—–]|--|-|:)\s+(?=\S)"
)


_ALONE = re.compile(r"^[A-Z][A-Z.'’\-]+(?: [A-Z][A-Z.'’\-]+){0,3}(?:,\s+[A-Z][A-Za-z.'’ ]{1,30})?$")
#: "About Acme Corp" / "About the author": the press-release or bio block that closes a story.
_ABOUT = re.compile(r"^(?:About|Über|À propos de|Acerca de|Sobre)\s+\S.{0,60}$")


def split_dateline(paragraph: str) -> tuple[str, str]:
    """Return (place, rest of the paragraph); place is "" when there is no dateline.

    A paragraph that is only a place in capitals ("BAAR, SWITZERLAND") is a dateline with an
    empty rest.
    """
    if len(paragraph) <= 60 and _ALONE.match(paragraph) and sum(c.isupper() for c in paragraph) >= 3:
        return paragraph, ""
    match = _DATELINE.match(paragraph)
    if match is None:
        return "", paragraph
    place = match.group("place")
    letters = [c for c in place.split(",")[0] if c.isalpha()]
    if len(letters) < 2 or not all(c.isupper() for c in letters):
        return "", paragraph
    return place, paragraph[match.end() :]


def drop_trailing_boilerplate(paragraphs: list[str]) -> list[str]:
    """Cut an "About <company>" / "About the author" section from the last third of a story."""
    start = max(1, (2 * len(paragraphs)) // 3)
    for i in range(start, len(paragraphs)):
        if _ABOUT.match(paragraphs[i]) and len(paragraphs[i].split()) <= 8:
            return paragraphs[:i]
    return paragraphs
