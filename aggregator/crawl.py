"""Drive Scrapy: build settings, run one spider in this process, hand back the crawl's report.

Scrapy glue (with ``pipelines`` and ``settings``): the one place that builds a CrawlerProcess.
Spiders are run by name through Scrapy's spider loader (SPIDER_MODULES), so ``aggregator`` never
imports ``spiders``; spiders import ``aggregator``, never the other way round. Each crawl gets a
:class:`~aggregator.session.CrawlSession` built here from the settings' plain values, and its
:class:`~aggregator.outcomes.CrawlReport` is the result. A Twisted reactor cannot be restarted,
so each function here runs one crawl per process.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import BaseSettings, Settings

from aggregator.config import DEFAULT_BATCH_SIZE
from aggregator.discover import Discovery
from aggregator.errors import InvalidSetting
from aggregator.model import Article, SourceRef
from aggregator.outcomes import CrawlReport
from aggregator.session import CrawlSession, make_session, run_totals
from aggregator.store import SourceInfo, Store

#: Called with "scheduled", "response", "item" or "dropped" as the crawl goes.
ProgressHook = Callable[[str], None]


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs from ``-s``, exactly as ``scrapy crawl -s`` takes them."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidSetting(pair)
        out[name.strip()] = value
    return out


def build_settings(
    db_url: str | None, overrides: dict[str, str], *, log_level: str = "WARNING", store: bool = True
) -> Settings:
    settings = Settings()
    settings.setmodule("aggregator.settings", priority="project")
    # "cmdline" is the only priority above the project settings module.
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    if db_url:
        settings.set("AGGREGATOR_DB", db_url, priority="cmdline")
    if not store:
        settings.set("AGGREGATOR_DB", None, priority="cmdline")
        settings.set("ITEM_PIPELINES", {"aggregator.pipelines.NormalizePipeline": 100}, priority="cmdline")
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


def session_from_settings(settings: BaseSettings, *, sources: Iterable[SourceRef] = ()) -> CrawlSession:
    """The crawl session the settings describe (AGGREGATOR_DB, _BATCH_SIZE, _STORE_WORKER)."""
    return make_session(
        settings.get("AGGREGATOR_DB") or None,
        batch_size=settings.getint("AGGREGATOR_BATCH_SIZE", DEFAULT_BATCH_SIZE),
        writer_process=settings.getbool("AGGREGATOR_STORE_WORKER", True),
        sources=sources,
    )


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


def _run(
    settings: Settings,
    spider: str,
    *,
    progress: ProgressHook | None = None,
    on_item: Callable[[Any], None] | None = None,
    **kwargs: Any,
) -> Crawler:
    """Run the spider named ``spider`` to its end in this process."""
    # The pools' feeder and result threads need the GIL for a moment per page; at Python's
    # default 5 ms switch interval they wait that long behind the busy download loop, and the
    # workers idle. 1 ms keeps them fed (benchmarks/crawl.py: 9.0 s -> 8.5 s for 2000 pages).
    sys.setswitchinterval(0.001)
    process = CrawlerProcess(settings)
    _one_line_per_fault(settings)
    crawler = process.create_crawler(spider)
    if progress is not None:
        for event, signal in (
            ("scheduled", signals.request_scheduled),
            ("response", signals.response_received),
            ("item", signals.item_scraped),
            ("dropped", signals.item_dropped),
        ):
            crawler.signals.connect(_progress_handler(progress, event), signal=signal, weak=False)
    if on_item is not None:

        def emit(item: Any, **kw: Any) -> None:
            on_item(item)

        crawler.signals.connect(emit, signal=signals.item_scraped, weak=False)
    process.crawl(crawler, **kwargs)
    process.start()
    return crawler


class _ReportedBySession(logging.Filter):
    """Drops Scrapy's lines that repeat a failure the crawl session reports itself, with the
    source it belongs to: retries given up, responses cut at DOWNLOAD_MAXSIZE. Each failed page
    or source is then one line in the log, not three."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "scrapy.downloadermiddlewares.retry":
            return not record.getMessage().startswith("Gave up retrying")
        message = record.getMessage()
        return "larger than download max size" not in message and "exceeded DOWNLOAD_MAXSIZE" not in message


_REPORTED_BY_SESSION = _ReportedBySession()


def _one_line_per_fault(settings: Settings) -> None:
    """Only at the default WARNING level: ``--verbose`` and ``--debug`` show Scrapy's own lines."""
    if settings.get("LOG_LEVEL") == "WARNING":
        for name in (
            "scrapy.downloadermiddlewares.retry",
            "scrapy.downloadermiddlewares.httpcompression",
            "scrapy.core.downloader.handlers.http11",
        ):
            logging.getLogger(name).addFilter(_REPORTED_BY_SESSION)


def _progress_handler(progress: ProgressHook, event: str) -> Callable[..., None]:
    def handler(*args: Any, **kwargs: Any) -> None:
        progress(event)

    return handler


def _with_run_facts(report: CrawlReport, crawler: Crawler | None, started: float) -> CrawlReport:
    """The report with what only the process running Scrapy knows: requests sent, wall time."""
    stats = crawler.stats.get_stats() if crawler is not None and crawler.stats is not None else {}
    return dataclasses.replace(
        report,
        requests=int(stats.get("downloader/request_count", 0) or 0),
        seconds=round(time.monotonic() - started, 3),
    )


def crawl_sources(
    db_url: str,
    sources: list[SourceInfo],
    overrides: dict[str, str],
    *,
    progress: ProgressHook | None = None,
    log_level: str = "WARNING",
) -> CrawlReport:
    """Crawl the given stored sources into the database and record the run."""
    started = time.monotonic()
    refs = [s.as_ref() for s in sources]
    settings = build_settings(db_url, overrides, log_level=log_level)
    slots = politeness_slots(sources)
    if slots and "DOWNLOAD_SLOTS" not in overrides:
        settings.set("DOWNLOAD_SLOTS", slots, priority="cmdline")
    with Store(db_url) as store:
        run_id = store.start_run([s.name for s in sources], now=datetime.now(UTC))
    session = session_from_settings(settings, sources=refs)
    crawler: Crawler | None = None
    try:
        crawler = _run(settings, "sources", progress=progress, sources=refs, session=session)
    finally:
        report = session.close("failed")  # the spider closed it already, unless the crawl broke
        status = report.finish_reason if report.finish_reason else "failed"
        with Store(db_url) as store:
            store.finish_run(run_id, run_totals(report), status=status, now=datetime.now(UTC))
    return _with_run_facts(report, crawler, started)


def discover(
    url: str, *, overrides: dict[str, str] | None = None, log_level: str = "WARNING"
) -> list[Discovery]:
    """Fetch URL through Scrapy and report what sources it is or offers (see spiders/discover.py)."""
    found: list[Discovery] = []
    settings = build_settings(None, overrides or {}, log_level=log_level, store=False)
    settings.set("ITEM_PIPELINES", {}, priority="cmdline")
    _run(settings, "discover", on_item=found.append, url=url)
    return found


#: Up to this many URLs, ``aggregator fetch`` works in its own process (see fetch_urls).
INLINE_FETCH = 20


def fetch_urls(
    urls: list[str],
    *,
    db_url: str | None,
    store: bool,
    on_item: Callable[[Article], None],
    overrides: dict[str, str] | None = None,
    log_level: str = "WARNING",
) -> CrawlReport:
    """Download pages through Scrapy and hand each Article to ``on_item``; store them if asked.

    A handful of pages is extracted and stored inline: starting worker processes (a second for
    the fork server's imports) would cost more than it saves.
    """
    started = time.monotonic()
    overrides = dict(overrides or {})
    if len(urls) <= INLINE_FETCH:
        overrides.setdefault("AGGREGATOR_EXTRACT_WORKERS", "0")
        overrides.setdefault("AGGREGATOR_STORE_WORKER", "False")
    settings = build_settings(db_url, overrides, log_level=log_level, store=store)
    session = session_from_settings(settings)
    crawler: Crawler | None = None
    try:
        crawler = _run(settings, "page", on_item=on_item, urls=urls, session=session)
    finally:
        report = session.close("failed")
    return _with_run_facts(report, crawler, started)
