"""Small text helpers shared by the extraction modules."""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_WORD = re.compile(r"\w+")
# Han, Hiragana, Katakana and Hangul: scripts written without spaces between words.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


#: Every byte but the C0 controls no text holds (tab and newlines aside) and DEL.
_NOT_CONTROL_BYTES = bytes(b for b in range(256) if not (b < 9 or b in (11, 12) or 13 < b < 32 or b == 127))


def has_control_bytes(data: bytes) -> bool:
    """Whether raw page bytes hold a control character: counted in C, so that the text of the
    usual page (none) need not be scanned by a regular expression after decoding. UTF-16 pages,
    whose NUL bytes are part of every character, answer True and are cleaned after decoding."""
    # (U+FFFE and U+FFFF, which lxml refuses too, are these three bytes in UTF-8.)
    return (
        len(data.translate(None, _NOT_CONTROL_BYTES)) > 0
        or b"\xef\xbf\xbe" in data
        or b"\xef\xbf\xbf" in data
    )


def strip_control(text: str) -> str:
    """Drop control characters, which no HTML text may hold and lxml refuses."""
    return _CONTROL.sub("", text)


#: Characters a reader never sees: soft hyphens (hyphenation hints, "Mit\u00adtel\u00adal\u00adter"),
#: zero-width spaces, word joiners and stray byte-order marks. Searching and deduplicating the
#: text must not depend on them. (Zero-width joiners and non-joiners stay: Persian and Indic
#: scripts and emoji sequences need them.)
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")


def clean_whitespace(text: str) -> str:
    """Collapse runs of whitespace (non-breaking spaces included) to one space; drop invisibles."""
    if _INVISIBLE.search(text):  # rare: searching is a C loop, substituting allocates
        text = _INVISIBLE.sub("", text)
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    # str.split() splits on what \s matches (no-break spaces included), in C.
    return " ".join(text.split())


def count_words(text: str) -> int:
    """Words in text; in unspaced scripts (Chinese, Japanese) two characters count as one word."""
    tokens = _WORD.findall(text)
    if not _CJK.search(text):
        return len(tokens)
    total = 0
    for token in tokens:
        cjk = len(_CJK.findall(token))
        total += 1 if cjk == 0 else max(1, cjk // 2 + (1 if len(token) > cjk else 0))
    return total
