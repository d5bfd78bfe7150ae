"""Work out what a URL is and what feeds and sitemaps its site offers (``aggregator sources add``).

Yields one dict per source found: {"kind": "feed"|"sitemap"|"page", "url": ..., "title": ...}.
Everything is downloaded by Scrapy, robots.txt included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from aggregator.discover import (
    COMMON_FEED_PATHS,
    COMMON_SITEMAP_PATHS,
    classify_document,
    feed_links,
    site_root,
    sitemaps_from_robots,
)
from aggregator.errors import SourceError
from aggregator.feeds import parse_feed
from spiders.common import header


class DiscoverSpider(Spider):
    name = "discover"
    custom_settings = {"ITEM_PIPELINES": {}, "RETRY_TIMES": 1}  # noqa: RUF012 - Scrapy's documented form

    def __init__(self, url: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.seen: set[str] = set()

    async def start(self) -> AsyncIterator[Any]:
        yield Request(self.url, callback=self.parse_start, errback=self.failed, dont_filter=True)

    def failed(self, failure: Failure) -> Iterator[dict[str, str]]:
        """The start URL failing is reported (as an "error" item); a missing candidate is not."""
        request = failure.request  # type: ignore[attr-defined]
        if request.url == self.url:
            if isinstance(failure.value, HttpError):
                reason = f"HTTP {failure.value.response.status}"
            else:
                reason = f"{type(failure.value).__name__}: {failure.getErrorMessage()}"
            yield {"kind": "error", "url": self.url, "title": reason}

    def _found(self, kind: str, url: str, title: str = "") -> Iterator[dict[str, str]]:
        if url not in self.seen:
            self.seen.add(url)
            yield {"kind": kind, "url": url, "title": title}

    def parse_start(self, response: Response) -> Iterator[Any]:
        content_type = header(response, "Content-Type") or None
        kind = classify_document(response.body, response.url, content_type)
        if kind in ("feed", "sitemap"):
            yield from self._found(kind, response.url, self._title(response, kind))
            return
        links = feed_links(response.body, response.url, content_type) if kind == "html" else []
        root = site_root(response.url)
        candidates = links or [root + p for p in COMMON_FEED_PATHS]
        for url in candidates:
            yield Request(url, callback=self.parse_candidate, errback=self.failed, cb_kwargs={"expect": "feed"})
        yield Request(root + "/robots.txt", callback=self.parse_robots, errback=self.failed, dont_filter=True,
                      meta={"dont_obey_robotstxt": True})

    def parse_robots(self, response: Response) -> Iterator[Request]:
        listed = sitemaps_from_robots(response.text, response.url) if response.status == 200 else []
        root = site_root(response.url)
        for url in listed or [root + p for p in COMMON_SITEMAP_PATHS]:
            yield Request(url, callback=self.parse_candidate, errback=self.failed, cb_kwargs={"expect": "sitemap"})

    def parse_candidate(self, response: Response, expect: str) -> Iterator[dict[str, str]]:
        kind = classify_document(response.body, response.url, header(response, "Content-Type") or None)
        if kind == expect:
            yield from self._found(kind, response.url, self._title(response, kind))

    @staticmethod
    def _title(response: Response, kind: str) -> str:
        if kind != "feed":
            return ""
        try:
            return parse_feed(response.body, response.url).title
        except SourceError:
            return ""
