"""Crawl the sources stored in the database, whatever their kind (``aggregator crawl`` runs it).

One spider for all kinds means one scheduler, one duplicate filter and one dedupe memory for the
whole crawl, so an article listed by both a feed and a sitemap is fetched and stored once. The
sources and the session come from the crawl runner (aggregator.crawl); the spider only reports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy import Request

from aggregator.model import SourceKind, SourceRef
from aggregator.outcomes import Fetched
from spiders.feed import FeedMixin
from spiders.page import PageMixin
from spiders.sitemap import SitemapMixin


class SourcesSpider(FeedMixin, SitemapMixin, PageMixin):
    name = "sources"

    def __init__(self, sources: Iterable[SourceRef] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_sources = list(sources)

    def known_urls(self, urls: list[str]) -> set[str]:
        return self.session.stored_urls(urls)

    async def start(self) -> AsyncIterator[Any]:
        self.session.begin()
        for source in self.start_sources:
            for request in self._requests(source):
                yield request

    def _requests(self, source: SourceRef) -> list[Request]:
        if source.kind == SourceKind.FEED:
            return [self.feed_request(source)]
        if source.kind == SourceKind.SITEMAP:
            return [self.sitemap_request(source)]
        # A page (or a site's page) is its own document: read once its request is made.
        self.session.source_finished(source, Fetched())
        return self.page_requests(source)
