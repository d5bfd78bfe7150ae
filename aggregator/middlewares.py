"""Scrapy downloader middlewares: the SSRF guard (aggregator.netguard) on every request, and
robots.txt as RFC 9309 reads it (an unreadable robots.txt allows nothing, for now).

Scrapy glue, beside ``pipelines``: the check itself is core code; this only applies it to each
request before it is downloaded, redirects included (each hop comes back through here), and
ahead of robots.txt (a blocked page gets no robots.txt request either).
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from aggregator.errors import BlockedURL
from aggregator.netguard import Guard

logger = logging.getLogger(__name__)


class BlockedRequest(Exception):  # the name the failure's reason shows
    """A request the guard refused; its message is the reason the source's health shows. Not an
    IgnoreRequest: the spiders take that for robots.txt's "do not fetch", a skip, not a failure."""

    def __init__(self, blocked: BlockedURL) -> None:
        super().__init__(str(blocked))
        self.blocked = blocked


class PrivateAddressGuard:
    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressGuard:
        guard = Guard.from_env()
        if crawler.settings.getbool("AGGREGATOR_ALLOW_PRIVATE"):
            guard.allow_private = True
        return cls(guard)

    def process_request(self, request: Request) -> None:
        try:
            self.guard.check(request.url)
        except BlockedURL as exc:
            raise BlockedRequest(exc) from None


class RobotsUnreachable(Exception):  # the name the failure's reason shows
    """A host's robots.txt could not be read (a server error or a network failure): RFC 9309
    (2.3.1.4) says to assume a complete disallow, so the request is not sent. Not an
    IgnoreRequest: the page is not forbidden, it could not be fetched, a page error like a 503
    of its own (on its source's health, and fetched again when its feed or sitemap lists it
    again), never a skip."""

    def __init__(self, netloc: str, reason: str) -> None:
        super().__init__(f"robots.txt of {netloc} could not be read ({reason}); not fetching until it can be")
        self.netloc = netloc
        self.reason = reason


@dataclass(frozen=True)
class _Unreachable:
    """What stands in a host's parser slot after its robots.txt could not be read: the reason,
    until when, and the download's exception when the host did not answer at all."""

    reason: str
    until: float
    error: Exception | None = None


class RobotsTxt(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, except when the file cannot be read.

    Scrapy allows everything when the robots.txt download fails or answers 5xx (it parses the
    error page as rules, and an error page has none), for the whole crawl. RFC 9309 asks for a
    complete disallow instead while robots.txt is unreachable; 4xx still means no rules. The
    failure is remembered for ``AGGREGATOR_ROBOTS_RETRY_AFTER`` seconds, then robots.txt is asked
    again. Rules read are kept ``AGGREGATOR_ROBOTS_MAX_AGE`` seconds (RFC 9309: no longer than a
    day), not for the life of the process, which for a worker is months. And every request that
    waits for a robots.txt gets its rules (see robot_parser).
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._retry_after = crawler.settings.getfloat("AGGREGATOR_ROBOTS_RETRY_AFTER", 300.0)
        self._max_age = crawler.settings.getfloat("AGGREGATOR_ROBOTS_MAX_AGE", 86400.0)
        self._read_at: dict[str, float] = {}

    async def robot_parser(self, request: Request) -> Any:
        netloc = urlparse_cached(request).netloc
        entry = self._parsers.get(netloc)
        now = time.monotonic()
        if isinstance(entry, _Unreachable):
            if now >= entry.until:
                del self._parsers[netloc]
        elif isinstance(entry, Deferred):
            # robots.txt is on its way. Scrapy (2.13+) awaits this shared Deferred itself, and
            # awaiting one hands its result to the first waiter and leaves None for the next:
            # every other request waiting for the file was let through, forbidden or not (a
            # three-worker test stored a disallowed page). Each waiter gets a Deferred of its own.
            own: Deferred[Any] = Deferred()

            def handed_on(result: Any) -> Any:
                own.callback(result)
                return result

            entry.addCallback(handed_on)
            return await maybe_deferred_to_future(own)
        elif netloc in self._parsers and now - self._read_at.get(netloc, now) >= self._max_age:
            del self._parsers[netloc]
        if netloc not in self._parsers:
            self._read_at[netloc] = now  # Scrapy's robot_parser asks for the file now
        return await super().robot_parser(request)

    def process_request_2(self, rp: Any, request: Request) -> None:
        if isinstance(rp, _Unreachable):
            self._stats.inc_value("robotstxt/unreachable_refused")
            if rp.error is not None:
                # The host did not answer robots.txt (refused, timed out, reset): the page's
                # failure is that, in the words a failed page download would have used.
                raise copy.copy(rp.error) from rp.error.__cause__
            raise RobotsUnreachable(urlparse_cached(request).netloc, rp.reason)
        super().process_request_2(rp, request)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status < 500:
            await super()._parse_robots(response, netloc, request)
            return
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        self._unreachable(netloc, f"HTTP {response.status}")

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, IgnoreRequest | BlockedRequest):
            # Refused on purpose (too many redirects, a redirect the SSRF guard blocks): that is
            # no robots.txt, as a 4xx is, not an unreachable one; the page has its own checks.
            super()._robots_error(exc, netloc)
            return
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        message = str(exc).strip().rstrip(".")
        self._unreachable(netloc, f"{type(exc).__name__}: {message}" if message else type(exc).__name__, exc)

    def _unreachable(self, netloc: str, reason: str, error: Exception | None = None) -> None:
        # Each page it holds back is a page error that says why; this is the detail.
        logger.info("robots.txt of %s could not be read (%s): not fetching from it for now", netloc, reason)
        waiting = self._parsers[netloc]
        entry = _Unreachable(reason, time.monotonic() + self._retry_after, error)
        self._parsers[netloc] = entry  # type: ignore[assignment]
        if isinstance(waiting, Deferred):
            waiting.callback(entry)  # type: ignore[arg-type]
