"""RSS, Atom and JSON feeds: read the feed, follow each entry to its page.

``scrapy crawl feed -a url=https://publisher.example/rss.xml``
"""

from __future__ import annotations

from collections.abc import Iterator

from scrapy import Request
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from aggregator.errors import SourceError
from aggregator.feeds import parse_feed
from aggregator.model import SourceKind, SourceRef
from aggregator.outcomes import Failed, Fetched, Gone, Moved, NotModified, SourceOutcome
from spiders.common import (
    ArticlePages,
    Found,
    StandaloneSpider,
    describe_failure,
    failed_request,
    frontier_ticket,
    header,
    transient_failure,
)

#: Statuses whose Retry-After a source's next crawl honours.
_THROTTLED = (429, 503)


class SourceDocuments(ArticlePages):
    """Reading a source's own documents, and telling the session how each went."""

    def source_read(self, source: SourceRef, response: Response) -> None:
        """The source's document was read (200) or had not changed (304)."""
        outcome: SourceOutcome
        if response.status == 304:
            outcome = NotModified()
        else:
            etag, last_modified = header(response, "ETag") or None, header(response, "Last-Modified") or None
            # A permanent redirect: crawl the new address from now on.
            moved = set(response.meta.get("redirect_reasons", [])) & {301, 308}
            outcome = Moved(response.url, etag, last_modified) if moved else Fetched(etag, last_modified)
        self.session.source_finished(source, outcome)

    def source_unreadable(self, source: SourceRef, url: str, reason: str, *, top: bool = True) -> None:
        """A document of the source is not what it should be (not a feed, a broken sitemap)."""
        if top:
            self.session.source_finished(source, Failed(reason))
        else:
            self.session.document_failed(source, url, reason)

    def source_failed(self, failure: Failure) -> None:
        """A source document could not be downloaded."""
        request = failed_request(failure)
        source: SourceRef = request.cb_kwargs["source"]
        reason = describe_failure(failure)
        if request.cb_kwargs.get("depth", 0) > 0:
            self.session.document_failed(source, request.url, reason, transient=transient_failure(failure))
            self.session.page_finished(frontier_ticket(request), forget=False)
            return
        outcome: SourceOutcome = Failed(reason)
        if isinstance(failure.value, HttpError):
            response = failure.value.response
            if response.status == 410:
                outcome = Gone(f"{reason}: the publisher removed it")
            elif response.status in _THROTTLED:
                retry_after = header(response, "Retry-After")
                outcome = Failed(reason, int(retry_after) if retry_after.isdigit() else None)
        self.session.source_finished(source, outcome)


class FeedMixin(SourceDocuments):
    def feed_request(self, source: SourceRef) -> Request:
        return Request(
            source.url,
            callback=self.parse_feed,
            errback=self.source_failed,
            headers=source.conditional_headers(),
            dont_filter=True,
            cb_kwargs={"source": source},
            meta={"handle_httpstatus_list": [304]},
        )

    def parse_feed(self, response: Response, source: SourceRef) -> Iterator[Request]:
        if response.status == 304:
            self.source_read(source, response)
            return
        content_type = header(response, "Content-Type") or None
        try:
            feed = parse_feed(response.body, response.url, content_type=content_type)
        except SourceError as exc:
            self.source_unreadable(source, response.url, exc.reason)
            return
        self.session.entries_listed(len(feed.entries))
        # Claimed (with a shared frontier) before the source counts as read: see aggregator.frontier.
        requests = list(
            self.article_requests(Found(url=entry.link, source=source, entry=entry) for entry in feed.entries)
        )
        self.source_read(source, response)
        yield from requests


class FeedSpider(StandaloneSpider, FeedMixin):
    name = "feed"
    source_kind = SourceKind.FEED

    def requests_for(self, source: SourceRef) -> list[Request]:
        return [self.feed_request(source)]
