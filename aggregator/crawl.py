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
import json
import logging
import math
import shutil
import sys
import tempfile
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
from aggregator.errors import CrawlFailed, FrontierNotSet, InvalidSetting
from aggregator.frontier import DEFAULT_LEASE, DEFAULT_PREFIX, Frontier
from aggregator.model import Article, SourceRef
from aggregator.outcomes import CrawlReport, Duplicate
from aggregator.pipelines import DuplicateDropped
from aggregator.session import CrawlSession, make_session, run_totals
from aggregator.store import SourceInfo, Store

#: Called with "scheduled", "response", "item" or "dropped" as the crawl goes.
ProgressHook = Callable[[str], None]


#: Unknown names with these prefixes pass: settings of Scrapy extensions that are not installed
#: by default (scrapy-redis: REDIS_, SCHEDULER_, DUPEFILTER_; scrapy-playwright; scrapy-zyte-api).
#: Any other unknown name is a typo until proved otherwise.
EXTENSION_PREFIXES = ("REDIS_", "SCHEDULER_", "DUPEFILTER_", "PLAYWRIGHT_", "ZYTE_", "EXT_")

#: Integer settings that must be at least 1 (0 would stall the crawl or mean nothing).
_AT_LEAST_ONE = {
    "CONCURRENT_REQUESTS",
    "CONCURRENT_REQUESTS_PER_DOMAIN",
    "CONCURRENT_ITEMS",
    "AGGREGATOR_BATCH_SIZE",
}


#: Words in the names of settings that Scrapy reads as numbers (seconds), whatever their default.
_SECONDS_WORDS = ("DELAY", "TIMEOUT", "INTERVAL", "CONCURRENCY")


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs from ``-s``, as ``scrapy crawl -s`` takes them, checked before
    anything starts: the name must be a setting Scrapy or the aggregator knows (or carry one of
    EXTENSION_PREFIXES), and the value must read as the type of its default (an integer, a
    number, a boolean, a JSON object), non-negative except for priorities. Scrapy itself would
    only fail deep in its engine, after the crawl had started."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidSetting(pair)
        out[name.strip()] = value
    defaults = Settings()
    defaults.setmodule("aggregator.settings", priority="project")
    for name, value in out.items():
        _check_override(name, value, defaults)
    return out


def _check_override(name: str, value: str, defaults: Settings) -> None:
    if name not in defaults.attributes:
        if name.startswith(EXTENSION_PREFIXES):
            return
        raise InvalidSetting(
            f"{name}={value}",
            f"unknown setting {name} (an extension's setting passes with one of the prefixes "
            f"{', '.join(EXTENSION_PREFIXES)})",
        )
    default = defaults[name]
    if isinstance(default, bool):
        if value.strip() not in ("True", "False", "true", "false", "1", "0"):
            raise InvalidSetting(f"{name}={value}", "expected True or False")
        return
    if isinstance(default, int | float):
        # Scrapy's defaults write some seconds as integers (DOWNLOAD_DELAY = 0) but read them
        # as floats: the name says which.
        whole = isinstance(default, int) and not any(word in name for word in _SECONDS_WORDS)
        number: float
        try:
            number = int(value) if whole else float(value)
        except ValueError:
            kind = "an integer" if whole else "a number"
            raise InvalidSetting(f"{name}={value}", f"expected {kind}") from None
        if not math.isfinite(number):
            raise InvalidSetting(f"{name}={value}", "expected a finite number")
        if name in _AT_LEAST_ONE and number < 1:
            raise InvalidSetting(f"{name}={value}", "must be at least 1")
        if number < 0 and "PRIORITY" not in name:
            raise InvalidSetting(f"{name}={value}", "must not be negative")
        return
    if isinstance(default, dict | BaseSettings) and value.strip():
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise InvalidSetting(f"{name}={value}", "expected a JSON object")


def build_settings(
    db_url: str | None, overrides: dict[str, str], *, log_level: str = "WARNING", store: bool = True
) -> Settings:
    settings = Settings()
    settings.setmodule("aggregator.settings", priority="project")
    # "cmdline" is the only priority above the project settings module.
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    # The command line's one root handler (aggregator.logs) prints every record; a second, Scrapy's,
    # would print each twice and bypass the one-line-per-failure filter and JSON.
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    if db_url:
        settings.set("AGGREGATOR_DB", db_url, priority="cmdline")
    if not store:
        settings.set("AGGREGATOR_DB", None, priority="cmdline")
        settings.set("ITEM_PIPELINES", {"aggregator.pipelines.NormalizePipeline": 100}, priority="cmdline")
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


def session_from_settings(settings: BaseSettings, *, sources: Iterable[SourceRef] = ()) -> CrawlSession:
    """The crawl session the settings describe (AGGREGATOR_DB, _BATCH_SIZE, _STORE_WORKER,
    AGGREGATOR_FRONTIER)."""
    return make_session(
        settings.get("AGGREGATOR_DB") or None,
        batch_size=settings.getint("AGGREGATOR_BATCH_SIZE", DEFAULT_BATCH_SIZE),
        writer_process=settings.getbool("AGGREGATOR_STORE_WORKER", True),
        sources=sources,
        frontier=frontier_from_settings(settings),
    )


def frontier_from_settings(settings: BaseSettings) -> Frontier | None:
    """The shared frontier's ledger when AGGREGATOR_FRONTIER names one."""
    url = settings.get("AGGREGATOR_FRONTIER") or ""
    if not url:
        return None
    return Frontier(
        url,
        prefix=settings.get("AGGREGATOR_FRONTIER_PREFIX") or DEFAULT_PREFIX,
        lease=settings.getfloat("AGGREGATOR_FRONTIER_LEASE", DEFAULT_LEASE),
    )


#: Scrapy's default SCHEDULER: replaced by ours only when nobody chose another.
SCRAPY_SCHEDULER = "scrapy.core.scheduler.Scheduler"


def use_frontier(settings: BaseSettings) -> None:
    """Point Scrapy's scheduler and seen filter at the shared frontier (scrapy-redis), or, with
    none, at disk queues in a JOBDIR of this crawl's own (AGGREGATOR_DISK_QUEUE)."""
    url = settings.get("AGGREGATOR_FRONTIER") or ""
    if url:
        prefix = settings.get("AGGREGATOR_FRONTIER_PREFIX") or DEFAULT_PREFIX
        for name, value in {
            "SCHEDULER": "spiders.frontier.FrontierScheduler",
            "DUPEFILTER_CLASS": "spiders.frontier.CanonicalDupeFilter",
            "SCHEDULER_QUEUE_KEY": f"{prefix}:requests",
            "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:seen",
            # Workers come and go: the queue and the filter outlive each of them.
            "SCHEDULER_PERSIST": True,
            "REDIS_URL": url,
        }.items():
            settings.set(name, value, priority="cmdline")
        return
    if settings.getbool("AGGREGATOR_DISK_QUEUE", True) and not settings.get("JOBDIR"):
        settings.set("JOBDIR", tempfile.mkdtemp(prefix="aggregator-crawl-"), priority="cmdline")
        if settings.get("SCHEDULER") == SCRAPY_SCHEDULER:
            # The first AGGREGATOR_MEMORY_QUEUE requests wait in memory, the rest on disk.
            settings.set("SCHEDULER", "spiders.spill.SpillScheduler", priority="cmdline")


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
    on_duplicate: Callable[[Any, Duplicate], None] | None = None,
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
    if on_duplicate is not None:

        def dropped(item: Any, exception: BaseException, **kw: Any) -> None:
            if isinstance(exception, DuplicateDropped):
                on_duplicate(item, exception.outcome)

        crawler.signals.connect(dropped, signal=signals.item_dropped, weak=False)
    broken: list[BaseException] = []

    def failed(failure: Any) -> None:
        broken.append(failure.value)  # handled: Twisted would print it as "Unhandled error"

    process.crawl(crawler, **kwargs).addErrback(failed)
    process.start()
    if broken:
        raise CrawlFailed(f"{type(broken[0]).__name__}: {broken[0]}") from broken[0]
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
    own_jobdir = not settings.get("JOBDIR")
    use_frontier(settings)
    spider = "sources"
    if settings.get("AGGREGATOR_FRONTIER"):
        # Put the sources in the shared frontier and work on it beside the other workers,
        # until it has had nothing for us for a moment.
        spider = "worker"
        if not settings.getfloat("AGGREGATOR_WORKER_IDLE_EXIT", 0.0):
            settings.set("AGGREGATOR_WORKER_IDLE_EXIT", CRAWL_IDLE_EXIT, priority="cmdline")
        enqueue(settings, refs)
    with Store(db_url) as store:
        run_id = store.start_run([s.name for s in sources], now=datetime.now(UTC))
    session = session_from_settings(settings, sources=refs)
    crawler: Crawler | None = None
    try:
        crawler = _run(
            settings, spider, progress=progress, sources=refs if spider == "sources" else (), session=session
        )
    finally:
        if own_jobdir and settings.get("JOBDIR"):
            shutil.rmtree(settings["JOBDIR"], ignore_errors=True)
        report = session.close("failed")  # the spider closed it already, unless the crawl broke
        status = report.finish_reason if report.finish_reason else "failed"
        with Store(db_url) as store:
            store.finish_run(run_id, run_totals(report), status=status, now=datetime.now(UTC))
    return _with_run_facts(report, crawler, started)


#: Seconds ``crawl --frontier`` goes on once the frontier has nothing waiting and it nothing in hand.
CRAWL_IDLE_EXIT = 3.0


def enqueue(settings: BaseSettings, sources: list[SourceRef]) -> list[str]:
    """Put sources in the shared frontier for its workers; returns those put there (a source
    still in flight under a live lease is not). Raises FrontierUnavailable."""
    frontier = frontier_from_settings(settings)
    if frontier is None:
        raise FrontierNotSet("crawl --enqueue")
    try:
        frontier.check()
        return frontier.enqueue(sources, now=time.time())
    finally:
        frontier.close()


def run_worker(
    db_url: str,
    overrides: dict[str, str],
    *,
    progress: ProgressHook | None = None,
    log_level: str = "WARNING",
) -> CrawlReport:
    """Work for the shared frontier (AGGREGATOR_FRONTIER) until stopped, or idle for
    AGGREGATOR_WORKER_IDLE_EXIT seconds; the report counts this worker's share."""
    started = time.monotonic()
    settings = build_settings(db_url, overrides, log_level=log_level)
    use_frontier(settings)
    frontier = frontier_from_settings(settings)
    if frontier is None:
        raise FrontierNotSet("aggregator worker")
    frontier.check()
    frontier.close()
    session = session_from_settings(settings)
    crawler: Crawler | None = None
    try:
        crawler = _run(settings, "worker", progress=progress, session=session)
    finally:
        report = session.close("failed")
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
    on_duplicate: Callable[[Article, Duplicate], None] | None = None,
    overrides: dict[str, str] | None = None,
    log_level: str = "WARNING",
) -> CrawlReport:
    """Download pages through Scrapy and hand each Article to ``on_item``; store them if asked
    (an article stored already, or its text under another URL, goes to ``on_duplicate``).

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
        crawler = _run(
            settings, "page", on_item=on_item, on_duplicate=on_duplicate, urls=urls, session=session
        )
    finally:
        report = session.close("failed")
    return _with_run_facts(report, crawler, started)
