"""Drive Scrapy from the CLI: build settings, run a spider in-process, report progress and counts.

This module and ``pipelines``/``settings`` are the only ones in ``aggregator`` that know Scrapy.
A Twisted reactor cannot be restarted, so each function here runs one crawl per process.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from aggregator.errors import InputError
from aggregator.model import Article
from aggregator.store import SourceInfo, Store
from spiders.common import SourceRef
from spiders.page import PageSpider
from spiders.sources import SourcesSpider


@dataclass
class CrawlSummary:
    pages_fetched: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    aliases: int = 0
    joined_story: int = 0
    not_articles: int = 0
    page_errors: int = 0
    source_errors: int = 0
    already_stored: int = 0
    duplicate_links: int = 0
    ignored: int = 0
    not_modified: int = 0
    requests: int = 0
    #: The whole run, start-up included.
    seconds: float = 0.0
    #: From the spider's start to the last article stored (what benchmarks/crawl.py compares).
    crawl_seconds: float = 0.0
    finish_reason: str = ""
    failed_sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_stats(cls, stats: dict[str, Any], seconds: float) -> CrawlSummary:
        def get(key: str) -> int:
            return int(stats.get(key, 0) or 0)

        return cls(
            pages_fetched=get("aggregator/pages_fetched"), new=get("aggregator/new"),
            updated=get("aggregator/updated"), duplicates=get("aggregator/duplicates"),
            aliases=get("aggregator/aliases"), joined_story=get("aggregator/joined_story"),
            not_articles=get("aggregator/not_articles"),
            page_errors=get("aggregator/page_errors"), source_errors=get("aggregator/source_errors"),
            already_stored=get("aggregator/already_stored"),
            duplicate_links=get("aggregator/links_seen_twice"), ignored=get("aggregator/ignored_requests"), not_modified=get("aggregator/not_modified"),
            requests=get("downloader/request_count"), seconds=round(seconds, 3),
            finish_reason=str(stats.get("finish_reason", "")),
        )


#: Called as progress(event, crawler) with event "scheduled", "response", "item" or "dropped".
ProgressHook = Callable[[str], None]


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs from ``-s``, exactly as ``scrapy crawl -s`` takes them."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"-s expects NAME=VALUE, got {pair!r}")
        out[name.strip()] = value
    return out


def build_settings(db_url: str | None, overrides: dict[str, str], *, log_level: str = "WARNING",
                   store: bool = True) -> Settings:
    settings = Settings()
    settings.setmodule("aggregator.settings", priority="project")
    # "cmdline" is the only priority above the project settings module.
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    if db_url:
        settings.set("AGGREGATOR_DB", db_url, priority="cmdline")
    if not store:
        settings.set("ITEM_PIPELINES", {"aggregator.pipelines.NormalizePipeline": 100}, priority="cmdline")
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


def _run(settings: Settings, spider: type[Any], progress: ProgressHook | None,
         on_item: Callable[[Article], None] | None, **kwargs: Any) -> tuple[CrawlSummary, Crawler]:
    # The pools' feeder and result threads need the GIL for a moment per page; at Python's
    # default 5 ms switch interval they wait that long behind the busy download loop, and the
    # workers idle. 1 ms keeps them fed (benchmarks/crawl.py: 9.0 s -> 8.5 s for 2000 pages).
    sys.setswitchinterval(0.001)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spider)

    def hook(event: str) -> Callable[..., None]:
        def handler(*args: Any, **kw: Any) -> None:
            if progress is not None:
                progress(event)
        return handler

    opened: list[float] = []
    crawler.signals.connect(lambda **kw: opened.append(time.monotonic()), signal=signals.spider_opened, weak=False)
    handlers = [hook(e) for e in ("scheduled", "response", "item", "dropped")]
    crawler.signals.connect(handlers[0], signal=signals.request_scheduled)
    crawler.signals.connect(handlers[1], signal=signals.response_received)
    crawler.signals.connect(handlers[2], signal=signals.item_scraped)
    crawler.signals.connect(handlers[3], signal=signals.item_dropped)
    if on_item is not None:
        def emit(item: Any, **kw: Any) -> None:
            on_item(item)
        crawler.signals.connect(emit, signal=signals.item_scraped, weak=False)
    started = time.monotonic()
    process.crawl(crawler, **kwargs)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats is not None else {}
    ended = time.monotonic()
    summary = CrawlSummary.from_stats(stats, ended - started)
    summary.crawl_seconds = round(ended - (opened[0] if opened else started), 3)
    return summary, crawler


def politeness_slots(sources: Iterable[SourceInfo]) -> dict[str, dict[str, Any]]:
    """Scrapy DOWNLOAD_SLOTS for sources with their own delay or concurrency, keyed by host.

    A slot covers every request to the host (feed, sitemap and article pages alike); two sources
    on one host get the stricter of their settings.
    """
    slots: dict[str, dict[str, Any]] = {}
    for source in sources:
        host = urlsplit(source.url).hostname
        if not host or (source.delay is None and source.concurrency is None):
            continue
        slot = slots.setdefault(host, {})
        if source.delay is not None:
            slot["delay"] = max(source.delay, slot.get("delay", 0.0))
        if source.concurrency is not None:
            slot["concurrency"] = min(source.concurrency, slot.get("concurrency", source.concurrency))
    return slots


def crawl_sources(
    db_url: str, sources: list[SourceInfo], overrides: dict[str, str], *,
    progress: ProgressHook | None = None, log_level: str = "WARNING",
) -> CrawlSummary:
    """Crawl the given stored sources into the database and record the run."""
    store = Store(db_url)
    run_id = store.start_run([s.name for s in sources], now=datetime.now(UTC))
    refs = [SourceRef(name=s.name, kind=s.kind, url=s.url, tags=tuple(s.tags), etag=s.etag,
                      last_modified=s.last_modified, last_success=s.last_success_at) for s in sources]
    settings = build_settings(db_url, overrides, log_level=log_level)
    slots = politeness_slots(sources)
    if slots and "DOWNLOAD_SLOTS" not in overrides:
        settings.set("DOWNLOAD_SLOTS", slots, priority="cmdline")
    status = "failed"
    try:
        summary, _ = _run(settings, SourcesSpider, progress, None, sources=refs)
        status = "finished" if summary.finish_reason == "finished" else summary.finish_reason or "failed"
    finally:
        after = {s.name: s for s in store.list_sources()}
        now = datetime.now(UTC)
        failed = []
        for source in sources:
            current = after.get(source.name)
            if current is None:
                continue
            if current.error_count > source.error_count:
                failed.append(source.name)
            elif source.kind in ("page", "site"):
                store.record_source_success(source.name, now=now)
        counts: Counter[str] = Counter()
        if status != "failed":
            counts.update(pages_fetched=summary.pages_fetched, new=summary.new, updated=summary.updated,
                          duplicates=summary.duplicates, not_articles=summary.not_articles,
                          errors=summary.page_errors + summary.source_errors)
        store.finish_run(run_id, counts, status=status, now=now)
        store.close()
    summary.failed_sources = failed
    return summary


def discover(url: str, *, overrides: dict[str, str] | None = None, log_level: str = "WARNING") -> list[dict[str, str]]:
    """Fetch URL through Scrapy and report what sources it is or offers (see spiders/discover.py)."""
    from spiders.discover import DiscoverSpider

    found: list[dict[str, str]] = []
    settings = build_settings(None, overrides or {}, log_level=log_level, store=False)
    settings.set("ITEM_PIPELINES", {}, priority="cmdline")
    _run(settings, DiscoverSpider, None, found.append, url=url)  # type: ignore[arg-type]
    return found


#: Up to this many URLs, ``aggregator fetch`` works in its own process (see fetch_urls).
INLINE_FETCH = 20


def fetch_urls(
    urls: list[str], *, db_url: str | None, store: bool, on_item: Callable[[Article], None],
    overrides: dict[str, str] | None = None, log_level: str = "WARNING",
) -> CrawlSummary:
    """Download pages through Scrapy and hand each Article to ``on_item``; store them if asked.

    A handful of pages is extracted and stored inline: starting worker processes (a second for
    the fork server's imports) would cost more than it saves.
    """
    overrides = dict(overrides or {})
    if len(urls) <= INLINE_FETCH:
        overrides.setdefault("AGGREGATOR_EXTRACT_WORKERS", "0")
        overrides.setdefault("AGGREGATOR_STORE_WORKER", "False")
    settings = build_settings(db_url, overrides, log_level=log_level, store=store)
    summary, _ = _run(settings, PageSpider, None, on_item, urls=urls)
    return summary
