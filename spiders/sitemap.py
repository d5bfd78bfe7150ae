"""Sitemaps and sitemap indexes: follow every article URL they list.

``scrapy crawl sitemap -a url=https://publisher.example/sitemap.xml``
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from scrapy import Request
from scrapy.http import Response

from aggregator.errors import SourceError
from aggregator.model import SourceKind, SourceRef
from aggregator.outcomes import Skip
from aggregator.sitemaps import SitemapKind, parse_sitemap
from spiders.common import Found, StandaloneSpider
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
        return Request(
            url or source.url,
            callback=self.parse_sitemap,
            errback=self.source_failed,
            dont_filter=top,
            headers=source.conditional_headers() if top else {},
            meta={"handle_httpstatus_list": [304]} if top else {},
            cb_kwargs={"source": source, "depth": depth},
        )

    def parse_sitemap(self, response: Response, source: SourceRef, depth: int) -> Iterator[Request]:
        if response.status == 304:
            self.source_read(source, response)
            return
        try:
            sitemap = parse_sitemap(response.body, response.url)
        except SourceError as exc:
            self.source_unreadable(source, response.url, exc.reason, top=depth == 0)
            return
        if depth == 0:
            self.source_read(source, response)
        if sitemap.kind == SitemapKind.INDEX:
            if depth >= MAX_SITEMAP_DEPTH:
                # An index of indexes this deep is a trap (a calendar that links next month
                # forever), not a publisher's archive.
                reason = f"sitemap indexes nested more than {MAX_SITEMAP_DEPTH} deep"
                self.session.document_skipped(source, response.url, reason)
                return
            for entry in sitemap.entries:
                if changed_since(entry.lastmod, source.last_success):
                    yield self.sitemap_request(source, response.urljoin(entry.loc), depth + 1)
            return
        found = []
        for entry in sitemap.entries:
            if not changed_since(entry.lastmod, source.last_success):
                self.session.skipped(Skip.UNCHANGED_IN_SITEMAP)
                continue
            found.append(Found(url=response.urljoin(entry.loc), source=source, extra_tags=entry.keywords))
        yield from self.article_requests(found)


class SitemapSpider(StandaloneSpider, SitemapMixin):
    name = "sitemap"
    source_kind = SourceKind.SITEMAP

    def requests_for(self, source: SourceRef) -> list[Request]:
        return [self.sitemap_request(source)]
