"""Bytes to text: the HTTP header, a BOM, the page's <meta charset>, then detection.

w3lib implements exactly that order (the one browsers use), so we only add the fallback
detector and make sure nothing here raises on arbitrary bytes.
"""

from __future__ import annotations

import json
import re

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode


def _detect(data: bytes) -> str | None:
    best = from_bytes(data[:200_000]).best()
    return best.encoding if best is not None else None


_BINARY_MAGIC = (
    b"\x1f\x8b",
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"PK\x03\x04",
    b"\x00\x00\x01\x00",
)


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


_MAGIC_KINDS = (
    (b"%PDF", "PDF"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
)
#: The root element of an XML document that is no web page.
_XML_ROOT = re.compile(r"<(?:[\w-]+:)?(rss|feed|RDF|urlset|sitemapindex|opml|svg)\b", re.IGNORECASE)
_ROOT_KINDS = {
    "rss": "RSS feed",
    "feed": "Atom feed",
    "rdf": "RSS 1.0 feed",
    "urlset": "sitemap",
    "sitemapindex": "sitemap index",
    "opml": "OPML outline",
    "svg": "SVG image",
}
_TAG = re.compile(r"<(?:[a-zA-Z][\w:-]*|!DOCTYPE|!--)", re.IGNORECASE)
_CSS_RULE = re.compile(r"[\w\]\)*.#:-]\s*\{[^{}]*:[^{}]*\}")


def sniff_non_html(data: bytes | str) -> str | None:
    """What a document is when it is not a web page ("JSON", "RSS feed", "PDF"...), else None.

    Only the start is read. An HTML fragment without <html> is still HTML; a file with no tag
    at all is JSON, CSS or plain text; XML whose root is a feed, a sitemap or an SVG is that.
    """
    if isinstance(data, bytes):
        for magic, kind in _MAGIC_KINDS:
            if data.startswith(magic):
                return kind
        if looks_binary(data):
            return "binary data"
        head = data[:8192].decode("utf-8", "replace")
    else:
        head = data[:8192]
    head = head.lstrip("\ufeff \t\r\n")
    if not head:
        return None  # empty: the caller's "no text", not a kind of document
    root = _XML_ROOT.search(head[:2048])
    if root and not re.search(r"<html\b", head[: root.start()], re.IGNORECASE):
        return _ROOT_KINDS[root.group(1).lower()]
    if head[0] in "{[":
        try:
            json.loads(data if isinstance(data, str) else data.decode("utf-8", "replace"))
        except ValueError:
            if head[0] == "{" or head.startswith(('["', "[{")):
                return "JSON"
        else:
            return "JSON"
    if _TAG.search(head):
        return None
    return "CSS" if _CSS_RULE.search(head) else "plain text"
