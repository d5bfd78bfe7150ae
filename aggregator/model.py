"""The Article record: the one contract between extraction, pipelines, storage and output.

It stays flat and JSON-serializable so that the same shape is what the CLI prints, what the
exports carry and what the database rows hold.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: What a page turned out to be. Only ``ARTICLE`` pages are stored by a crawl.
ARTICLE = "article"
LISTING = "listing"
ERROR_PAGE = "error"
EMPTY = "empty"
#: Not a web page at all: JSON, CSS, a feed, a PDF... (see aggregator.extract.decode.sniff_non_html)
NOT_HTML = "not_html"
PAGE_TYPES = (ARTICLE, LISTING, ERROR_PAGE, EMPTY, NOT_HTML)

#: Where a tag came from; kept with the tag in the database.
TAG_ORIGINS = ("page", "feed", "source", "derived")

_DATE_FIELDS = ("published", "updated")


@dataclass
class Article:
    """One article as every stage sees it.

    ``url`` is the address the page was fetched from; ``canonical_url`` the address that
    identifies the article (tracking parameters dropped, ``rel=canonical`` honoured).
    Dates are timezone-aware once normalized; extraction leaves them as found (aware when the
    page says which zone).
    """

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
    #: tag -> origin ("page", "feed", ...); tags absent here came from the page.
    tag_origins: dict[str, str] = field(default_factory=dict)
    dateline: str = ""
    language: str = ""
    text: str = ""
    word_count: int = 0
    image_url: str = ""
    site_name: str = ""
    page_type: str = ARTICLE
    #: "page" when the text was extracted from the page, "feed" when it came from the feed entry.
    text_origin: str = "page"
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
        for name in _DATE_FIELDS:
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names and k != "story_bands"}
        for name in _DATE_FIELDS:
            if isinstance(values.get(name), str):
                values[name] = datetime.fromisoformat(values[name])
        return cls(**values)

    @property
    def is_article(self) -> bool:
        return self.page_type == ARTICLE


ARTICLE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Article) if f.name != "story_bands")
