"""What a crawl reports: an outcome per source, an outcome per page, and the CrawlReport.

Outcomes are records, not stats strings (reader's ``UpdateResult`` habit): the spider tells the
:class:`~aggregator.session.CrawlSession` what happened to each source document and page, the
session answers each article with what it did, and at the end it hands back one
:class:`CrawlReport`. Everything a crawl shows is rendered from that report: the CLI's table and
``--json``, the run row in the database (with each failed source's reason), the scheduler's log
line and the Scrapy stats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.dedupe import Verdict

# --- per source ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    """The source document was read; its validators make the next fetch conditional."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class NotModified:
    """The server answered 304: nothing new since the last successful read."""


@dataclass(frozen=True)
class Moved:
    """Read at a new address after a permanent redirect (301/308): crawled there from now on."""

    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Gone:
    """The publisher removed the source (410): it is disabled."""

    reason: str


@dataclass(frozen=True)
class Failed:
    """The source could not be read; it is tried again after a backoff (or ``retry_after`` s)."""

    reason: str
    retry_after: int | None = None


SourceOutcome = Fetched | NotModified | Moved | Gone | Failed

# --- per page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """Taken for storage: it goes into the batch being filled (new or updated once committed)."""

    url: str


@dataclass(frozen=True)
class Duplicate:
    """Already stored with the same text (``UNCHANGED``), or the same text under another URL
    (``ALIAS``, recorded as an alias of ``of``)."""

    url: str
    of: str
    verdict: Verdict


@dataclass(frozen=True)
class NotArticle:
    """A listing, an error page, an empty or binary page: skipped."""

    url: str
    page_type: str


@dataclass(frozen=True)
class PageFailed:
    """The page could not be fetched or read. ``retry``: we failed it (a worker died), not the
    publisher, so no source is marked done and the page is fetched again next time."""

    url: str
    reason: str
    retry: bool = False


ArticleOutcome = Stored | Duplicate | NotArticle | PageFailed


class Skip(StrEnum):
    """Links a crawl did not fetch, and why (the value is the report's field)."""

    #: Listed twice in this crawl (a feed and a sitemap, tracking parameters): fetched once.
    DUPLICATE_LINK = "duplicate_links"
    #: Stored by an earlier crawl.
    ALREADY_STORED = "already_stored"
    #: robots.txt forbids it.
    FORBIDDEN = "ignored"
    #: A sitemap entry whose lastmod predates the source's last successful read.
    UNCHANGED_IN_SITEMAP = "unchanged_in_sitemap"


def outcome_name(outcome: SourceOutcome) -> str:
    """ "fetched", "not_modified", "moved", "gone" or "failed"."""
    return {Fetched: "fetched", NotModified: "not_modified", Moved: "moved", Gone: "gone", Failed: "failed"}[
        type(outcome)
    ]


def outcome_to_dict(outcome: SourceOutcome) -> dict[str, Any]:
    return {"outcome": outcome_name(outcome), **asdict(outcome)}


def outcome_from_dict(data: Mapping[str, Any]) -> SourceOutcome:
    kind = {"fetched": Fetched, "not_modified": NotModified, "moved": Moved, "gone": Gone, "failed": Failed}
    fields = {k: v for k, v in data.items() if k != "outcome"}
    outcome: SourceOutcome = kind[str(data["outcome"])](**fields)
    return outcome


# --- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrawlReport:
    """Everything one crawl did, counted; built by CrawlSession.close()."""

    #: Why the crawl ended: Scrapy's reason ("finished", "shutdown", "storage_error", ...).
    finish_reason: str
    #: The outcome of every source the crawl read, by name (or URL, for unnamed sources).
    sources: Mapping[str, SourceOutcome] = field(default_factory=dict)
    pages_fetched: int = 0
    #: Committed new articles and updates of stored ones.
    new: int = 0
    updated: int = 0
    #: Articles dropped as duplicates (unchanged or an alias), here or by the writer.
    duplicates: int = 0
    aliases: int = 0
    #: New articles that joined a story already stored (a near-duplicate).
    joined_story: int = 0
    not_articles: int = 0
    page_errors: int = 0
    #: Pages fetched but not processed (a worker died on them): fetched again next time.
    lost_pages: int = 0
    #: Failed and Gone sources, and failed documents within a source (a child sitemap).
    source_errors: int = 0
    not_modified: int = 0
    already_stored: int = 0
    duplicate_links: int = 0
    ignored: int = 0
    unchanged_in_sitemap: int = 0
    feed_entries: int = 0
    #: Articles stored from their feed entry because the page could not be used.
    from_feed_content: int = 0
    #: Articles in batches that could not be written.
    unstored: int = 0
    #: Calls to the shared frontier (Redis) that failed: their sources are crawled again later.
    frontier_errors: int = 0
    #: Whether the sources read were marked done (the crawl finished, everything committed).
    sources_done: bool = False
    #: From the spider's start to the last batch committed (what benchmarks/crawl.py compares).
    crawl_seconds: float = 0.0
    #: Filled in by the process that ran the crawl: requests sent and the whole run's time.
    requests: int = 0
    seconds: float = 0.0

    @property
    def failed_sources(self) -> list[str]:
        """Sources that failed or are gone, in the order they were given."""
        return [name for name, outcome in self.sources.items() if isinstance(outcome, Failed | Gone)]

    @property
    def failures(self) -> dict[str, str]:
        """Each failed or gone source's reason."""
        return {
            name: outcome.reason
            for name, outcome in self.sources.items()
            if isinstance(outcome, Failed | Gone)
        }

    @property
    def finished(self) -> bool:
        return self.finish_reason == "finished"

    def counts(self) -> dict[str, int]:
        """The integer counts, by field name (the Scrapy stats view: ``aggregator/<name>``)."""
        return {
            name: value
            for name, value in asdict(self).items()
            if isinstance(value, int) and not isinstance(value, bool)
        }

    def to_dict(self) -> dict[str, Any]:
        """What ``aggregator crawl --json`` prints (the scheduler reads it back with from_dict)."""
        return {
            **self.counts(),
            "seconds": self.seconds,
            "crawl_seconds": self.crawl_seconds,
            "finish_reason": self.finish_reason,
            "sources_done": self.sources_done,
            "failed_sources": self.failed_sources,
            "sources": {name: outcome_to_dict(o) for name, o in self.sources.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CrawlReport:
        names = {f for f in cls.__dataclass_fields__ if f != "sources"}
        values = {k: v for k, v in data.items() if k in names}
        sources = {name: outcome_from_dict(o) for name, o in dict(data.get("sources") or {}).items()}
        return cls(sources=sources, **values)

    def log_line(self) -> str:
        """The one line a scheduler logs for the crawl."""
        failed = self.failures
        detail = "; ".join(f"{name}: {reason}" for name, reason in failed.items())
        return (
            f"{self.new} new, {self.updated} updated, {self.duplicates} duplicates, "
            f"{self.pages_fetched} pages, {len(failed)} failed source(s)"
            + (f" ({detail})" if detail else "")
            + f", {self.finish_reason}"
        )
