"""Sitemaps and sitemap indexes: follow every article URL they list.

``scrapy crawl sitemap -a url=https://publisher.example/sitemap.xml``
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy.http import Response

from aggregator.errors import FrontierUnavailable, SourceError
from aggregator.frontier import PageTicket, doc_key
from aggregator.model import SourceKind, SourceRef
from aggregator.outcomes import Skip
from aggregator.sitemaps import ParsedSitemap, SitemapKind, parse_sitemap
from spiders.common import Found, StandaloneSpider, frontier_ticket
from spiders.feed import SourceDocuments

#: Sitemap indexes nest; this bounds how deep we follow them.
MAX_SITEMAP_DEPTH = 4


def changed_since(lastmod: datetime | None, last_success: datetime | None) -> bool:
    """Whether a sitemap entry may have changed since the source was last read (unknown: yes)."""
    if lastmod is None or last_success is None:
        return True
    if lastmod.tzinfo is None:
        lastmod = lastmod.replace(tzinfo=UTC)
    return lastmod >= last_success


class SitemapMixin(SourceDocuments):
    def sitemap_request(self, source: SourceRef, url: str | None = None, depth: int = 0) -> Request:
        top = depth == 0
        meta: dict[str, Any] = {"handle_httpstatus_list": [304]} if top else {}
        frontier = self.session.frontier
        child_ticket = frontier is not None and not top and source.name is not None
        if child_ticket:
            # A child sitemap is read again every cycle (the seen filter is for pages), and is
            # pending for its source until its own pages are claimed.
            assert frontier is not None
            ticket = PageTicket(source.key, doc_key(url or source.url))
            try:
                frontier.claim(source.key, [ticket.key])
                meta["frontier"] = ticket
            except FrontierUnavailable as exc:  # the source cannot be done this cycle anyway
                self.session.frontier_failed(exc)
        return Request(
            url or source.url,
            callback=self.parse_sitemap,
            errback=self.source_failed,
            dont_filter=top or child_ticket,
            headers=source.conditional_headers() if top else {},
            meta=meta,
            cb_kwargs={"source": source, "depth": depth},
        )

    def parse_sitemap(self, response: Response, source: SourceRef, depth: int) -> Iterator[Request]:
        """The sitemap's pages (or child sitemaps), lazily: a 100k-URL sitemap is handed to the
        scheduler a chunk at a time. The source counts as read once they were all handed over."""
        if response.status == 304:
            self.source_read(source, response)
            return
        ticket = frontier_ticket(response.request)
        try:
            sitemap = parse_sitemap(response.body, response.url)
        except SourceError as exc:
            self.source_unreadable(source, response.url, exc.reason, top=depth == 0)
            self.session.page_finished(ticket, forget=False)
            return
        if sitemap.kind == SitemapKind.INDEX:
            children = []
            if depth < MAX_SITEMAP_DEPTH:
                children = [
                    self.sitemap_request(source, response.urljoin(entry.loc), depth + 1)
                    for entry in sitemap.entries
                    if changed_since(entry.lastmod, source.last_success)
                ]
            else:
                # An index of indexes this deep is a trap (a calendar that links next month
                # forever), not a publisher's archive.
                reason = f"sitemap indexes nested more than {MAX_SITEMAP_DEPTH} deep"
                self.session.document_skipped(source, response.url, reason)
            if depth == 0:
                self.source_read(source, response)
            self.session.page_finished(ticket, forget=False)
            yield from children
            return
        yield from self.article_requests(self._found(sitemap, response, source))
        if depth == 0:
            self.source_read(source, response)
        self.session.page_finished(ticket, forget=False)

    def _found(self, sitemap: ParsedSitemap, response: Response, source: SourceRef) -> Iterator[Found]:
        for entry in sitemap.entries:
            if not changed_since(entry.lastmod, source.last_success):
                self.session.skipped(Skip.UNCHANGED_IN_SITEMAP)
                continue
            yield Found(url=response.urljoin(entry.loc), source=source, extra_tags=entry.keywords)


class SitemapSpider(StandaloneSpider, SitemapMixin):
    name = "sitemap"
    source_kind = SourceKind.SITEMAP

    def requests_for(self, source: SourceRef) -> list[Request]:
        return [self.sitemap_request(source)]
