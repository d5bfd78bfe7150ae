"""RSS and Atom feeds: read the feed, follow each entry to its page.

``scrapy crawl feed -a url=https://publisher.example/rss.xml``
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from aggregator.errors import SourceError
from aggregator.feeds import parse_feed
from spiders.common import ArticlePages, Found, SourceRef, StandaloneSpider, header

logger = logging.getLogger(__name__)


class FeedMixin(ArticlePages):
    def feed_request(self, source: SourceRef) -> Request:
        return Request(source.url, callback=self.parse_feed, errback=self.source_failed,
                       headers=source.conditional_headers(), dont_filter=True,
                       cb_kwargs={"source": source}, meta={"handle_httpstatus_list": [304]})

    def source_ok(self, source: SourceRef, response: Response) -> None:
        """Hook: the source document was read (the sources spider records it)."""

    def source_error(self, source: SourceRef, message: str) -> None:
        logger.error("source %s failed: %s", source.name or source.url, message)
        self._stat("aggregator/source_errors")

    def source_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        self.source_error(request.cb_kwargs["source"], self.describe_failure(failure))

    def parse_feed(self, response: Response, source: SourceRef) -> Iterator[Request]:
        if response.status == 304:
            self._stat("aggregator/not_modified")
            self.source_ok(source, response)
            return
        content_type = header(response, "Content-Type") or None
        try:
            feed = parse_feed(response.body, response.url, content_type=content_type)
        except SourceError as exc:
            self.source_error(source, exc.reason)
            return
        self.source_ok(source, response)
        self._stat("aggregator/feed_entries", len(feed.entries))
        yield from self.article_requests(Found(url=entry.link, source=source, entry=entry) for entry in feed.entries)


class FeedSpider(StandaloneSpider, FeedMixin):
    name = "feed"
    source_kind = "feed"

    def requests_for(self, source: SourceRef) -> list[Request]:
        return [self.feed_request(source)]
