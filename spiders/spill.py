"""Scrapy's scheduler with the crawl's first requests in memory and the rest in its disk queues.

Without a shared frontier a crawl's pending requests wait in Scrapy's disk queues (a JOBDIR of
the crawl's own, aggregator.crawl.use_frontier), so that a 100k-URL sitemap does not hold half a
gigabyte in the crawl process. But every request then paid a pickle, a write and a read: about
2 s of the download process's 12 s in an 800-page crawl (benchmarks/crawl.py), for crawls whose
queue never holds more than a few hundred requests. Here the first AGGREGATOR_MEMORY_QUEUE
requests waiting (2,000: a few MB) stay in memory, as in a plain Scrapy crawl, and only what
waits beyond them goes to disk. Scrapy takes from memory first, then from disk, so a request
with a raised priority (a redirect's target) always waits in memory: it is not left behind
requests of lower priority; among equal priorities the order is Scrapy's, per queue.

The JOBDIR is the crawl's own and removed when it ends (no resuming), so where a request waited
changes nothing but cost. A user's own JOBDIR keeps Scrapy's scheduler (everything on disk).
"""

from __future__ import annotations

from typing import Any, Self

from scrapy import Request
from scrapy.core.scheduler import Scheduler

#: Requests kept in memory before the next ones wait on disk (AGGREGATOR_MEMORY_QUEUE).
IN_MEMORY = 2000


class SpillScheduler(Scheduler):
    """Scheduler whose disk queues take a request only when memory already holds ``in_memory``."""

    in_memory = IN_MEMORY

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        scheduler = super().from_crawler(crawler)
        scheduler.in_memory = crawler.settings.getint("AGGREGATOR_MEMORY_QUEUE", IN_MEMORY)
        return scheduler

    def _dqpush(self, request: Request) -> bool:
        # Scrapy takes from memory first: a request that must not wait behind the others (a
        # redirect, raised by 2; robots.txt) stays there too, whatever memory holds.
        if len(self.mqs) < self.in_memory or request.priority > 0:
            return False  # Scheduler.enqueue_request then pushes it to memory
        return super()._dqpush(request)
