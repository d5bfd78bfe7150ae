"""Crawl the sources stored in the database, whatever their kind (``aggregator crawl`` runs it).

One spider for all kinds means one scheduler, one duplicate filter and one dedupe memory for the
whole crawl, so an article listed by both a feed and a sitemap is fetched and stored once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy.http import Response

from aggregator.pipelines import BatchWriter
from spiders.common import SourceRef
from spiders.page import PageMixin
from spiders.sitemap import SitemapMixin


class SourcesSpider(SitemapMixin, PageMixin):
    name = "sources"

    def __init__(self, sources: Iterable[SourceRef] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_sources = list(sources)

    @property
    def writer(self) -> BatchWriter:
        return BatchWriter.for_crawler(self.crawler)

    def is_known(self, url: str) -> bool:
        return self.writer.store.hash_for_url(url) is not None

    async def start(self) -> AsyncIterator[Any]:
        for source in self.start_sources:
            for request in self._requests(source):
                yield request

    def _requests(self, source: SourceRef) -> list[Request]:
        if source.kind == "feed":
            return [self.feed_request(source)]
        if source.kind == "sitemap":
            return [self.sitemap_request(source)]
        return self.page_requests(source)

    def source_ok(self, source: SourceRef, response: Response) -> None:
        if source.name is None:
            return
        etag = response.headers.get("ETag")
        modified = response.headers.get("Last-Modified")
        self.writer.store.record_source_success(
            source.name, now=datetime.now(UTC),
            etag=etag.decode("latin-1") if etag else None,
            last_modified=modified.decode("latin-1") if modified else None,
        )

    def source_error(self, source: SourceRef, message: str) -> None:
        super().source_error(source, message)
        if source.name is not None:
            self.writer.store.record_source_error(source.name, message, now=datetime.now(UTC))
