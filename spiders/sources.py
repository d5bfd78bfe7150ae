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
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from aggregator.pipelines import BatchWriter
from spiders.common import SourceRef, header
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

    def known_urls(self, urls: list[str]) -> set[str]:
        return self.writer.store.stored_urls(urls)

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
        # A permanent redirect: crawl the new address from now on.
        moved = response.url if set(response.meta.get("redirect_reasons", [])) & {301, 308} else None
        self.writer.source_ok(source.name, header(response, "ETag") or None,
                              header(response, "Last-Modified") or None, moved)

    def source_error(self, source: SourceRef, message: str) -> None:
        super().source_error(source, message)
        if source.name is not None:
            self.writer.store.record_source_error(source.name, message, now=datetime.now(UTC))

    def source_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        source: SourceRef = request.cb_kwargs["source"]
        if source.name is None or not isinstance(failure.value, HttpError):
            super().source_failed(failure)
            return
        response = failure.value.response
        message = self.describe_failure(failure)
        now = datetime.now(UTC)
        self._stat("aggregator/source_errors")
        if response.status == 410:
            self.logger.error("source %s is gone (410): disabled", source.name)
            self.writer.store.disable_source(source.name, f"{message}: the publisher removed it", now=now)
        elif response.status in (429, 503):
            retry_after = header(response, "Retry-After")
            seconds = int(retry_after) if retry_after.isdigit() else None
            self.logger.warning("source %s: %s (retry after %s s)", source.name, message, seconds)
            self.writer.store.record_source_error(source.name, message, now=now, retry_after=seconds)
        else:
            self.logger.error("source %s failed: %s", source.name, message)
            self.writer.store.record_source_error(source.name, message, now=now)
