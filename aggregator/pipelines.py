"""Scrapy item pipelines: thin adapters, each calling one core module.

normalize -> dedupe -> store. The dedupe and store pipelines share one :class:`BatchWriter` per
crawler, so an article the dedupe lets through and its alias URLs go to the database in the same
batch transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from aggregator.dedupe import Deduplicator, Verdict
from aggregator.errors import StorageError
from aggregator.model import Article
from aggregator.normalize import normalize_article
from aggregator.store import BatchResult, Store
from aggregator.store.writer import write_batch
from aggregator.workers import start_pool

logger = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class BatchWriter:
    """Buffers articles, aliases and source results; writes them one transaction per batch.

    Batches go to a writer process (AGGREGATOR_STORE_WORKER, on by default) and are accounted
    for when it reports back, in order; with the setting off they are written here, inline.
    """

    #: Batches sent to the writer and not yet reported; past this the store pipeline waits,
    #: which holds the items back and so pauses the downloads (backpressure, bounded memory).
    MAX_PENDING = 4
    #: While the writer is still busy with the last batch, the next one grows, up to this many
    #: times AGGREGATOR_BATCH_SIZE: a larger transaction costs less per article (the story index
    #: takes its keys in one pass over its pages: 0.89 instead of 1.3 ms an article at 40k
    #: stored), so a writer that falls behind catches up instead of falling further behind.
    MAX_GROWTH = 5

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
        #: Batches on their way to the database, with the (URL, hash) of each article in them.
        self._pending: deque[tuple[Future[BatchResult], list[tuple[str, str]]]] = deque()
        #: Articles whose batch could not be written: the crawl then marks no source done.
        self.failed = 0
        self._stopping = False
        self._stop_task: asyncio.Future[None] | None = None
        self._writer: ProcessPoolExecutor | None = None
        if crawler.settings.getbool("AGGREGATOR_STORE_WORKER", True):
            self._writer, _ = start_pool(1, "writer")

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
        if len(self._articles) >= self.batch_size and (
                self._writer_idle() or len(self._articles) >= self.batch_size * self.MAX_GROWTH):
            self.flush()

    def _writer_idle(self) -> bool:
        return all(future.done() for future, _ in self._pending)

    def add_alias(self, alias_url: str, canonical_url: str) -> None:
        self._aliases.append((alias_url, canonical_url))

    def flush(self) -> None:
        """Send the buffered batch to be written; account for the batches written so far."""
        if self._articles or self._aliases:
            articles, aliases = self._articles, self._aliases
            self._articles, self._aliases = [], []
            future: Future[BatchResult] = Future()
            try:
                if self._writer is not None:
                    future = self._writer.submit(write_batch, self.store.url, articles, aliases, _now())
                else:
                    future.set_result(self.store.write_batch(articles, aliases, now=_now()))
            except (StorageError, BrokenExecutor, RuntimeError) as exc:  # accounted for in _collect
                future.set_exception(exc)
            self._pending.append((future, [(a.canonical_url, a.content_hash) for a in articles]))
        self._collect(wait=False)

    async def room(self) -> None:
        """Wait while too many batches are on their way to the database."""
        while len(self._pending) > self.MAX_PENDING:
            await asyncio.wrap_future(self._pending[0][0])
            self._collect(wait=False)

    def _collect(self, *, wait: bool) -> None:
        """Account for finished batches, oldest first (all of them when ``wait``)."""
        while self._pending and (wait or self._pending[0][0].done()):
            future, keys = self._pending.popleft()
            self.dedupe.forget(keys)
            try:
                result = future.result()
            except (StorageError, BrokenExecutor, OSError, RuntimeError) as exc:
                self.failed += len(keys)
                logger.error("could not store a batch of %d articles: %s", len(keys), exc)
                self._stop(f"storage failed: {exc}")
                continue
            self._account(result)

    def _stop(self, reason: str) -> None:
        """Close the crawl: pages fetched from now on could not be stored either."""
        try:
            engine = self.crawler.engine
        except RuntimeError:  # not crawling (the writer used on its own)
            return
        if engine is not None and engine.running and not self._stopping:
            self._stopping = True
            logger.error("stopping the crawl: %s", reason)
            self._stop_task = asyncio.ensure_future(engine.close_spider_async(reason="storage_error"))

    def _account(self, result: BatchResult) -> None:
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
            self._collect(wait=True)
            # A page whose worker kept dying was not stored: the source is not done with it.
            crashes = self.crawler.stats.get_value("aggregator/worker_crashes", 0) if self.crawler.stats else 0
            if reason == "finished" and not self.failed and not crashes:
                now = _now()
                for name, etag, last_modified, moved_to in self._sources_ok:
                    if moved_to:
                        self.store.move_source(name, moved_to)
                    self.store.record_source_success(name, now=now, etag=etag, last_modified=last_modified)
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
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

    async def process_item(self, item: Article) -> Article:
        self.writer.add(item)
        await self.writer.room()
        return item

    def close_spider(self) -> None:
        self.writer.flush()
