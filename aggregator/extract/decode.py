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


def decode_html(data: bytes | str, content_type: str | None = None) -> str:
    """Decode a page; never raises, undecodable bytes become U+FFFD."""
    if isinstance(data, str):
        return data
    header = content_type or ""
    _, text = html_to_unicode(header, data, auto_detect_fun=_detect)
    return text
