"""What every spider shares: links to article pages, turning a page into an Article, and
telling the crawl session what happened to each source and page.

Spiders never touch the store: they report to ``self.session`` (aggregator.session), which
decides, counts and records. A spider gets its session from the crawl runner (``aggregator
crawl``), or makes one from the settings (``scrapy crawl NAME``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, ClassVar, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from aggregator.crawl import session_from_settings
from aggregator.errors import FrontierUnavailable
from aggregator.feeds import FeedEntry, article_from_entry
from aggregator.frontier import PageTicket, page_key
from aggregator.ingest import add_tags, prepare_page
from aggregator.model import Article, PageType, SourceKind, SourceRef, Tag, TagOrigin
from aggregator.normalize import canonical_url
from aggregator.outcomes import Skip
from aggregator.session import CrawlSession
from aggregator.workers import ChunkedPool, WorkerCrashed, start_pool

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Found:
    """A link to an article page, with what the listing document said about it."""

    url: str
    source: SourceRef
    entry: FeedEntry | None = None
    extra_tags: list[str] = field(default_factory=list)


def header(response: Response, name: str) -> str:
    """A response header as text ("" when absent)."""
    value = response.headers.get(name)
    return value.decode("latin-1") if value else ""


def describe_failure(failure: Failure) -> str:
    """A one-line reason: "HTTP 404 Not Found" rather than Scrapy's generic message.

    Twisted's connection errors carry a list of Failures as their message, and a truncated body
    carries none; those are named by what happened instead.
    """
    exc = failure.value
    if isinstance(exc, HttpError):
        status = exc.response.status
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        return f"HTTP {status} {phrase}".strip()
    name = type(exc).__name__
    if "DataLoss" in name:
        return f"{name}: the body was shorter than its Content-Length (truncated)"
    # twisted.web's ResponseFailed and its kin carry the reasons, maybe as Scrapy's error's cause.
    cause = (exc.__cause__ or exc.__context__) if exc is not None else None
    reasons = getattr(exc, "reasons", None) or getattr(cause, "reasons", None)
    if isinstance(reasons, list) and reasons:
        causes = ", ".join(type(getattr(r, "value", r)).__name__ for r in reasons)
        return f"{name}: the connection closed before the response was complete ({causes})"
    message = failure.getErrorMessage()
    if not message and "Cancelled" in name:
        # Scrapy cancels without a word when a body without Content-Length grows too large.
        return f"{name}: cut off (the body grew past DOWNLOAD_MAXSIZE, or the crawl stopped)"
    return f"{name}: {message}" if message else name


def forbidden_by_robots(failure: Failure) -> bool:
    """Whether robots.txt refused the request (Scrapy says so only in IgnoreRequest's message)."""
    exc = failure.value
    return (
        isinstance(exc, IgnoreRequest)
        and not isinstance(exc, HttpError)
        and "robots.txt" in failure.getErrorMessage()
    )


#: Answers that mean "not now" rather than "never" (every 5xx too).
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


def transient_failure(failure: Failure) -> bool:
    """Whether a page failed for now and is worth asking for again next cycle: a 5xx, 408, 425
    or 429, a timeout, a refused or dropped connection, a truncated body, an unreadable
    robots.txt. Not a 404 or 403, a redirect loop, or a body cut for its size (Scrapy cancels
    those, and would again every cycle)."""
    exc = failure.value
    if isinstance(exc, HttpError):
        status = exc.response.status
        return status >= 500 or status in _TRANSIENT_STATUSES
    return not isinstance(exc, IgnoreRequest) and "Cancelled" not in type(exc).__name__


def failed_request(failure: Failure) -> Request:
    """The request a download failure is about (Scrapy sets it on the Failure it hands errbacks)."""
    request: Request = failure.request  # type: ignore[attr-defined]  # an attribute Scrapy adds
    return request


def frontier_ticket(request: Request | None) -> PageTicket | None:
    """The shared frontier's ticket a page request carries (None without a frontier)."""
    ticket = request.meta.get("frontier") if request is not None else None
    return ticket if isinstance(ticket, PageTicket) else None


def split_urls(url: str | None, urls: str | list[str] | None) -> list[str]:
    """``-a url=X`` and ``-a urls=X,Y`` from the command line, or a list from Python."""
    found: list[str] = []
    if url:
        found.append(url)
    if isinstance(urls, str):
        found += [u.strip() for u in urls.split(",") if u.strip()]
    elif urls:
        found += list(urls)
    return found


class ArticlePages(Spider):
    """Base for our spiders: fetch article pages and yield their Articles."""

    #: Yield pages that are not articles too (marked by page_type); the pipelines drop them.
    keep_non_articles = False
    session: CrawlSession
    #: Canonical URLs requested in this crawl, so a page listed by both a feed and a sitemap
    #: is fetched once even when the two links differ only in tracking parameters.
    _requested: set[str]

    def __init__(self, *args: Any, session: CrawlSession, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = session
        self._requested = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        if kwargs.get("session") is None:
            kwargs["session"] = session_from_settings(crawler.settings)
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.extraction_pool()  # the workers start while the first listings download
        return spider

    def known_urls(self, urls: list[str]) -> set[str]:
        """Which of these canonical URLs are stored already (those are not downloaded again)."""
        return set()

    #: Links checked against the store in one query (and claimed in the frontier in one call).
    CHUNK = 1000

    def article_requests(self, found: Iterable[Found]) -> Iterator[Request]:
        """Requests for a listing's article links: each page once per crawl, none already stored.

        Lazy, a chunk of links at a time (one stored-URL query each): a 100k-URL sitemap goes to
        the scheduler, and so to its disk queue or Redis, without 100k requests in memory at once.
        With a shared frontier each page is claimed for its source before it is handed over, so
        the source is not done before that page is (aggregator.frontier).
        """
        chunk: dict[str, Found] = {}
        for item in found:
            key = canonical_url(item.url)
            if key in self._requested or key in chunk:
                self.session.skipped(Skip.DUPLICATE_LINK)
                continue
            chunk[key] = item
            if len(chunk) >= self.CHUNK:
                yield from self._chunk_requests(chunk)
                chunk = {}
        if chunk:
            yield from self._chunk_requests(chunk)

    def _chunk_requests(self, fresh: dict[str, Found]) -> list[Request]:
        self._requested.update(fresh)
        known = self.known_urls(list(fresh))
        if known:
            self.session.skipped(Skip.ALREADY_STORED, len(known))
        wanted = {key: item for key, item in fresh.items() if key not in known}
        frontier = self.session.frontier
        tickets: dict[str, PageTicket] = {}
        if frontier is not None:
            for key, item in wanted.items():
                if item.source.name is not None:
                    tickets[key] = PageTicket(item.source.key, page_key(key))
            by_source: dict[str, list[str]] = {}
            for ticket in tickets.values():
                by_source.setdefault(ticket.source, []).append(ticket.key)
            try:
                for source, keys in by_source.items():
                    frontier.claim(source, keys)
            except FrontierUnavailable as exc:
                # Not handed over: the source is not done, and lists them again next cycle.
                self.session.frontier_failed(exc)
                return []
        # dont_filter: the links are deduplicated above, by canonical URL. Scrapy's filter would
        # also drop a redirect back to a URL already requested, so a page in a redirect loop
        # vanished without a word; unfiltered, it fails at REDIRECT_MAX_TIMES like any fault.
        # With a shared frontier the filter is the one thing that keeps two workers from
        # fetching one page twice, so there it stays on.
        return [
            Request(
                key,
                callback=self.parse_article,
                errback=self.article_failed,
                cb_kwargs={"found": item},
                meta={"frontier": tickets[key]} if key in tickets else {},
                dont_filter=frontier is None,
            )
            for key, item in wanted.items()
        ]

    _pages: ChunkedPool[Article] | None = None
    _pool_checked = False
    #: Done when the pool's workers are up (see extraction_pool).
    _pool_ready: Future[None] | None = None

    def extraction_pool(self) -> ChunkedPool[Article] | None:
        """Worker processes that prepare pages (AGGREGATOR_EXTRACT_WORKERS; 0 works inline).

        Extraction is CPU work; done in the callback it would hold Scrapy's download loop while
        it runs. In a pool the loop keeps downloading while pages are extracted on other cores.
        """
        if not self._pool_checked:
            self._pool_checked = True
            workers = self.crawler.settings.getint("AGGREGATOR_EXTRACT_WORKERS", os.cpu_count() or 1)
            if workers > 0:

                def start() -> ProcessPoolExecutor:
                    pool, self._pool_ready = start_pool(workers, "extraction")
                    return pool

                self._pages = ChunkedPool(prepare_page, start)
        return self._pages

    def closed(self, reason: str) -> None:
        """The crawl is over: stop the workers, close the session, show its report as stats."""
        if self._pages is not None:
            self._pages.shutdown()
        report = self.session.close(reason)
        if self.crawler.stats is not None:
            for key, value in report.counts().items():
                self.crawler.stats.set_value(f"aggregator/{key}", value)

    async def prepare(self, response: TextResponse, found: Found) -> Article:
        """The page as a normalized Article (see aggregator.ingest), prepared in the pool."""
        content_type = header(response, "Content-Type") or None
        args = (response.body, response.url)
        kwargs: dict[str, Any] = {
            "content_type": content_type,
            "entry": found.entry,
            "source": found.source.name,
            "tags": self._added_tags(found),
            "now": datetime.now(UTC),
        }
        pages = self.extraction_pool()
        if pages is None:
            return prepare_page(*args, **kwargs)
        if self._pool_ready is not None and not self._pool_ready.done():
            # A worker that died while starting broke the pool: the pool finds out when the page
            # is sent, starts a new one and tries the page again, so only the wait is skipped.
            with contextlib.suppress(BrokenExecutor, OSError, RuntimeError):
                await asyncio.wrap_future(self._pool_ready)
        return await pages.submit(*args, **kwargs)

    async def parse_article(self, response: Response, found: Found) -> list[Article]:
        """The page's Article (or the feed entry's, when the page is not one).

        A coroutine returning a list, not an async generator: Scrapy runs a list through its
        spider middlewares' plain path, which costs a fraction of the asynchronous one.
        """
        self.session.page_fetched()
        ticket = frontier_ticket(response.request)
        if not isinstance(response, TextResponse):
            self.session.not_article(response.url, PageType.NOT_HTML)  # not text: an image, a PDF...
            return list(self._entry_fallback(found, ticket))
        try:
            article = await self.prepare(response, found)
        except WorkerCrashed as exc:
            # Our failure, not the publisher's: no source is marked done, so the page comes again
            # (its frontier ticket stays pending for the same reason).
            self.session.page_failed(response.url, str(exc), retry=True, source=found.source)
            return list(self._entry_fallback(found, None))
        if article.is_article:
            if ticket is not None:
                self.session.expect(article.url, ticket)
            return [article]
        if article.page_type == PageType.NOT_HTML and "html" in (header(response, "Content-Type").lower()):
            # Binary bytes served as HTML: the publisher's fault, shown on the source's health.
            self.session.page_failed(response.url, "served as HTML but is not text", source=found.source)
            return list(self._entry_fallback(found, ticket))
        self.session.not_article(response.url, article.page_type)
        items = [self._finish(article, found)] if self.keep_non_articles and found.entry is None else []
        return items + list(self._entry_fallback(found, ticket))

    def article_failed(self, failure: Failure) -> Iterator[Article]:
        request = failed_request(failure)
        found: Found = request.cb_kwargs["found"]
        ticket = frontier_ticket(request)
        # HttpError subclasses IgnoreRequest: a 404 is a failed page (feed content may stand in),
        # while robots.txt's IgnoreRequest means the page must be neither fetched nor stored.
        # Scrapy raises IgnoreRequest for other things too (a redirect loop, a gzip bomb past
        # DOWNLOAD_MAXSIZE): those are the publisher's faults, failed pages like a 404.
        if forbidden_by_robots(failure):
            logger.info("not fetching %s: %s", request.url, failure.getErrorMessage())
            self.session.skipped(Skip.FORBIDDEN)
            self.session.page_finished(ticket)
            return
        # The URL as listed, not where its redirects led.
        url = request.meta.get("redirect_urls", [request.url])[0]
        self.session.page_failed(
            url, describe_failure(failure), transient=transient_failure(failure), source=found.source
        )
        yield from self._entry_fallback(found, ticket)

    def _entry_fallback(self, found: Found, ticket: PageTicket | None) -> Iterator[Article]:
        """When a feed entry's page cannot be used, the entry's own content is stored if it has
        enough real text to be an article (see aggregator.feeds.article_from_entry), and
        finishes the page's frontier ticket once committed; else the page is finished now."""
        article = article_from_entry(found.entry) if found.entry is not None else None
        if article is None or not article.is_article:
            self.session.page_finished(ticket)
            if article is not None and article.text:
                logger.warning(
                    "skipped the feed entry for %s: no page and no usable text (%d words)",
                    found.url,
                    article.word_count,
                )
            return
        self.session.entry_content_used(found.url)
        finished = self._finish(article, found)
        if ticket is not None:
            self.session.expect(finished.url, ticket)
        yield finished

    @staticmethod
    def _added_tags(found: Found) -> list[Tag]:
        return [Tag(t, TagOrigin.FEED) for t in found.extra_tags] + [
            Tag(t, TagOrigin.SOURCE) for t in found.source.tags
        ]

    def _finish(self, article: Article, found: Found) -> Article:
        return add_tags(article, found.source.name, self._added_tags(found))


class StandaloneSpider(ArticlePages):
    """A spider run on URLs given on the command line: ``scrapy crawl NAME -a url=... [-a source=...]``."""

    #: What the given URLs are.
    source_kind: ClassVar[SourceKind] = SourceKind.PAGE

    def __init__(
        self,
        url: str | None = None,
        urls: str | list[str] | None = None,
        source: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.start_sources = [
            SourceRef(name=source, kind=self.source_kind, url=u) for u in split_urls(url, urls)
        ]

    def requests_for(self, source: SourceRef) -> list[Request]:
        raise NotImplementedError

    async def start(self) -> AsyncIterator[Any]:
        self.session.begin()
        for source in self.start_sources:
            for request in self.requests_for(source):
                yield request
