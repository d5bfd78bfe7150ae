"""Spider callbacks fed hand-built responses: no network, no crawl."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from scrapy.http import HtmlResponse, Request, XmlResponse
from scrapy.utils.test import get_crawler

from aggregator.dedupe import story_signature
from aggregator.extract import content_hash
from aggregator.model import Article
from spiders.common import Found, SourceRef
from spiders.feed import FeedSpider
from spiders.sitemap import SitemapSpider
from tests.conftest import SITE

BASE = "http://127.0.0.1:8000"


def body(path: str) -> bytes:
    return (SITE / path).read_bytes().replace(b"{base}", BASE.encode())


def make(spider_cls: type, **kwargs: object) -> object:
    crawler = get_crawler(spider_cls, {"AGGREGATOR_EXTRACT_WORKERS": 0})
    return crawler._create_spider(**kwargs)


def collect(callback: Coroutine[Any, Any, list[object]]) -> list[object]:
    """What an async callback returns (it returns a list, see ArticlePages.parse_article)."""
    return asyncio.run(callback)


def test_feed_spider_follows_entries_once_without_tracking() -> None:
    spider = make(FeedSpider, url=f"{BASE}/feeds/rss.xml")
    source = SourceRef(name=None, kind="feed", url=f"{BASE}/feeds/rss.xml")
    response = XmlResponse(url=source.url, body=body("feeds/rss.xml"), request=Request(source.url))
    requests = list(spider.parse_feed(response, source=source))
    urls = [r.url for r in requests]
    assert len(urls) == 20
    assert f"{BASE}/energy/2026/10/nuclear-uprate-approval.html" in urls
    assert not any("utm_" in u for u in urls)
    assert list(spider.parse_feed(response, source=source)) == []  # same links again: not requested twice


def test_sitemap_spider_index_then_urlset() -> None:
    spider = make(SitemapSpider, url=f"{BASE}/sitemap_index.xml")
    source = SourceRef(name=None, kind="sitemap", url=f"{BASE}/sitemap_index.xml")
    index = XmlResponse(url=source.url, body=body("sitemap_index.xml"))
    children = list(spider.parse_sitemap(index, source=source, depth=0))
    assert [r.url for r in children] == [f"{BASE}/sitemaps/articles-2026.xml", f"{BASE}/sitemaps/articles-archive.xml",
                                         f"{BASE}/sitemaps/sections.xml"]
    urlset = XmlResponse(url=children[1].url, body=body("sitemaps/articles-archive.xml"))
    pages = list(spider.parse_sitemap(urlset, source=source, depth=1))
    assert [r.url for r in pages] == [f"{BASE}/aerospace/2020/06/japan-space-policy.html"]


def test_article_callback_yields_article_and_skips_listing() -> None:
    spider = make(FeedSpider)
    source = SourceRef(name="wire", kind="feed", url="x", tags=("Industry",))
    path = "energy/2026/10/hydrogen-pipeline-conversion.html"
    response = HtmlResponse(url=f"{BASE}/{path}", body=body(path), headers={"Content-Type": "text/html; charset=utf-8"})
    [article] = collect(spider.parse_article(response, found=Found(url=response.url, source=source)))
    assert isinstance(article, Article)
    assert article.source == "wire"
    assert article.title == "Gas network tests hydrogen in a converted transmission pipeline"
    # The callback yields the record normalized (in the worker pool): source tag folded, fingerprinted.
    assert article.tags[-1] == "industry"
    assert article.tag_origins["industry"] == "source"
    assert article.content_hash == content_hash(article.text)
    assert article.story_bands == story_signature(article.text).bands
    assert len(article.story_bands) == 84  # whole text and lead: 42 bands each
    listing = HtmlResponse(url=f"{BASE}/energy/", body=body("energy/index.html"))
    assert collect(spider.parse_article(listing, found=Found(url=listing.url, source=source))) == []
