"""What the store hands out and takes in, as records (no SQLAlchemy types cross the boundary)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from aggregator.model import Article, SourceKind, SourceRef, isoformat


@dataclass(frozen=True)
class SourceInfo:
    """A source as commands show it and crawls read it."""

    name: str
    kind: SourceKind
    url: str
    interval_seconds: int
    enabled: bool
    tags: tuple[str, ...]
    disabled_reason: str | None
    last_success_at: datetime | None
    last_error: str | None
    next_due_at: datetime | None
    article_count: int
    etag: str | None = None
    last_modified: str | None = None
    error_count: int = 0
    delay: float | None = None
    concurrency: int | None = None
    last_error_at: datetime | None = None
    #: The URL a permanent redirect moved the source from, and when.
    moved_from: str | None = None
    moved_at: datetime | None = None

    def as_ref(self) -> SourceRef:
        """The source as a crawl reads it."""
        return SourceRef(
            name=self.name,
            kind=self.kind,
            url=self.url,
            tags=self.tags,
            etag=self.etag,
            last_modified=self.last_modified,
            last_success=self.last_success_at,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["tags"] = list(self.tags)
        data["last_success_at"] = isoformat(self.last_success_at)
        data["next_due_at"] = isoformat(self.next_due_at)
        data["last_error_at"] = isoformat(self.last_error_at)
        data["moved_at"] = isoformat(self.moved_at)
        return data


@dataclass
class BatchResult:
    """What one batch transaction did (filled in as it is written)."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    aliases: int = 0
    #: New articles that joined an existing story (a near-duplicate of a stored article).
    joined_story: int = 0
    new_urls: list[str] = field(default_factory=list)


class Alias(NamedTuple):
    """Another URL that served the text of the article stored at ``canonical_url``."""

    url: str
    canonical_url: str


class ChangeAction(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class Change(NamedTuple):
    """The latest change of one searchable document."""

    action: ChangeAction
    article_id: int
    doc_id: str
    seq: int


def doc_id(article_id: int) -> str:
    """The stable id of an article's document in search indexes and exports."""
    return str(article_id)


@dataclass(frozen=True)
class RunTotals:
    """What a finished crawl run recorded."""

    pages_fetched: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    not_articles: int = 0
    errors: int = 0
    #: Each failed source's reason.
    failures: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInfo:
    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    sources: tuple[str, ...]
    totals: RunTotals

    def to_dict(self) -> dict[str, Any]:
        t = self.totals
        return {
            "id": self.id,
            "started_at": isoformat(self.started_at),
            "finished_at": isoformat(self.finished_at),
            "status": self.status,
            "sources": list(self.sources),
            "pages_fetched": t.pages_fetched,
            "new": t.new,
            "updated": t.updated,
            "duplicates": t.duplicates,
            "errors": t.errors,
            "failures": dict(t.failures),
        }


@dataclass(frozen=True)
class LockHolder:
    owner: str
    heartbeat_at: datetime
    #: The holder's kernel lock is held: False for a row left by a holder that died.
    live: bool = True


@dataclass(frozen=True)
class StoryMember:
    canonical_url: str
    source: str | None
    site_name: str


@dataclass(frozen=True)
class Story:
    """A story several articles carry, with its articles oldest first."""

    story_id: int
    members: tuple[StoryMember, ...]

    @property
    def size(self) -> int:
        return len(self.members)

    def to_dict(self) -> dict[str, Any]:
        return {
            "story_id": self.story_id,
            "size": self.size,
            "articles": [
                {"url": m.canonical_url, "source": m.source, "site_name": m.site_name} for m in self.members
            ],
        }


# --- what the reader's web app reads (aggregator/web, #15) ---------------------------------------


@dataclass(frozen=True)
class StoredArticle:
    """An article as a reader's page shows it: the record, its id (the stable document id), the
    other URLs that served the same text, and when the store first saw and last changed it."""

    id: int
    article: Article
    aliases: tuple[str, ...]
    first_seen_at: datetime
    changed_at: datetime


@dataclass(frozen=True)
class ArticleEntry:
    """An article as a listing shows it (no text)."""

    id: int
    canonical_url: str
    title: str
    subtitle: str
    source: str | None
    site_name: str
    published: datetime | None
    section: str
    language: str
    story_id: int | None


@dataclass(frozen=True)
class StoryCopy:
    """One article of a story, as far as telling outlets apart needs."""

    story_id: int
    article_id: int
    canonical_url: str
    source: str | None
    site_name: str
    published: datetime | None


@dataclass(frozen=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True)
class Facets:
    """How the articles a search or a listing matches spread over tags, sources, sections and
    languages (the most frequent values first), and how many there are in all."""

    total: int
    #: The matches the counts are over: the best ranked (or newest) ones, at most a thousand.
    counted: int = 0
    tags: tuple[FacetCount, ...] = ()
    sources: tuple[FacetCount, ...] = ()
    sections: tuple[FacetCount, ...] = ()
    languages: tuple[FacetCount, ...] = ()
    #: More than ``total`` match: a text's matches are counted up to a cap (store.reading).
    more: bool = False


@dataclass(frozen=True)
class StorySummary:
    """A story in a list of stories: its size, its outlets' articles and its publication span."""

    story_id: int
    size: int
    first_published: datetime | None
    last_published: datetime | None
    title: str


class IndexEntry(NamedTuple):
    """An article as a full-text index beside the store takes it (aggregator.textindex)."""

    article_id: int
    canonical_url: str
    story_id: int | None
    title: str
    subtitle: str
    text: str
    #: The tags as one text (searched like words) and as folded names (the --tag filter).
    tags_text: str
    tags: tuple[str, ...]
    section: str
    language: str
    source: str | None
    published: datetime | None


class IndexFeed(NamedTuple):
    """What changed after an index's cursor: articles to (re)index, ids to drop, the next cursor."""

    entries: list[IndexEntry]
    gone: list[int]
    cursor: int
