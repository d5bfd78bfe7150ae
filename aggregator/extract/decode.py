"""Bytes to text: the HTTP header, a BOM, the page's <meta charset>, then detection.

w3lib implements exactly that order (the one browsers use), so we only add the fallback
detector and make sure nothing here raises on arbitrary bytes.
"""

from __future__ import annotations

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode


def _detect(data: bytes) -> str | None:
    best = from_bytes(data[:200_000]).best()
    return best.encoding if best is not None else None


_BINARY_MAGIC = (b"\x1f\x8b", b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04", b"\x00\x00\x01\x00")


#: Every byte but the control characters no text holds (NUL-BS, SO-US but ESC): deleting these
#: leaves only the controls, counted in C rather than byte by byte in Python.
_NOT_CONTROL = bytes(b for b in range(256) if not (b < 9 or (13 < b < 32 and b != 27)))


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not a text document (images, archives, PDFs, random bytes)."""
    head = data[:4096]
    if head.startswith(_BINARY_MAGIC):
        return True
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return False  # a BOM: UTF-8 or UTF-16 text, whose NULs are expected
    if not head:
        return False
    control = len(head.translate(None, _NOT_CONTROL))
    return control / len(head) > 0.05


def decode_html(data: bytes | str, content_type: str | None = None) -> str:
    """Decode a page; never raises, undecodable bytes become U+FFFD."""
    if isinstance(data, str):
        return data
    header = content_type or ""
    _, text = html_to_unicode(header, data, auto_detect_fun=_detect)
    return text
