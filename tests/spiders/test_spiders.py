"""Spider callbacks fed hand-built responses: no network, no crawl."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from scrapy.http import HtmlResponse, Request, XmlResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from aggregator.dedupe import story_signature
from aggregator.extract import content_hash
from aggregator.model import Article, SourceKind, SourceRef
from aggregator.outcomes import Failed, Fetched, Gone
from aggregator.session import make_session
from spiders.common import ArticlePages, Found
from spiders.feed import FeedSpider
from spiders.sitemap import SitemapSpider
from tests.conftest import SITE

BASE = "http://127.0.0.1:8000"


def body(path: str) -> bytes:
    return (SITE / path).read_bytes().replace(b"{base}", BASE.encode())


S = TypeVar("S", bound=ArticlePages)


def make(spider_cls: type[S], **kwargs: object) -> S:
    """A spider as Scrapy builds it, extracting inline, with a session that stores nothing."""
    crawler = get_crawler(spider_cls, {"AGGREGATOR_EXTRACT_WORKERS": 0})
    spider = crawler._create_spider(session=make_session(None), **kwargs)
    assert isinstance(spider, spider_cls)
    return spider


def collect(callback: Coroutine[Any, Any, list[Article]]) -> list[Article]:
    """What an async callback returns (it returns a list, see ArticlePages.parse_article)."""
    return asyncio.run(callback)


def test_feed_spider_follows_entries_once_without_tracking() -> None:
    spider = make(FeedSpider, url=f"{BASE}/feeds/rss.xml")
    source = SourceRef(name=None, kind=SourceKind.FEED, url=f"{BASE}/feeds/rss.xml")
    response = XmlResponse(url=source.url, body=body("feeds/rss.xml"), request=Request(source.url))
    requests = list(spider.parse_feed(response, source=source))
    urls = [r.url for r in requests]
    assert len(urls) == 20
    assert f"{BASE}/energy/2026/10/nuclear-uprate-approval.html" in urls
    assert not any("utm_" in u for u in urls)
    assert list(spider.parse_feed(response, source=source)) == []  # same links again: not requested twice
    report = spider.session.close("finished")  # the spider reported; it stored nothing itself
    assert report.sources == {source.url: Fetched()}
    assert (report.feed_entries, report.duplicate_links) == (40, 20)


def test_source_failures_become_outcomes() -> None:
    spider = make(FeedSpider)
    for status, headers in (
        (410, {}),
        (429, {"Retry-After": "7200"}),
        (503, {"Retry-After": "soon"}),
        (500, {}),
    ):
        request = spider.feed_request(SourceRef(name=None, kind=SourceKind.FEED, url=f"{BASE}/{status}.xml"))
        failure = Failure(
            HttpError(HtmlResponse(request.url, status=status, headers=headers, request=request), "")
        )
        failure.request = request  # type: ignore[attr-defined]  # as Scrapy sets it
        spider.source_failed(failure)
    assert spider.session.close("finished").sources == {
        f"{BASE}/410.xml": Gone("HTTP 410 Gone: the publisher removed it"),
        f"{BASE}/429.xml": Failed("HTTP 429 Too Many Requests", retry_after=7200),
        f"{BASE}/503.xml": Failed("HTTP 503 Service Unavailable"),
        f"{BASE}/500.xml": Failed("HTTP 500 Internal Server Error"),
    }


def test_sitemap_spider_index_then_urlset() -> None:
    spider = make(SitemapSpider, url=f"{BASE}/sitemap_index.xml")
    source = SourceRef(name=None, kind=SourceKind.SITEMAP, url=f"{BASE}/sitemap_index.xml")
    index = XmlResponse(url=source.url, body=body("sitemap_index.xml"), request=Request(source.url))
    children = list(spider.parse_sitemap(index, source=source, depth=0))
    assert [r.url for r in children] == [
        f"{BASE}/sitemaps/articles-2026.xml",
        f"{BASE}/sitemaps/articles-archive.xml",
        f"{BASE}/sitemaps/sections.xml",
    ]
    urlset = XmlResponse(url=children[1].url, body=body("sitemaps/articles-archive.xml"))
    pages = list(spider.parse_sitemap(urlset, source=source, depth=1))
    assert [r.url for r in pages] == [f"{BASE}/aerospace/2020/06/japan-space-policy.html"]


def test_article_callback_yields_article_and_skips_listing() -> None:
    spider = make(FeedSpider)
    source = SourceRef(name="wire", kind=SourceKind.FEED, url="x", tags=("Industry",))
    path = "energy/2026/10/hydrogen-pipeline-conversion.html"
    response = HtmlResponse(
        url=f"{BASE}/{path}", body=body(path), headers={"Content-Type": "text/html; charset=utf-8"}
    )
    [article] = collect(spider.parse_article(response, found=Found(url=response.url, source=source)))
    assert isinstance(article, Article)
    assert article.source == "wire"
    assert article.title == "Gas network tests hydrogen in a converted transmission pipeline"
    # The callback yields the record normalized (in the worker pool): source tag folded, fingerprinted.
    assert article.tags[-1] == "industry"
    assert article.tag_origins["industry"] == "source"
    assert article.content_hash == content_hash(article.text)
    assert article.story_bands == story_signature(article.text).bands
    assert len(article.story_bands) == 32  # whole text and lead: 16 bands each
    listing = HtmlResponse(url=f"{BASE}/energy/", body=body("energy/index.html"))
    assert collect(spider.parse_article(listing, found=Found(url=listing.url, source=source))) == []
