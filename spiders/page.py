"""One-off pages: ``scrapy crawl page -a url=https://...`` (``aggregator fetch`` runs it)."""

from __future__ import annotations

from scrapy import Request

from aggregator.model import SourceRef
from spiders.common import ArticlePages, Found, StandaloneSpider


class PageMixin(ArticlePages):
    def page_requests(self, source: SourceRef) -> list[Request]:
        requests = list(self.article_requests([Found(url=source.url, source=source)]))
        for request in requests:
            request.dont_filter = True
        return requests


class PageSpider(StandaloneSpider, PageMixin):
    name = "page"
    #: A one-off fetch shows what a page is even when it is not an article.
    keep_non_articles = True

    def requests_for(self, source: SourceRef) -> list[Request]:
        return self.page_requests(source)
