"""The records that cross boundaries: the Article, its tags, the sources a crawl reads.

``Article`` is the one contract between extraction, pipelines, storage and output. It stays flat
and JSON-serializable (``to_dict``) so that the same shape is what the CLI prints, what the
exports carry and what the database rows hold. Its tags are two JSON fields (``tags``, the names
in order, and ``tag_origins``, name to origin) because that is the published shape; code works
with :class:`Tag` records instead (:meth:`Article.tag_list`, :meth:`Article.with_tags`,
:func:`merge_tags`), so the two fields are written in one place only.

Closed sets are ``StrEnum``s: a member is its string, so JSON and the database see plain values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class PageType(StrEnum):
    """What a page turned out to be. Only articles are stored by a crawl."""

    ARTICLE = "article"
    LISTING = "listing"
    ERROR = "error"
    EMPTY = "empty"
    #: Not a web page at all: JSON, CSS, a feed, a PDF... (see aggregator.extract.decode.sniff_non_html)
    NOT_HTML = "not_html"


# The names aggregator.extract (and its tests) use for the page types.
ARTICLE = PageType.ARTICLE
LISTING = PageType.LISTING
ERROR_PAGE = PageType.ERROR
EMPTY = PageType.EMPTY
NOT_HTML = PageType.NOT_HTML
PAGE_TYPES = tuple(PageType)


class TagOrigin(StrEnum):
    """Where a tag came from; kept with the tag in the database and in ``tag_origins``."""

    PAGE = "page"
    FEED = "feed"
    SOURCE = "source"


class TextOrigin(StrEnum):
    """Where an article's text came from: its page, or the feed entry when the page failed."""

    PAGE = "page"
    FEED = "feed"


@dataclass(frozen=True)
class Tag:
    name: str
    origin: TagOrigin = TagOrigin.PAGE


def merge_tags(tags: Iterable[Tag], extra: Iterable[Tag]) -> list[Tag]:
    """``tags`` followed by the ``extra`` tags they lack; a tag met twice (case-insensitively)
    keeps its first name and origin. Every merge of tags (feed entry, source, normalization)
    goes through here."""
    merged: list[Tag] = []
    seen: set[str] = set()
    for tag in (*tags, *extra):
        key = tag.name.casefold()
        if tag.name and key not in seen:
            seen.add(key)
            merged.append(tag)
    return merged


def isoformat(value: datetime | None) -> str | None:
    """A date as JSON carries it: ISO 8601, or null."""
    return value.isoformat() if value is not None else None


@dataclass
class Article:
    """One article as every stage sees it.

    ``url`` is the address the page was fetched from; ``canonical_url`` the address that
    identifies the article (tracking parameters dropped, ``rel=canonical`` honoured).
    Dates are timezone-aware once normalized; extraction leaves them as found (aware when the
    page says which zone).
    """

    # WARNING: keep Article, store.models.ArticleRow (and store.articles.row_to_article) and the
    # export documents (data/*.json) in sync.
    url: str
    canonical_url: str = ""
    source: str | None = None
    title: str = ""
    subtitle: str = ""
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    updated: datetime | None = None
    section: str = ""
    tags: list[str] = field(default_factory=list)
    #: tag -> origin (a TagOrigin value); tags absent here came from the page.
    tag_origins: dict[str, str] = field(default_factory=dict)
    dateline: str = ""
    language: str = ""
    text: str = ""
    word_count: int = 0
    image_url: str = ""
    site_name: str = ""
    #: A PageType value.
    page_type: str = PageType.ARTICLE
    #: A TextOrigin value: "page" when the text was extracted from the page, "feed" when it came
    #: from the feed entry.
    text_origin: str = TextOrigin.PAGE
    #: Which stage of the extraction cascade produced the text (aggregator.extract.cascade.STAGES:
    #: "dom", "jsonld", "relaxed", "fallback"); "" when there is no text or it came from a feed.
    text_stage: str = ""
    content_hash: str = ""
    story_id: int | None = None
    #: MinHash LSH band keys of the normalized text (see aggregator.dedupe.story_signature), set by
    #: normalize so that a crawl computes them in its worker processes, not on the download loop.
    #: None until normalized; an internal fingerprint, never part of the output.
    story_bands: tuple[int, ...] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: dates as ISO 8601 strings, everything else as is."""
        data = dataclasses.asdict(self)
        del data["story_bands"]
        data["published"] = isoformat(self.published)
        data["updated"] = isoformat(self.updated)
        return data

    def reading_text(self) -> str:
        """The article as a reader reads it below the headline: the dek, then the body.

        ``text`` is the body alone, as structured truth (schema.org ``articleBody``) defines it;
        a page's dek is in ``subtitle``. Plain-text output (``aggregator extract --text``) is
        what a person or a text pipeline reads, and there the dek belongs, once: it is left out
        when the body already holds it (spacing aside). No body, no text: a dek alone is not an
        article.
        """
        if (
            not self.text
            or not self.subtitle
            or " ".join(self.subtitle.split()) in " ".join(self.text.split())
        ):
            return self.text
        return f"{self.subtitle}\n\n{self.text}"

    @property
    def is_article(self) -> bool:
        return self.page_type == PageType.ARTICLE

    def tag_list(self) -> list[Tag]:
        """The tags as records, in order (a tag without a recorded origin came from the page)."""
        return [Tag(name, TagOrigin(self.tag_origins.get(name, TagOrigin.PAGE))) for name in self.tags]

    def with_tags(self, tags: Iterable[Tag], **changes: Any) -> Article:
        """A copy with exactly these tags (and any other field ``changes``)."""
        tags = list(tags)
        return dataclasses.replace(
            self, tags=[t.name for t in tags], tag_origins={t.name: str(t.origin) for t in tags}, **changes
        )


class SourceKind(StrEnum):
    """How a source lists its articles."""

    FEED = "feed"
    SITEMAP = "sitemap"
    #: One article page.
    PAGE = "page"
    #: A site's page whose links are followed (what discovery falls back on).
    SITE = "site"


@dataclass(frozen=True)
class SourceRef:
    """A source as a crawl needs it (built from the database, or from ``-a url=``)."""

    #: None for a URL given on the command line: its outcome is reported, never recorded.
    name: str | None
    kind: SourceKind
    url: str
    tags: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    #: When this source was last read successfully; sitemap entries not modified since are skipped.
    last_success: datetime | None = None

    @property
    def key(self) -> str:
        """What the crawl report calls the source: its name, else its URL."""
        return self.name if self.name is not None else self.url

    def conditional_headers(self) -> dict[str, str]:
        """If-None-Match / If-Modified-Since from the last successful fetch (a 304 costs nothing)."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers
