"""A worker of the shared frontier: takes sources and requests from Redis until told to stop.

``aggregator worker`` (or ``scrapy crawl worker`` with AGGREGATOR_FRONTIER, as Scrapyd runs it)
starts one. Requests come from scrapy-redis's scheduler (spiders/frontier.py), which every worker
shares; sources come from the ledger's list (``aggregator schedule --frontier``, ``crawl
--enqueue``). scrapy-redis's own RedisSpider feeds itself through ``start_requests``, which
Scrapy 2.16 removed: this spider's ``start()`` is that loop, written for the async API.

It waits for work for ever, or, with AGGREGATOR_WORKER_IDLE_EXIT=SECONDS, stops once the
frontier has had nothing waiting and this process nothing in hand for that long (``crawl
--frontier``, tests, a Scrapyd job that should end).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from scrapy import signals
from scrapy.settings import BaseSettings

from aggregator.crawl import use_frontier
from aggregator.errors import FrontierUnavailable
from spiders.sources import SourcesSpider

logger = logging.getLogger(__name__)

#: How often an idle worker looks for work (and Scrapy's engine for requests other workers queued).
POLL_S = 0.5
#: Sources a worker takes from the frontier at a time (each may list thousands of pages).
TAKE = 2


class WorkerSpider(SourcesSpider):
    name = "worker"

    def _engine_idle(self) -> bool:
        engine = self.crawler.engine
        if engine is None:
            return True
        scraper = engine.scraper.slot
        return not engine.downloader.active and (scraper is None or scraper.is_idle())

    def _opened(self, spider: Any) -> None:
        # Scrapy's engine asks the scheduler for requests when one of its own finishes, else
        # every 5 s (its heartbeat); requests other workers put in Redis would wait that long.
        engine = self.crawler.engine
        if engine is not None:
            engine._SLOT_HEARTBEAT_INTERVAL = POLL_S

    async def start(self) -> AsyncIterator[Any]:
        self.session.begin()
        frontier = self.session.frontier
        if frontier is None:
            logger.error("the worker spider needs a frontier: set AGGREGATOR_FRONTIER (a redis:// URL)")
            return
        idle_exit = self.crawler.settings.getfloat("AGGREGATOR_WORKER_IDLE_EXIT", 0.0)
        idle_since: float | None = None
        down = False
        while True:
            try:
                sources = frontier.take_sources(TAKE)
                waiting = frontier.waiting() if not sources else 1
            except FrontierUnavailable as exc:
                if not down:
                    logger.error("%s; waiting for it", exc)
                down = True
                await asyncio.sleep(POLL_S)
                continue
            if down:
                logger.warning("frontier %s reachable again", frontier.url)
                down = False
            for source in sources:
                for request in self._requests(source):
                    yield request
            if idle_exit and not waiting and self._engine_idle():
                idle_since = idle_since if idle_since is not None else time.monotonic()
                if time.monotonic() - idle_since >= idle_exit:
                    logger.info("frontier idle for %.1f s: stopping", idle_exit)
                    return
            else:
                idle_since = None
            if not sources:
                await asyncio.sleep(POLL_S)

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Run as ``scrapy crawl worker -s AGGREGATOR_FRONTIER=...`` (how Scrapyd runs it), the
        spider points Scrapy's scheduler at the frontier itself."""
        super().update_settings(settings)
        if settings.get("AGGREGATOR_FRONTIER"):
            use_frontier(settings)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WorkerSpider:
        spider: WorkerSpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        return spider
