"""Sitemaps and sitemap indexes (plain or gzipped), including Google News sitemap fields.

Parsed with lxml's iterparse with entity resolution and network access off, so a hostile sitemap
cannot expand entities or make us fetch anything; oversized documents are refused.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from lxml import etree

from aggregator.errors import SourceError
from aggregator.extract.dates import parse_date

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the limit the sitemaps protocol itself sets


@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    lastmod: datetime | None = None
    #: Google News sitemap fields, when present.
    news_title: str = ""
    news_published: datetime | None = None
    keywords: list[str] = field(default_factory=list)


class SitemapKind(StrEnum):
    """A sitemap's root element: it lists article URLs, or more sitemaps."""

    URLSET = "urlset"
    INDEX = "sitemapindex"


@dataclass(frozen=True)
class ParsedSitemap:
    url: str
    kind: SitemapKind
    entries: list[SitemapEntry] = field(default_factory=list)


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _gunzip(data: bytes, url: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(MAX_SITEMAP_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(url, f"broken gzip sitemap: {exc}") from exc
    if len(out) > MAX_SITEMAP_BYTES:
        raise SourceError(url, f"sitemap is over {MAX_SITEMAP_BYTES} bytes uncompressed")
    return out


def parse_sitemap(data: bytes, url: str) -> ParsedSitemap:
    """Parse a sitemap; raises SourceError when the document is not one."""
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, url)
    if len(data) > MAX_SITEMAP_BYTES:
        raise SourceError(url, f"sitemap is over {MAX_SITEMAP_BYTES} bytes")
    parser_events = etree.iterparse(
        io.BytesIO(data),
        events=("start", "end"),
        recover=True,
        resolve_entities=False,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
    )
    kind: SitemapKind | None = None
    entries: list[SitemapEntry] = []
    try:
        for event, el in parser_events:
            name = _local(el.tag)
            if event == "start":
                if kind is None:
                    if name not in tuple(SitemapKind):
                        raise SourceError(url, f"not a sitemap (root element <{name}>)")
                    kind = SitemapKind(name)
                continue
            if name not in ("url", "sitemap"):
                continue
            entry = _entry(el)
            if entry is not None:
                entries.append(entry)
            el.clear()
    except etree.XMLSyntaxError as exc:
        if kind is None:
            raise SourceError(url, f"not a sitemap ({exc})") from exc
    if kind is None:
        raise SourceError(url, "not a sitemap (empty document)")
    return ParsedSitemap(url=url, kind=kind, entries=entries)


def _entry(el: etree._Element) -> SitemapEntry | None:
    fields: dict[str, str] = {}
    keywords: list[str] = []
    for child in el.iter():
        name = _local(child.tag)
        text = (child.text or "").strip()
        if not text:
            continue
        if name == "keywords":
            keywords += [k.strip() for k in text.split(",") if k.strip()]
        elif name in ("loc", "lastmod", "title", "publication_date") and name not in fields:
            # <image:loc> sits inside <url> after the page's own <loc>; the first loc wins.
            fields[name] = text
    if not fields.get("loc"):
        return None
    return SitemapEntry(
        loc=fields["loc"],
        lastmod=parse_date(fields.get("lastmod")),
        news_title=fields.get("title", ""),
        news_published=parse_date(fields.get("publication_date")),
        keywords=keywords,
    )
