"""The pipelines as Scrapy builds them: thin adapters that hand items to the spider's session."""

from __future__ import annotations

import asyncio

import pytest
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.spiders import Spider
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from aggregator.crawl import session_from_settings
from aggregator.model import LISTING, Article
from aggregator.pipelines import NormalizePipeline, SessionPipeline
from aggregator.store import Store
from spiders.feed import FeedSpider


@pytest.mark.parametrize("writer_process", [True, False], ids=["writer-process", "inline"])
def test_normalize_then_session(db_url: str, writer_process: bool) -> None:
    settings = {
        "AGGREGATOR_DB": db_url,
        "AGGREGATOR_BATCH_SIZE": 2,
        "AGGREGATOR_STORE_WORKER": writer_process,
        "AGGREGATOR_EXTRACT_WORKERS": 0,
    }
    crawler = get_crawler(FeedSpider, settings)
    spider = crawler.spider = crawler._create_spider(session=session_from_settings(crawler.settings))
    assert isinstance(spider, FeedSpider)
    normalize = NormalizePipeline()
    session = build_from_crawler(SessionPipeline, crawler)

    def run(item: Article) -> Article:
        return asyncio.run(session.process_item(normalize.process_item(item)))

    run(Article(url="https://p.example/a?utm_source=x", text="Same words here.", title="A"))
    with pytest.raises(DropItem, match="unchanged"):
        run(Article(url="https://p.example/a", text="Same  words here.", title="A again"))
    with pytest.raises(DropItem, match="alias"):
        run(Article(url="https://mirror.example/a", text="Same words here.", title="Copy"))
    with pytest.raises(DropItem, match="not an article"):
        run(Article(url="https://p.example/", text="Teasers", page_type=LISTING))
    run(Article(url="https://p.example/b", text="Other words.", title="B"))  # batch of 2 goes here
    session.close_spider()
    report = spider.session.close("finished")  # waits for the writer process
    assert (report.new, report.duplicates, report.aliases, report.unstored) == (2, 2, 1, 0)
    with Store(db_url) as store:
        assert [(a.canonical_url, aliases) for a, aliases in store.iter_articles()] == [
            ("https://p.example/a", ["https://mirror.example/a"]),
            ("https://p.example/b", []),
        ]


def test_the_session_pipeline_needs_a_spider_with_a_session() -> None:
    crawler = get_crawler(Spider)
    crawler.spider = crawler._create_spider(name="plain")
    with pytest.raises(NotConfigured, match="crawl session"):
        build_from_crawler(SessionPipeline, crawler)
