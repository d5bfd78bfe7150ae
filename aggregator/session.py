"""One crawl session: takes what the spiders found, answers with outcomes, ends in a CrawlReport.

The Scrapy glue only adapts (spiders report what happened to each source and page, a pipeline
hands articles over); everything a crawl decides is here, in plain Python that a test drives with
a fake :class:`BatchSink` and a fixed clock:

- **dedupe and batching**: each article is checked against the store and this crawl's memory
  (aggregator.dedupe) and goes into the batch being filled; a batch is submitted to the sink
  when full, one transaction each, and the dedupe forgets what has committed (memory stays flat).
- **backpressure**: at most ``MAX_PENDING`` batches wait for the sink; past that :meth:`room`
  waits, which holds Scrapy's items back and so its downloads. While the sink is busy the next
  batch grows, up to ``MAX_GROWTH`` times the batch size: a larger transaction costs less per
  article (the story index takes its keys in one pass over its pages: 0.89 instead of 1.3 ms an
  article at 40k stored), so a writer that falls behind catches up instead of falling further.
- **crash safety**: a source is done (its validators saved, its next due time set) only when
  the crawl finished, its last batch committed and no page was lost. Until then nothing marks
  it, so a crash, a kill -9 or a failed batch never leaves a source "done" (with an ETag that
  makes the next fetch a 304) while some of its articles were never stored. Failures are
  recorded whatever happens: they only make the source due again sooner or later.

Build one with :func:`make_session`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import BrokenExecutor, Future
from dataclasses import fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from aggregator.config import DEFAULT_BATCH_SIZE
from aggregator.dedupe import Deduplicator, Verdict
from aggregator.due import random_jitter
from aggregator.errors import FrontierUnavailable, StorageError
from aggregator.model import Article, SourceRef
from aggregator.outcomes import (
    CrawlReport,
    Duplicate,
    Failed,
    Fetched,
    Gone,
    Moved,
    NotArticle,
    NotModified,
    PageFailed,
    Skip,
    SourceOutcome,
    Stored,
    outcome_from_dict,
    outcome_to_dict,
)
from aggregator.sinks import InlineSink, WriterProcessSink
from aggregator.store import Alias, BatchResult, RunTotals, Store

if TYPE_CHECKING:
    from aggregator.frontier import Frontier, PageTicket

logger = logging.getLogger(__name__)


class BatchSink(Protocol):
    """Where batches go. Batches are written in the order submitted, each in one transaction.

    ``submit`` never raises: a batch that cannot be written (StorageError, a writer process that
    died) fails its future. ``close`` waits for the batches in flight.
    """

    def submit(self, articles: list[Article], aliases: list[Alias], now: datetime) -> Future[BatchResult]:
        """Queue one batch; the future resolves when it has committed."""

    def close(self) -> None:
        """Finish the batches in flight and release the sink's resources."""


#: Errors a batch's future may carry: the batch was not written, and the crawl must stop.
BATCH_FAILURES = (StorageError, BrokenExecutor, OSError, RuntimeError)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CrawlSession:
    """What one crawl did so far, and the batches on their way to the store.

    Create it with :func:`make_session`. Methods are called from the crawl's event-loop thread.
    """

    #: Batches submitted and not yet committed; past this :meth:`room` waits (bounded memory).
    MAX_PENDING = 4
    #: While the sink is busy with the last batch, the next one grows up to this many times the
    #: batch size (see the module docstring).
    MAX_GROWTH = 5

    def __init__(
        self,
        *,
        store: Store | None,
        sink: BatchSink | None,
        sources: Sequence[SourceRef],
        batch_size: int,
        now: Callable[[], datetime],
        timer: Callable[[], float],
        jitter: Callable[[], float],
        frontier: Frontier | None = None,
    ) -> None:
        self._store = store
        #: The shared frontier's ledger (--frontier): sources are marked done through it.
        self.frontier = frontier
        #: Frontier tickets of pages whose article is on its way from the spider, by article URL.
        self._tickets: dict[str, PageTicket] = {}
        self._sink = sink
        self._dedupe = Deduplicator(store) if store is not None else None
        #: Stored sources: only their outcomes are recorded (a URL given on the command line is not).
        self._named = {s.name for s in sources if s.name is not None}
        self._order = [s.key for s in sources]
        self.batch_size = batch_size
        self._now = now
        self._timer = timer
        self._jitter = jitter
        self._started = timer()
        self._counts: Counter[str] = Counter()
        self._outcomes: dict[str, SourceOutcome] = {}
        #: Pages that failed, by the key of the source that listed them: "URL: reason".
        self._page_faults: dict[str, list[str]] = {}
        #: Sources a page of which failed for now: done without their validators (see page_failed).
        self._refetch: set[str] = set()
        self._articles: list[Article] = []
        self._aliases: list[Alias] = []
        #: Batches on their way to the store, with the (URL, hash) of each article in them and
        #: the frontier tickets they finish.
        self._pending: deque[tuple[Future[BatchResult], list[tuple[str, str]], list[PageTicket]]] = deque()
        self._batch_tickets: list[PageTicket] = []
        #: Sources this session marked done through the frontier.
        self._done: set[str] = set()
        #: Why the crawl must stop (a batch could not be written), once it must.
        self.failure: str | None = None
        self.report: CrawlReport | None = None

    # --- what the spiders report ---------------------------------------------------------------

    def begin(self) -> None:
        """The crawl starts now (the spider opened): crawl_seconds counts from here."""
        self._started = self._timer()

    def page_fetched(self) -> None:
        self._counts["pages_fetched"] += 1

    def entries_listed(self, count: int) -> None:
        """A feed listed ``count`` entries."""
        self._counts["feed_entries"] += count

    def skipped(self, skip: Skip, count: int = 1) -> None:
        """``count`` links were not fetched, for this reason."""
        self._counts[skip.value] += count

    def stored_urls(self, canonical_urls: list[str]) -> set[str]:
        """Which of these URLs are stored already (a listing's links are checked in one query)."""
        return self._store.stored_urls(canonical_urls) if self._store is not None else set()

    def source_finished(self, source: SourceRef, outcome: SourceOutcome) -> None:
        """The source's own document (feed, sitemap or index, page) was read, or failed.

        With a frontier, the pages it lists must have been claimed first (spiders do); the
        source is done once the last of them finished, whichever worker finishes it.
        """
        self._outcomes[source.key] = outcome
        if self.frontier is not None and source.name is not None:
            self._named.add(source.name)  # a worker learns its sources from the frontier
            self._frontier_read(source.key, outcome)
        if isinstance(outcome, NotModified):
            self._counts["not_modified"] += 1
        elif isinstance(outcome, Gone):
            self._counts["source_errors"] += 1
            logger.error("source %s is gone: %s (disabled)", source.key, outcome.reason)
        elif isinstance(outcome, Failed):
            self._counts["source_errors"] += 1
            after = f" (retry after {outcome.retry_after} s)" if outcome.retry_after is not None else ""
            logger.error("source %s failed: %s%s", source.key, outcome.reason, after)

    def document_failed(self, source: SourceRef, url: str, reason: str, *, transient: bool = False) -> None:
        """A document the source led to (a child sitemap) failed: counted; the source's outcome
        is its own document's. ``transient``: as for a page (see :meth:`page_failed`), the
        source's read is incomplete, so the next one reads the index whole, child included."""
        self._counts["source_errors"] += 1
        if transient:
            self._refetch.add(source.key)
        logger.error("source %s: %s failed: %s", source.key, url, reason)

    def not_article(self, url: str, page_type: str) -> NotArticle:
        self._counts["not_articles"] += 1
        logger.info("skipped %s: %s page, not an article", url, page_type)
        return NotArticle(url, page_type)

    def page_failed(
        self,
        url: str,
        reason: str,
        *,
        retry: bool = False,
        transient: bool = False,
        source: SourceRef | None = None,
    ) -> PageFailed:
        """A page could not be fetched or read. ``retry``: our fault (a worker died), so no
        source is marked done and the page is fetched again next time. The ``source`` that led
        to it keeps the failure on its health (see :meth:`_record_sources`).

        ``transient``: the publisher failed for now (a 5xx, a timeout, a dropped connection).
        The source is still done, but without its validators and its time of last success:
        with them its next read would be a 304 as long as the feed did not change (a sitemap
        would skip the entry as unchanged), and the page would never be asked for again. A full
        read lists it again; the pages stored meanwhile are skipped as known."""
        self._counts["page_errors"] += 1
        if retry:
            self._counts["lost_pages"] += 1
        if source is not None:
            self._page_faults.setdefault(source.key, []).append(f"{url}: {reason}")
            if transient:
                self._refetch.add(source.key)
        logger.warning("could not %s %s: %s", "extract" if retry else "fetch", url, reason)
        return PageFailed(url, reason, retry)

    # --- the shared frontier -------------------------------------------------------------------

    def expect(self, url: str, ticket: PageTicket) -> None:
        """The article of ``url`` comes next (through the pipelines): it finishes ``ticket``
        once its batch committed."""
        self._tickets[url] = ticket

    def page_finished(self, ticket: PageTicket | None, *, forget: bool = True) -> None:
        """A page of a frontier source needs nothing more (a duplicate, not an article, failed
        at the publisher's end, forbidden); when it was the source's last, the source is done."""
        if ticket is None or self.frontier is None:
            return
        try:
            done = self.frontier.finish_page(ticket, forget=forget, refetch=ticket.source in self._refetch)
        except FrontierUnavailable as exc:
            self.frontier_failed(exc)
            return
        self._frontier_down = False
        if done is not None:
            self._mark_done(ticket.source, outcome_from_dict(done.outcome), refetch=done.refetch)

    _frontier_down = False

    def frontier_failed(self, exc: FrontierUnavailable) -> None:
        """The frontier could not be told something: the sources concerned are not done this
        cycle, and are crawled again once their lease runs out. Logged once per outage."""
        self._counts["frontier_errors"] += 1
        if not self._frontier_down:
            logger.error("%s (its sources are crawled again once their lease runs out)", exc)
        self._frontier_down = True

    def _frontier_read(self, key: str, outcome: SourceOutcome) -> None:
        assert self.frontier is not None
        if isinstance(outcome, Failed | Gone):
            # Recorded now; the frontier forgets the source (nothing of it is pending).
            self._record(key, outcome, done=False)
        try:
            done = self.frontier.source_read(key, outcome_to_dict(outcome))
        except FrontierUnavailable as exc:
            self.frontier_failed(exc)
            return
        self._frontier_down = False
        if done is not None and not isinstance(outcome, Failed | Gone):
            self._mark_done(key, outcome, refetch=done.refetch)

    def _mark_done(self, key: str, outcome: SourceOutcome, *, refetch: bool) -> None:
        """Every page of a frontier source committed: record it as read successfully (without
        its validators when a page failed for now, on this worker or another)."""
        self._done.add(key)
        if refetch:
            self._refetch.add(key)
        self._record(key, outcome, done=True)

    def page_faults(self, source_key: str) -> str | None:
        """One line on the pages (and documents) of a source that failed in this crawl (None:
        none did)."""
        faults = self._page_faults.get(source_key)
        if not faults:
            return None
        more = f" (and {len(faults) - 1} more)" if len(faults) > 1 else ""
        return f"{len(faults)} problem(s) in the last crawl: {faults[0]}{more}"

    def document_skipped(self, source: SourceRef, url: str, reason: str) -> None:
        """A document of the source was not followed (a sitemap nested too deep: a calendar
        trap). Not an error of the source, but its health shows it."""
        self._page_faults.setdefault(source.key, []).append(f"{url}: {reason}")
        logger.warning("source %s: not following %s: %s", source.key, url, reason)

    def entry_content_used(self, url: str) -> None:
        """The feed entry's own content stands in for its page."""
        self._counts["from_feed_content"] += 1

    # --- articles ------------------------------------------------------------------------------

    def add_article(self, article: Article) -> Stored | Duplicate | NotArticle:
        """Check a normalized article and take it into the current batch unless it is a duplicate."""
        if self._dedupe is None:
            raise RuntimeError("this session has no store: it takes no articles")
        ticket = self._tickets.pop(article.url, None)
        if not article.is_article:
            self.page_finished(ticket)
            return self.not_article(article.url, article.page_type)
        decision = self._dedupe.check(article)
        if decision.verdict is Verdict.ALIAS:
            self._aliases.append(Alias(article.canonical_url, decision.canonical_url))
        if decision.is_duplicate:
            self._counts["duplicates"] += 1
            self.page_finished(ticket)
            return Duplicate(article.canonical_url, decision.canonical_url, decision.verdict)
        self._articles.append(article)
        if ticket is not None:
            self._batch_tickets.append(ticket)
        if len(self._articles) >= self.batch_size and (
            self._sink_idle() or len(self._articles) >= self.batch_size * self.MAX_GROWTH
        ):
            self.flush()
        return Stored(article.canonical_url)

    def _sink_idle(self) -> bool:
        return all(future.done() for future, _, _ in self._pending)

    def flush(self) -> None:
        """Submit the batch being filled; account for the batches committed so far."""
        if (self._articles or self._aliases) and self._sink is not None:
            articles, aliases, tickets = self._articles, self._aliases, self._batch_tickets
            self._articles, self._aliases, self._batch_tickets = [], [], []
            future = self._sink.submit(articles, aliases, self._now())
            self._pending.append((future, [(a.canonical_url, a.content_hash) for a in articles], tickets))
        self._collect(wait=False)

    async def room(self) -> None:
        """Wait while too many batches are on their way to the store."""
        while len(self._pending) > self.MAX_PENDING:
            await asyncio.wrap_future(self._pending[0][0])
            self._collect(wait=False)

    def _collect(self, *, wait: bool) -> None:
        """Account for finished batches, oldest first (all of them when ``wait``)."""
        while self._pending and (wait or self._pending[0][0].done()):
            future, keys, tickets = self._pending.popleft()
            if self._dedupe is not None:
                self._dedupe.forget(keys)
            try:
                result = future.result()
            except BATCH_FAILURES as exc:
                self._counts["unstored"] += len(keys)
                logger.error("could not store a batch of %d articles: %s", len(keys), exc)
                if self.failure is None:
                    self.failure = f"storage failed: {exc}"
                continue
            self._counts.update(
                new=result.new,
                updated=result.updated,
                aliases=result.aliases,
                joined_story=result.joined_story,
                # Another process stored the same article since our dedupe looked.
                duplicates=result.unchanged,
            )
            for ticket in tickets:  # committed: a frontier source may be done now
                self.page_finished(ticket)

    # --- the end -------------------------------------------------------------------------------

    def close(self, reason: str = "finished") -> CrawlReport:
        """Write what is left, wait for every batch, record the sources, and report.

        Sources are marked done only when ``reason`` is "finished", every batch committed and no
        page was lost (see the module docstring); their failures are recorded in any case.
        Closing twice returns the same report.
        """
        if self.report is not None:
            return self.report
        try:
            self.flush()
            self._collect(wait=True)
            ended = self._timer()
            done = reason == "finished" and not self._counts["unstored"] and not self._counts["lost_pages"]
            if self.frontier is not None:
                # Recorded as they finished (see source_finished); done when every source this
                # process read was finished, here or by another worker.
                done = all(self._frontier_done(k) for k, o in self._outcomes.items() if k in self._named)
            elif self._store is not None:
                self._record_sources(done=done)
        finally:
            if self._sink is not None:
                self._sink.close()
            if self._store is not None:
                self._store.close()
            if self.frontier is not None:
                self.frontier.close()
        order = [k for k in self._order if k in self._outcomes] + [
            k for k in self._outcomes if k not in self._order
        ]
        counts = {f.name: self._counts[f.name] for f in fields(CrawlReport) if f.name in self._counts}
        self.report = CrawlReport(
            finish_reason=reason,
            sources={k: self._outcomes[k] for k in order},
            sources_done=done,
            crawl_seconds=round(ended - self._started, 3),
            **counts,
        )
        return self.report

    def _frontier_done(self, key: str) -> bool:
        if key in self._done:
            return True
        assert self.frontier is not None
        try:
            return self.frontier.state(key) == "done"
        except FrontierUnavailable:
            return False

    def _record_sources(self, *, done: bool) -> None:
        for key, outcome in self._outcomes.items():
            if key in self._named:  # a URL from the command line is reported, never recorded
                self._record(key, outcome, done=done)

    def _record(self, key: str, outcome: SourceOutcome, *, done: bool) -> None:
        """Record one source's outcome; a success only when ``done``."""
        store = self._store
        if store is None:
            return
        now = self._now()
        match outcome:
            case Failed(reason, retry_after):
                store.record_source_error(key, reason, now=now, retry_after=retry_after)
            case Gone(reason):
                store.disable_source(key, reason, now=now)
            case Moved(url, etag, last_modified) if done:
                store.move_source(key, url, now=now)
                store.record_source_success(
                    key,
                    now=now,
                    etag=etag,
                    last_modified=last_modified,
                    jitter=self._jitter(),
                    page_errors=self.page_faults(key),
                    incomplete=key in self._refetch,
                )
            case Fetched(etag, last_modified) if done:
                store.record_source_success(
                    key,
                    now=now,
                    etag=etag,
                    last_modified=last_modified,
                    jitter=self._jitter(),
                    page_errors=self.page_faults(key),
                    incomplete=key in self._refetch,
                )
            case NotModified() if done:
                store.record_source_success(key, now=now, jitter=self._jitter())


def make_session(
    db_url: str | None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    writer_process: bool = True,
    sources: Iterable[SourceRef] = (),
    now: Callable[[], datetime] = _utcnow,
    timer: Callable[[], float] = time.monotonic,
    jitter: Callable[[], float] = random_jitter,
    frontier: Frontier | None = None,
    _sink: BatchSink | None = None,
    _store: Store | None = None,
) -> CrawlSession:
    """A crawl session on the database at ``db_url`` (None: a session that stores nothing, for
    ``aggregator fetch`` without ``--store``).

    Args:
        db_url: the database the articles go to and the sources' state is recorded in.
        batch_size: articles per transaction (AGGREGATOR_BATCH_SIZE).
        writer_process: write batches in a process of their own (AGGREGATOR_STORE_WORKER),
            else inline.
        sources: the stored sources this crawl reads (their outcomes are recorded on close).
        now: the clock for timestamps; timer: the clock for durations; jitter: draws the spread
            of a source's next due time (see aggregator.due).
        frontier: the shared frontier's ledger (``--frontier``): sources are marked done as
            their last page commits, by whichever worker commits it (aggregator.frontier).
        _sink, _store: collaborators to use instead of the ones made from ``db_url`` (tests).
    """
    store = _store if _store is not None else (Store(db_url) if db_url is not None else None)
    sink = _sink
    if sink is None and db_url is not None and store is not None:
        sink = WriterProcessSink(db_url) if writer_process else InlineSink(store)
    return CrawlSession(
        store=store,
        sink=sink,
        sources=list(sources),
        batch_size=batch_size,
        now=now,
        timer=timer,
        jitter=jitter,
        frontier=frontier,
    )


def run_totals(report: CrawlReport) -> RunTotals:
    """The run row of a crawl, from its report."""
    return RunTotals(
        pages_fetched=report.pages_fetched,
        new=report.new,
        updated=report.updated,
        duplicates=report.duplicates,
        not_articles=report.not_articles,
        errors=report.page_errors + report.source_errors,
        failures=report.failures,
    )
