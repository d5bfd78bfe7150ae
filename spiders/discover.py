"""Work out what a URL is and what feeds and sitemaps its site offers (``aggregator sources add``).

Yields one record per finding (aggregator.discover): a Discovered source, a BrokenFeed the page
announces but that cannot be read, or DiscoveryFailed when the URL itself cannot be fetched.
Everything is downloaded by Scrapy, robots.txt included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response
from twisted.python.failure import Failure

from aggregator.discover import (
    COMMON_FEED_PATHS,
    COMMON_SITEMAP_PATHS,
    BrokenFeed,
    Discovered,
    Discovery,
    DiscoveryFailed,
    DocumentKind,
    classify_document,
    feed_links,
    site_root,
    sitemaps_from_robots,
)
from aggregator.errors import SourceError
from aggregator.feeds import parse_feed
from aggregator.model import SourceKind
from spiders.common import describe_failure, failed_request, header


class DiscoverSpider(Spider):
    name = "discover"
    custom_settings = {"ITEM_PIPELINES": {}, "RETRY_TIMES": 1}  # noqa: RUF012 - Scrapy's documented form

    def __init__(self, url: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.seen: set[str] = set()

    async def start(self) -> AsyncIterator[Any]:
        yield Request(self.url, callback=self.parse_start, errback=self.failed, dont_filter=True)

    def failed(self, failure: Failure) -> Iterator[Discovery]:
        """The start URL failing is reported, and so is a feed the page announced; a missing
        candidate at a common path is not."""
        request = failed_request(failure)
        if request.url == self.url:
            yield DiscoveryFailed(self.url, describe_failure(failure))
        elif request.meta.get("announced"):
            yield BrokenFeed(request.url, describe_failure(failure))

    def _found(self, kind: SourceKind, url: str, title: str = "") -> Iterator[Discovered]:
        if url not in self.seen:
            self.seen.add(url)
            yield Discovered(kind, url, title)

    def parse_start(self, response: Response) -> Iterator[Any]:
        content_type = header(response, "Content-Type") or None
        kind = classify_document(response.body, response.url, content_type)
        if kind.source_kind is not None:
            yield from self._found(kind.source_kind, response.url, self._title(response, kind.source_kind))
            return
        links = feed_links(response.body, response.url, content_type) if kind == DocumentKind.HTML else []
        root = site_root(response.url)
        candidates = links or [root + p for p in COMMON_FEED_PATHS]
        for url in candidates:
            yield Request(
                url,
                callback=self.parse_candidate,
                errback=self.failed,
                cb_kwargs={"expect": SourceKind.FEED},
                meta={"announced": bool(links)},
            )
        yield Request(
            root + "/robots.txt",
            callback=self.parse_robots,
            errback=self.failed,
            dont_filter=True,
            meta={"dont_obey_robotstxt": True},
        )

    def parse_robots(self, response: Response) -> Iterator[Request]:
        listed = sitemaps_from_robots(response.text, response.url) if response.status == 200 else []
        root = site_root(response.url)
        for url in listed or [root + p for p in COMMON_SITEMAP_PATHS]:
            yield Request(
                url,
                callback=self.parse_candidate,
                errback=self.failed,
                cb_kwargs={"expect": SourceKind.SITEMAP},
            )

    def parse_candidate(self, response: Response, expect: SourceKind) -> Iterator[Discovery]:
        content_type = header(response, "Content-Type") or None
        kind = classify_document(response.body, response.url, content_type)
        if kind.source_kind == expect:
            yield from self._found(expect, response.url, self._title(response, expect))
        elif response.meta.get("announced"):
            try:
                parse_feed(response.body, response.url, content_type=content_type)
                reason = f"it is {kind}, not a feed"
            except SourceError as exc:
                reason = exc.reason
            yield BrokenFeed(response.url, reason)

    @staticmethod
    def _title(response: Response, kind: SourceKind) -> str:
        if kind != SourceKind.FEED:
            return ""
        try:
            return parse_feed(response.body, response.url).title
        except SourceError:
            return ""
