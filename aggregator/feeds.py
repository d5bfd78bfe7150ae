"""Feed documents to entries: RSS and Atom through feedparser, JSON Feed by our own reader.

The spider follows each entry's link to the page; the entry's own fields (tags, authors, dates,
content) fill what the page lacks. Merge rule, used by :func:`merge_entry`: the page wins wherever
it has a value; the feed fills empty fields; tags are the union (page tags first), each keeping
its origin ("page" or "feed").
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape as html_escape
from typing import Any
from urllib.parse import urljoin

import feedparser
from lxml import etree
from lxml import html as lxml_html

from aggregator.errors import SourceError
from aggregator.extract.clean import clean_tree
from aggregator.extract.content import extract_paragraphs
from aggregator.extract.rules import furniture_rules
from aggregator.extract.text import clean_whitespace, count_words
from aggregator.model import Article, PageType, Tag, TagOrigin, TextOrigin, merge_tags

logger = logging.getLogger(__name__)

#: Feeds larger than this are refused rather than parsed (a bound on memory).
MAX_FEED_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class FeedEntry:
    link: str
    title: str = ""
    id: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    summary: str = ""
    #: Full content (content:encoded, Atom content) as HTML, when the feed carries it.
    content_html: str = ""


@dataclass(frozen=True)
class ParsedFeed:
    url: str
    title: str = ""
    link: str = ""
    version: str = ""
    entries: list[FeedEntry] = field(default_factory=list)
    #: Why feedparser found the document ill-formed, when it did ("" when well-formed).
    problem: str = ""


def _date(struct: time.struct_time | None) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _entry(raw: Any, base: str) -> FeedEntry | None:
    link = raw.get("link") or ""
    if not link:
        for candidate in raw.get("links", []):
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"]
                break
    if not link and str(raw.get("id", "")).startswith(("http://", "https://")):
        link = raw["id"]
    if not link:
        return None
    authors = [a.get("name", "") for a in raw.get("authors", []) if a.get("name")]
    if not authors and raw.get("author"):
        authors = [raw["author"]]
    tags = [t.get("term") or t.get("label") or "" for t in raw.get("tags", [])]
    content = ""
    for item in raw.get("content", []):
        if item.get("value"):
            content = item["value"]
            break
    published = _date(raw.get("published_parsed"))
    # dict.get skips feedparser's deprecated fallback of updated_parsed to published_parsed.
    updated = _date(dict.get(raw, "updated_parsed"))
    if published is None:
        # A feed with one date per entry (RSS 1.0's dc:date) means the publication date.
        published, updated = updated, None
    return FeedEntry(
        link=urljoin(base, link.strip()),
        title=clean_whitespace(raw.get("title", "")),
        id=str(raw.get("id", "")),
        published=published,
        updated=updated if updated != published else None,
        authors=[clean_whitespace(a) for a in authors],
        tags=[clean_whitespace(t) for t in tags if t and t.strip()],
        summary=raw.get("summary", "") or "",
        content_html=content,
    )


_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(\[.*?\])?\s*>", re.IGNORECASE | re.DOTALL)


def strip_doctype(data: bytes) -> tuple[bytes, bool]:
    """Remove the DOCTYPE (and any entity declarations in it) from the head of an XML document.

    feedparser expands internal entities, so an entity bomb would blow up memory; no feed needs
    its own entities. Returns (bytes, whether entity declarations were removed).
    """
    head = data[:65536]
    match = _DOCTYPE.search(head)
    if match is None:
        return data, False
    declared = b"<!ENTITY" in match.group(0).upper()
    return data[: match.start()] + data[match.end() :], declared


_BENIGN = ("NonXMLContentType", "CharacterEncodingOverride")


def _looks_json(data: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return data.lstrip()[:1] == b"{"


#: A numeric character reference: &#55296; or &#xD800;.
_CHAR_REF = re.compile(rb"&#([xX][0-9a-fA-F]{1,8}|[0-9]{1,10});")


def _no_surrogate_refs(data: bytes) -> bytes:
    """References to UTF-16 surrogates (and past U+10FFFF) as U+FFFD: no character has those
    numbers, and feedparser fails to encode them (found by tests/test_fuzz.py)."""

    def fix(match: re.Match[bytes]) -> bytes:
        ref = match.group(1)
        number = int(ref[1:], 16) if ref[:1] in (b"x", b"X") else int(ref)
        return b"&#xFFFD;" if 0xD800 <= number <= 0xDFFF or number > 0x10FFFF else match.group(0)

    return _CHAR_REF.sub(fix, data) if b"&#" in data else data


def parse_feed(data: bytes, url: str, *, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document (RSS, Atom or JSON Feed); raises SourceError when it is not a feed.

    An ill-formed feed that still yields entries is accepted, with ``problem`` saying why.
    """
    if len(data) > MAX_FEED_BYTES:
        raise SourceError(url, f"feed is {len(data)} bytes, over the {MAX_FEED_BYTES}-byte limit")
    if _looks_json(data, content_type):
        return parse_json_feed(data, url)
    data, had_entities = strip_doctype(data)
    if had_entities:
        logger.warning("feed %s declares XML entities; they were removed unexpanded", url)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(
            _no_surrogate_refs(data),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=True,
        )
    except (UnicodeError, ValueError) as error:  # feedparser's own failures on hostile input
        raise SourceError(url, f"not a feed ({type(error).__name__}: {error})") from error
    problem = ""
    exc = parsed.get("bozo_exception")
    # A missing or generic Content-Type, or an encoding the document overrides, is not ill-formed.
    if parsed.get("bozo") and type(exc).__name__ not in _BENIGN:
        problem = f"{type(exc).__name__}: {exc}"
    version = parsed.get("version", "")
    if not version and not parsed.entries:
        reason = problem or "no feed elements"
        raise SourceError(url, f"not a feed ({reason})")
    entries = [e for e in (_entry(raw, url) for raw in parsed.entries) if e is not None]
    if problem:
        logger.info("feed %s is ill-formed (%s); read %d entries", url, problem, len(entries))
    return ParsedFeed(
        url=url,
        title=clean_whitespace(parsed.feed.get("title", "")),
        link=parsed.feed.get("link", ""),
        version=version,
        entries=entries,
        problem=problem,
    )


def _json_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_json_feed(data: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0 and 1.1 (feedparser does not read them) into the same entry type."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(url, f"not a feed (invalid JSON: {exc})") from exc
    version = doc.get("version", "") if isinstance(doc, dict) else ""
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise SourceError(url, "not a feed (JSON without a jsonfeed.org version)")
    items = doc.get("items")
    if not isinstance(items, list):
        raise SourceError(url, "not a feed (JSON Feed without items)")
    feed_authors = doc.get("authors") or ([doc["author"]] if isinstance(doc.get("author"), dict) else [])
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        link = (
            item.get("url")
            or item.get("external_url")
            or (item.get("id") if str(item.get("id", "")).startswith(("http://", "https://")) else "")
        )
        if not isinstance(link, str) or not link:
            continue
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        names = [
            a.get("name", "") for a in (authors or feed_authors) if isinstance(a, dict) and a.get("name")
        ]
        tags = [t for t in item.get("tags", []) if isinstance(t, str) and t.strip()]
        content = item.get("content_html") or ""
        if not content and isinstance(item.get("content_text"), str):
            content = "".join(f"<p>{html_escape(p)}</p>" for p in item["content_text"].split("\n\n"))
        published = _json_date(item.get("date_published"))
        updated = _json_date(item.get("date_modified"))
        entries.append(
            FeedEntry(
                link=urljoin(url, link),
                title=clean_whitespace(str(item.get("title", ""))),
                id=str(item.get("id", "")),
                published=published,
                updated=updated if updated != published else None,
                authors=[clean_whitespace(n) for n in names],
                tags=[clean_whitespace(t) for t in tags],
                summary=str(item.get("summary", "") or ""),
                content_html=str(content),
            )
        )
    return ParsedFeed(
        url=url,
        title=clean_whitespace(str(doc.get("title", ""))),
        link=str(doc.get("home_page_url", "")),
        version="json" + version.rsplit("/", 1)[-1],
        entries=entries,
    )


def merge_entry(article: Article, entry: FeedEntry) -> Article:
    """Fill what the page lacks from its feed entry (see the module docstring for the rule)."""
    return article.with_tags(
        merge_tags(article.tag_list(), (Tag(t, TagOrigin.FEED) for t in entry.tags)),
        title=article.title or entry.title,
        authors=article.authors or list(entry.authors),
        published=article.published or entry.published,
        updated=article.updated or entry.updated,
    )


#: A feed entry stands in for its page only with at least this many words of real text: a
#: one-line teaser, or a hostile feed's unexpanded entities (``&lol9;``), is not an article.
MIN_ENTRY_WORDS = 10
#: An entity reference left as text (``&lol9;``, ``&lol9``, ``&#x41``): never expanded, never a word.
_ENTITY_LEFTOVER = re.compile(r"&#?\w+;?")


def usable_words(text: str) -> int:
    """Words of real text: entity references that were left unexpanded do not count."""
    return count_words(_ENTITY_LEFTOVER.sub(" ", text))


def article_from_entry(entry: FeedEntry, *, source: str | None = None) -> Article:
    """An article built from the entry alone, for when its page cannot be fetched or read.

    Its ``page_type`` is EMPTY, and a crawl skips it, when the entry has fewer than
    MIN_ENTRY_WORDS words of real text.
    """
    html = entry.content_html or entry.summary
    paragraphs: list[str] = []
    if html.strip():
        try:
            tree = lxml_html.document_fromstring(f"<div>{html}</div>")
            clean_tree(tree, furniture_rules(), None)
            paragraphs = extract_paragraphs(tree)
        except (etree.ParserError, ValueError):  # unparsable HTML in a feed: keep it as plain text
            paragraphs = [clean_whitespace(html)]
    text = "\n\n".join(paragraphs)
    article = Article(
        url=entry.link,
        canonical_url=entry.link,
        source=source,
        title=entry.title,
        authors=list(entry.authors),
        published=entry.published,
        updated=entry.updated,
        text=text,
        word_count=count_words(text),
        page_type=PageType.ARTICLE if usable_words(text) >= MIN_ENTRY_WORDS else PageType.EMPTY,
        text_origin=TextOrigin.FEED,
    )
    return article.with_tags(Tag(t, TagOrigin.FEED) for t in entry.tags)
