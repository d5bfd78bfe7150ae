"""scrapy-redis's scheduler and dupefilter, as the shared frontier uses them (issue #14).

Settings (aggregator.crawl.frontier_settings sets them from AGGREGATOR_FRONTIER) point Scrapy's
SCHEDULER and DUPEFILTER_CLASS here. Two small subclasses, no fork:

- :class:`CanonicalDupeFilter`: the seen filter's key of a page is the SHA-1 of its canonical URL
  (aggregator.frontier.page_fingerprint), so tracking-parameter variants are one request, and
  a page dropped as already seen no longer counts as pending for the source that listed it
  (the source that got there first finishes it).
- :class:`FrontierScheduler`: a Redis that goes away is one clear log line, not a traceback per
  request; the crawl waits for it and goes on when it is back (what was lost meanwhile is
  pending in the ledger and fetched again when the source's lease runs out).
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy import Request, Spider
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from aggregator.frontier import PageTicket, page_fingerprint, redis_errors

logger = logging.getLogger(__name__)
REDIS_ERRORS = redis_errors()


class CanonicalDupeFilter(RFPDupeFilter):  # type: ignore[misc]  # scrapy-redis is untyped
    """scrapy-redis's Redis seen filter, keyed by canonical URL."""

    spider: Spider | None = None

    @classmethod
    def from_spider(cls, spider: Spider) -> Self:
        dupefilter: Self = super().from_spider(spider)
        dupefilter.spider = spider
        return dupefilter

    def request_fingerprint(self, request: Request) -> str:
        if request.method != "GET" or request.body:
            return str(super().request_fingerprint(request))
        return page_fingerprint(request.url)

    def request_seen(self, request: Request) -> bool:
        seen = bool(super().request_seen(request))
        ticket = request.meta.get("frontier")
        session = getattr(self.spider, "session", None)
        if seen and isinstance(ticket, PageTicket) and session is not None:
            # Another source's request has this page: it is not pending for this one. The seen
            # entry stays (it is the other request's).
            session.page_finished(ticket, forget=False)
        return seen


class FrontierScheduler(Scheduler):  # type: ignore[misc]  # scrapy-redis is untyped
    """scrapy-redis's scheduler, riding out a Redis that restarts."""

    _down = False
    _stats: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        scheduler: Self = super().from_crawler(crawler)
        # scrapy-redis passes ``spider=`` to the stats, which Scrapy 2.13+ deprecates (a warning
        # on every run): the counts are kept here instead.
        scheduler._stats, scheduler.stats = scheduler.stats, None
        return scheduler

    def _count(self, key: str) -> None:
        if self._stats is not None:
            self._stats.inc_value(key)

    def _unreachable(self, what: str, exc: Exception) -> None:
        if not self._down:
            logger.error("frontier unreachable (%s): %s; waiting for it", what, exc)
        self._down = True

    def _back(self) -> None:
        if self._down:
            logger.warning("frontier reachable again")
        self._down = False

    def enqueue_request(self, request: Request) -> bool:
        try:
            added = bool(super().enqueue_request(request))
        except REDIS_ERRORS as exc:
            self._unreachable("enqueue", exc)
            return False
        self._back()
        if added:
            self._count("scheduler/enqueued/redis")
        return added

    def next_request(self) -> Request | None:
        try:
            request: Request | None = super().next_request()
        except REDIS_ERRORS as exc:
            self._unreachable("next request", exc)
            return None
        self._back()
        if request is not None:
            self._count("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self) -> bool:
        try:
            return bool(super().has_pending_requests())
        except REDIS_ERRORS as exc:
            self._unreachable("queue length", exc)
            return False

    def open(self, spider: Spider) -> Any:
        try:
            return super().open(spider)
        except REDIS_ERRORS as exc:
            self._unreachable("open", exc)
            return None
