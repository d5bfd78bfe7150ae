"""Feed documents to entries: RSS and Atom through feedparser, into one FeedEntry type.

The spider follows each entry's link to the page; the entry's own fields (tags, authors, dates,
content) fill what the page lacks. Merge rule, used by :func:`merge_entry`: the page wins wherever
it has a value; the feed fills empty fields; tags are the union (page tags first), each keeping
its origin ("page" or "feed").
"""

from __future__ import annotations

import calendar
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from lxml import etree
from lxml import html as lxml_html

from aggregator.errors import SourceError
from aggregator.extract.content import clean_tree, extract_paragraphs
from aggregator.extract.rules import furniture_rules
from aggregator.extract.text import clean_whitespace, count_words
from aggregator.model import ARTICLE, Article

logger = logging.getLogger(__name__)

#: Feeds larger than this are refused rather than parsed (a bound on memory).
MAX_FEED_BYTES = 10 * 1024 * 1024


@dataclass
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


@dataclass
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


def parse_feed(data: bytes, url: str, *, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document; raises SourceError when it is not a feed at all.

    An ill-formed feed that still yields entries is accepted, with ``problem`` saying why.
    """
    if len(data) > MAX_FEED_BYTES:
        raise SourceError(url, f"feed is {len(data)} bytes, over the {MAX_FEED_BYTES}-byte limit")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(data, response_headers=headers, sanitize_html=False,
                              resolve_relative_uris=True)
    problem = ""
    if parsed.get("bozo"):
        problem = f"{type(parsed.get('bozo_exception')).__name__}: {parsed.get('bozo_exception')}"
    version = parsed.get("version", "")
    if not version and not parsed.entries:
        reason = problem or "no feed elements"
        raise SourceError(url, f"not a feed ({reason})")
    entries = [e for e in (_entry(raw, url) for raw in parsed.entries) if e is not None]
    if problem:
        logger.info("feed %s is ill-formed (%s); read %d entries", url, problem, len(entries))
    return ParsedFeed(url=url, title=clean_whitespace(parsed.feed.get("title", "")),
                      link=parsed.feed.get("link", ""), version=version, entries=entries,
                      problem=problem)


def merge_entry(article: Article, entry: FeedEntry) -> Article:
    """Fill what the page lacks from its feed entry (see the module docstring for the rule)."""
    tags = list(article.tags)
    origins = dict(article.tag_origins) or {t: "page" for t in tags}
    seen = {t.casefold() for t in tags}
    for tag in entry.tags:
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
            origins[tag] = "feed"
    return dataclasses.replace(
        article,
        title=article.title or entry.title,
        authors=article.authors or list(entry.authors),
        published=article.published or entry.published,
        updated=article.updated or entry.updated,
        tags=tags,
        tag_origins=origins,
    )


def article_from_entry(entry: FeedEntry, *, source: str | None = None) -> Article:
    """An article built from the entry alone, for when its page cannot be fetched or read."""
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
    return Article(
        url=entry.link, canonical_url=entry.link, source=source, title=entry.title,
        authors=list(entry.authors), published=entry.published, updated=entry.updated,
        tags=list(entry.tags), tag_origins={t: "feed" for t in entry.tags}, text=text,
        word_count=count_words(text), page_type=ARTICLE if text else "empty", text_origin="feed",
    )
