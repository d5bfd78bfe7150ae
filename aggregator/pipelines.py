"""Scrapy item pipelines: thin adapters, each calling one core module.

normalize -> dedupe -> store. The dedupe and store pipelines share one :class:`BatchWriter` per
crawler, so an article the dedupe lets through and its alias URLs go to the database in the same
batch transaction.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from aggregator.dedupe import Deduplicator, Verdict
from aggregator.model import Article
from aggregator.normalize import normalize_article
from aggregator.store import Store

logger = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class BatchWriter:
    """Buffers articles, aliases and source results; writes them one transaction per batch."""

    def __init__(self, store: Store, batch_size: int, crawler: Crawler) -> None:
        self.store = store
        self.batch_size = batch_size
        self.crawler = crawler
        self.dedupe = Deduplicator(store)
        self.counts: Counter[str] = Counter()
        self._articles: list[Article] = []
        self._aliases: list[tuple[str, str]] = []
        #: Sources read successfully: (name, etag, last-modified, moved-to URL). Recorded only after
        #: the last batch commits, so a crash never leaves a source "done" (with a validator that
        #: makes the next fetch a 304) while some of its articles were never stored.
        self._sources_ok: list[tuple[str, str | None, str | None, str | None]] = []

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> BatchWriter:
        """One writer per crawler, created by whichever pipeline asks first."""
        writer: BatchWriter | None = getattr(crawler, "_aggregator_writer", None)
        if writer is None:
            store = Store(crawler.settings.get("AGGREGATOR_DB"))
            writer = cls(store, crawler.settings.getint("AGGREGATOR_BATCH_SIZE", 50), crawler)
            crawler._aggregator_writer = writer  # type: ignore[attr-defined]
            crawler.signals.connect(writer.close, signal=signals.spider_closed)
        return writer

    def add(self, article: Article) -> None:
        self._articles.append(article)
        if len(self._articles) >= self.batch_size:
            self.flush()

    def add_alias(self, alias_url: str, canonical_url: str) -> None:
        self._aliases.append((alias_url, canonical_url))

    def flush(self) -> None:
        if not self._articles and not self._aliases:
            return
        result = self.store.write_batch(self._articles, self._aliases, now=_now())
        self._articles, self._aliases = [], []
        stats = self.crawler.stats
        for key, value in (("new", result.new), ("updated", result.updated),
                           ("aliases", result.aliases), ("joined_story", result.joined_story)):
            self.counts[key] += value
            if stats is not None:
                stats.inc_value(f"aggregator/{key}", value)
        if result.unchanged:
            # Another process stored the same article since our dedupe looked.
            self.counts["duplicates"] += result.unchanged
            if stats is not None:
                stats.inc_value("aggregator/duplicates", result.unchanged)

    def source_ok(self, name: str, etag: str | None, last_modified: str | None, moved_to: str | None) -> None:
        self._sources_ok.append((name, etag, last_modified, moved_to))

    def close(self, spider: Spider | None = None, reason: str = "finished") -> None:
        try:
            self.flush()
            if reason == "finished":
                now = _now()
                for name, etag, last_modified, moved_to in self._sources_ok:
                    if moved_to:
                        self.store.move_source(name, moved_to)
                    self.store.record_source_success(name, now=now, etag=etag, last_modified=last_modified)
        finally:
            self.store.close()


class NormalizePipeline:
    def process_item(self, item: Any) -> Article:
        if not isinstance(item, Article):
            raise DropItem(f"not an Article: {type(item).__name__}")
        if item.story_bands is not None:  # normalized already, in the spider's worker pool
            return item
        return normalize_article(item, now=_now())


class DedupePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.writer = BatchWriter.for_crawler(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        return cls(crawler)

    def process_item(self, item: Article) -> Article:
        if not item.is_article:
            raise DropItem(f"{item.url} is a {item.page_type} page, not an article", log_level="DEBUG")
        decision = self.writer.dedupe.check(item)
        if decision.verdict is Verdict.ALIAS:
            self.writer.add_alias(item.canonical_url, decision.canonical_url)
        if decision.is_duplicate:
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("aggregator/duplicates")
            self.writer.counts["duplicates"] += 1
            raise DropItem(f"duplicate ({decision.verdict}) of {decision.canonical_url}", log_level="DEBUG")
        return item


class StorePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.writer = BatchWriter.for_crawler(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def process_item(self, item: Article) -> Article:
        self.writer.add(item)
        return item

    def close_spider(self) -> None:
        self.writer.flush()
