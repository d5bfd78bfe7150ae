"""One-off pages: ``scrapy crawl page -a url=https://...`` (``aggregator fetch`` runs it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request

from spiders.common import ArticlePages, Found, SourceRef, split_urls


class PageMixin(ArticlePages):
    def page_requests(self, source: SourceRef) -> list[Request]:
        request = self.article_request(Found(url=source.url, source=source))
        if request is None:
            return []
        request.dont_filter = True
        return [request]


class PageSpider(PageMixin):
    name = "page"

    def __init__(self, url: str | None = None, urls: str | list[str] | None = None,
                 source: str | None = None, keep_non_articles: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_sources = [SourceRef(name=source, kind="page", url=u) for u in split_urls(url, urls)]
        # A one-off fetch shows what a page is even when it is not an article.
        self.keep_non_articles = keep_non_articles

    async def start(self) -> AsyncIterator[Any]:
        for source in self.start_sources:
            for request in self.page_requests(source):
                yield request
