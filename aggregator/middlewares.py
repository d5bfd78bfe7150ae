"""Scrapy downloader middlewares: the SSRF guard (aggregator.netguard) on every request.

Scrapy glue, beside ``pipelines``: the check itself is core code; this only applies it to each
request before it is downloaded, redirects included (each hop comes back through here), and
ahead of robots.txt (a blocked page gets no robots.txt request either).
"""

from __future__ import annotations

from scrapy import Request
from scrapy.crawler import Crawler

from aggregator.errors import BlockedURL
from aggregator.netguard import Guard


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
