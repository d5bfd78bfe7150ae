"""The crawl session on its own: no Scrapy, a fake sink whose batches commit when the test says,
a fixed clock, and a real SQLite store for the dedupe lookups and the sources' state.

The crash-safety rule is tested here directly: a source is done only when the crawl finished,
its last batch committed and no page was lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.dedupe import Verdict
from aggregator.errors import StorageError
from aggregator.model import Article, PageType, SourceKind, SourceRef
from aggregator.normalize import normalize_article
from aggregator.outcomes import (
    CrawlReport,
    Duplicate,
    Failed,
    Fetched,
    Gone,
    Moved,
    NotArticle,
    NotModified,
    Skip,
    Stored,
)
from aggregator.session import CrawlSession, make_session
from aggregator.store import Alias, BatchResult, Store

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass
class FakeSink:
    """Takes batches and leaves them pending until the test commits or fails them."""

    batches: list[tuple[list[str], list[Alias]]] = field(default_factory=list)
    futures: list[Future[BatchResult]] = field(default_factory=list)
    closed: bool = False

    def submit(self, articles: list[Article], aliases: list[Alias], now: datetime) -> Future[BatchResult]:
        assert now == NOW
        self.batches.append(([a.canonical_url for a in articles], aliases))
        future: Future[BatchResult] = Future()
        self.futures.append(future)
        return future

    def commit(self, index: int, *, new: int = 0) -> None:
        self.futures[index].set_result(BatchResult(new=new))

    def fail(self, index: int) -> None:
        self.futures[index].set_exception(StorageError("sqlite:///x.db", "write to", "disk I/O error"))

    def close(self) -> None:
        self.closed = True


class Ticks:
    """A timer that moves a second each time it is read."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url) as s:
        for name in ("wire", "other"):
            s.add_source(name, "feed", f"https://p.example/{name}.xml", now=NOW - HOUR)
        yield s


def ref(store: Store, name: str) -> SourceRef:
    return store.get_source(name).as_ref()


def session(store: Store, sink: FakeSink, *, batch_size: int = 2) -> CrawlSession:
    # The session closes the store it is given: it gets one of its own on the same database.
    return make_session(
        store.url,
        batch_size=batch_size,
        sources=[ref(store, "wire"), ref(store, "other")],
        now=lambda: NOW,
        timer=Ticks(),
        jitter=lambda: 0.0,
        _sink=sink,
        _store=Store(store.url),
    )


def article(n: int, text: str | None = None, url: str | None = None) -> Article:
    return normalize_article(
        Article(
            url=url or f"https://p.example/{n}", title=f"Story {n}", text=text or f"Body of story number {n}."
        ),
        now=NOW,
    )


def test_a_source_is_done_only_when_its_last_batch_committed(store: Store) -> None:
    sink = FakeSink()
    crawl = session(store, sink)
    crawl.source_finished(ref(store, "wire"), Fetched('"v1"', "Wed, 01 Jan 2026 00:00:00 GMT"))
    assert crawl.add_article(article(1)) == Stored("https://p.example/1")
    assert crawl.add_article(article(2)) == Stored("https://p.example/2")  # the batch is full: submitted
    assert crawl.add_article(article(3)) == Stored("https://p.example/3")
    assert sink.batches == [(["https://p.example/1", "https://p.example/2"], [])]
    # A crash now (kill -9: close never runs) leaves the source as it was: due, no validators.
    assert (store.get_source("wire").etag, store.get_source("wire").next_due_at) == (None, NOW - HOUR)
    sink.commit(0, new=2)
    crawl.flush()  # the last article goes in a batch of its own
    assert sink.batches[1] == (["https://p.example/3"], [])
    assert store.get_source("wire").etag is None  # its last batch has not committed
    sink.commit(1, new=1)
    report = crawl.close("finished")
    wire = store.get_source("wire")
    assert (wire.etag, wire.last_modified) == ('"v1"', "Wed, 01 Jan 2026 00:00:00 GMT")
    assert (wire.last_success_at, wire.next_due_at) == (NOW, NOW + HOUR)
    assert store.get_source("other").last_success_at is None  # read by no one
    assert report == CrawlReport(
        finish_reason="finished",
        sources={"wire": Fetched('"v1"', "Wed, 01 Jan 2026 00:00:00 GMT")},
        new=3,
        sources_done=True,
        crawl_seconds=1.0,
    )
    assert sink.closed
    assert crawl.close("finished") is report  # closing twice reports once


def test_a_batch_that_cannot_be_written_marks_no_source_done_and_stops_the_crawl(store: Store) -> None:
    sink = FakeSink()
    crawl = session(store, sink, batch_size=1)
    crawl.source_finished(ref(store, "wire"), Fetched('"v1"'))
    crawl.source_finished(ref(store, "other"), Failed("HTTP 500 Internal Server Error"))
    crawl.add_article(article(1))
    sink.fail(0)
    assert crawl.failure is None  # not known until the session looks
    crawl.add_article(article(2))  # a full batch: submitted, and the finished ones accounted for
    assert crawl.failure == "storage failed: cannot write to sqlite:///x.db: disk I/O error"
    sink.commit(1, new=1)
    report = crawl.close("finished")
    assert (report.new, report.unstored, report.sources_done) == (1, 1, False)
    assert report.failed_sources == ["other"]
    assert store.get_source("wire").etag is None
    other = store.get_source("other")
    # A failure is recorded whatever happened: it only brings the next try closer or further.
    assert (other.last_error, other.error_count, other.next_due_at) == (
        "HTTP 500 Internal Server Error",
        1,
        NOW + 2 * HOUR,
    )


def test_a_page_whose_worker_died_marks_no_source_done(store: Store) -> None:
    sink = FakeSink()
    crawl = session(store, sink)
    crawl.source_finished(ref(store, "wire"), Fetched('"v1"'))
    crawl.page_fetched()
    crawl.page_failed("https://p.example/9", "the worker process died", retry=True)
    report = crawl.close("finished")
    assert (report.page_errors, report.lost_pages, report.sources_done) == (1, 1, False)
    assert store.get_source("wire").etag is None  # the feed is read again next time, for that page


@pytest.mark.parametrize("reason", ["shutdown", "storage_error", "failed"])
def test_a_crawl_that_did_not_finish_marks_no_source_done(store: Store, reason: str) -> None:
    crawl = session(store, FakeSink())
    crawl.source_finished(ref(store, "wire"), NotModified())
    report = crawl.close(reason)
    assert (report.finish_reason, report.finished, report.sources_done) == (reason, False, False)
    assert store.get_source("wire").last_success_at is None


def test_every_source_outcome_is_recorded(store: Store) -> None:
    store.add_source("moved", "feed", "https://p.example/old.xml", now=NOW - HOUR)
    store.add_source("busy", "feed", "https://p.example/busy.xml", now=NOW - HOUR)
    store.add_source("gone", "feed", "https://p.example/gone.xml", now=NOW - HOUR)
    crawl = make_session(
        store.url,
        sources=[ref(store, n) for n in ("moved", "busy", "gone", "wire")],
        now=lambda: NOW,
        jitter=lambda: 0.05,
        _sink=FakeSink(),
        _store=Store(store.url),
    )
    crawl.source_finished(ref(store, "wire"), NotModified())
    crawl.source_finished(ref(store, "moved"), Moved("https://p.example/new.xml", '"m"'))
    crawl.source_finished(ref(store, "busy"), Failed("HTTP 429 Too Many Requests", retry_after=7200))
    crawl.source_finished(ref(store, "gone"), Gone("HTTP 410 Gone: the publisher removed it"))
    unnamed = SourceRef(name=None, kind=SourceKind.FEED, url="https://elsewhere.example/feed.xml")
    crawl.source_finished(unnamed, Failed("HTTP 404 Not Found"))
    report = crawl.close("finished")
    assert list(report.sources) == ["moved", "busy", "gone", "wire", "https://elsewhere.example/feed.xml"]
    assert report.failures == {
        "busy": "HTTP 429 Too Many Requests",
        "gone": "HTTP 410 Gone: the publisher removed it",
        "https://elsewhere.example/feed.xml": "HTTP 404 Not Found",
    }
    assert (report.not_modified, report.source_errors) == (1, 3)
    moved, busy, gone, wire = (store.get_source(n) for n in ("moved", "busy", "gone", "wire"))
    assert (moved.url, moved.etag, moved.next_due_at) == (
        "https://p.example/new.xml",
        '"m"',
        NOW + 1.05 * HOUR,
    )
    assert (busy.last_error, busy.next_due_at) == ("HTTP 429 Too Many Requests", NOW + 2 * HOUR)
    assert (gone.enabled, gone.disabled_reason) == (False, "HTTP 410 Gone: the publisher removed it")
    assert (wire.etag, wire.last_success_at) == (None, NOW)


def test_articles_are_answered_with_outcomes_and_stored_inline(store: Store) -> None:
    crawl = make_session(
        store.url, batch_size=10, writer_process=False, now=lambda: NOW, _store=Store(store.url)
    )
    same = "The same words, under two addresses."
    assert crawl.add_article(article(1, same)) == Stored("https://p.example/1")
    assert crawl.add_article(article(1, same)) == Duplicate(
        "https://p.example/1", "https://p.example/1", Verdict.UNCHANGED
    )
    assert crawl.add_article(article(2, same, url="https://mirror.example/1")) == Duplicate(
        "https://mirror.example/1", "https://p.example/1", Verdict.ALIAS
    )
    listing = Article(url="https://p.example/", page_type=PageType.LISTING)
    assert crawl.add_article(listing) == NotArticle("https://p.example/", PageType.LISTING)
    crawl.add_article(article(3))
    crawl.skipped(Skip.ALREADY_STORED, 4)
    crawl.skipped(Skip.DUPLICATE_LINK)
    report = crawl.close("finished")
    assert (report.new, report.duplicates, report.aliases, report.already_stored, report.duplicate_links) == (
        2,
        2,
        1,
        4,
        1,
    )
    assert [(a.canonical_url, aliases) for a, aliases in store.iter_articles()] == [
        ("https://p.example/1", ["https://mirror.example/1"]),
        ("https://p.example/3", []),
    ]


def test_batches_grow_while_the_sink_is_busy(store: Store) -> None:
    sink = FakeSink()
    crawl = session(store, sink, batch_size=2)
    crawl.add_article(article(0))
    crawl.add_article(article(1))
    assert len(sink.batches) == 1  # the sink is idle: a batch of 2 goes at once
    for n in range(2, 11):
        crawl.add_article(article(n))
    assert len(sink.batches) == 1  # held: 9 < 2 x MAX_GROWTH while the first batch is pending
    crawl.add_article(article(11))
    assert [len(urls) for urls, _ in sink.batches] == [2, 10]  # grown to its limit: sent anyway
    sink.commit(0)
    sink.commit(1)
    crawl.add_article(article(12))
    crawl.add_article(article(13))
    assert [len(urls) for urls, _ in sink.batches] == [2, 10, 2]  # idle again: batches of 2
    sink.commit(2)
    crawl.close("finished")


def test_room_waits_while_too_many_batches_are_pending(store: Store) -> None:
    sink = FakeSink()
    crawl = session(store, sink, batch_size=1)

    async def fill() -> list[bool]:
        waited = []
        for n in range(CrawlSession.MAX_PENDING + 1):
            crawl.add_article(article(n))
            crawl.flush()
        room = asyncio.ensure_future(crawl.room())
        await asyncio.sleep(0)
        waited.append(room.done())  # five batches pending: no room
        sink.commit(0)
        await room
        waited.append(room.done())
        return waited

    assert asyncio.run(fill()) == [False, True]
    for n in range(1, CrawlSession.MAX_PENDING + 1):
        sink.commit(n)
    crawl.close("finished")


def test_a_report_survives_json_and_renders_one_log_line() -> None:
    report = CrawlReport(
        finish_reason="finished",
        sources={
            "a": Fetched('"e"'),
            "b": Failed("HTTP 500", 60),
            "c": Gone("HTTP 410 Gone"),
            "d": NotModified(),
            "e": Moved("https://x.example/"),
        },
        new=3,
        updated=1,
        duplicates=2,
        pages_fetched=7,
        source_errors=2,
        crawl_seconds=1.5,
        requests=9,
        seconds=2.5,
    )
    assert CrawlReport.from_dict(report.to_dict()) == report
    assert report.to_dict()["failed_sources"] == ["b", "c"]
    assert report.log_line() == (
        "3 new, 1 updated, 2 duplicates, 7 pages, 2 failed source(s)"
        " (b: HTTP 500; c: HTTP 410 Gone), finished"
    )
