"""What a URL is, and what feeds and sitemaps a site offers (no network: the spider fetches).

``aggregator sources add URL`` fetches URL through Scrapy (spiders/discover.py), which reports
what it found as the records below; this module holds the decisions, from bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree
from lxml.html import HtmlElement, document_fromstring

from aggregator.errors import SourceError
from aggregator.extract.decode import decode_html, looks_binary
from aggregator.feeds import parse_feed
from aggregator.model import SourceKind
from aggregator.sitemaps import parse_sitemap

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
    "text/xml",
    "application/xml",
)
#: Paths where sites commonly publish feeds, probed when a page links none.
COMMON_FEED_PATHS = (
    "/feed",
    "/rss.xml",
    "/atom.xml",
    "/feed.xml",
    "/feed.json",
    "/index.xml",
    "/rss",
    "/feeds/rss.xml",
    "/feeds/atom.xml",
)
COMMON_SITEMAP_PATHS = ("/sitemap.xml", "/sitemap_index.xml")


@dataclass(frozen=True)
class Discovered:
    """A source found: the URL itself, or a feed or sitemap its site offers."""

    kind: SourceKind
    url: str
    title: str = ""


@dataclass(frozen=True)
class BrokenFeed:
    """A feed the page announces (``<link rel="alternate">``) that cannot be read."""

    url: str
    reason: str


@dataclass(frozen=True)
class DiscoveryFailed:
    """The URL itself could not be fetched."""

    url: str
    reason: str


Discovery = Discovered | BrokenFeed | DiscoveryFailed


class DocumentKind(StrEnum):
    """What a fetched document is, as far as discovery cares."""

    FEED = "feed"
    SITEMAP = "sitemap"
    HTML = "html"
    UNKNOWN = "unknown"

    @property
    def source_kind(self) -> SourceKind | None:
        """The kind of source this document is, if it is one."""
        return {DocumentKind.FEED: SourceKind.FEED, DocumentKind.SITEMAP: SourceKind.SITEMAP}.get(self)


def classify_document(body: bytes, url: str, content_type: str | None = None) -> DocumentKind:
    """A feed, a sitemap, an HTML page, or something else."""
    if not body.strip() or looks_binary(body):
        return DocumentKind.UNKNOWN
    try:
        parse_sitemap(body, url)
        return DocumentKind.SITEMAP
    except SourceError:
        pass
    try:
        feed = parse_feed(body, url, content_type=content_type)
        if feed.version or feed.entries:
            return DocumentKind.FEED
    except SourceError:
        pass
    head = body[:2048].lower()
    if b"<html" in head or b"<!doctype html" in head or (content_type or "").startswith("text/html"):
        return DocumentKind.HTML
    return DocumentKind.UNKNOWN


def _tree(body: bytes, content_type: str | None) -> HtmlElement | None:
    try:
        return document_fromstring(decode_html(body, content_type))
    except (etree.ParserError, ValueError):
        return None


def feed_links(body: bytes, url: str, content_type: str | None = None) -> list[str]:
    """Feeds a page announces with <link rel="alternate" type="..."> (RSS, Atom, JSON Feed)."""
    tree = _tree(body, content_type)
    if tree is None:
        return []
    found: list[str] = []
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            absolute = urljoin(url, href)
            if absolute not in found:
                found.append(absolute)
    return found


def sitemaps_from_robots(text: str, url: str) -> list[str]:
    """``Sitemap:`` lines of a robots.txt, made absolute."""
    found = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "sitemap" and value.strip():
            found.append(urljoin(url, value.strip()))
    return found


def site_root(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))
