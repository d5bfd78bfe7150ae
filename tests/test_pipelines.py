"""The pipelines built from a crawler, writing to a real SQLite file."""

from __future__ import annotations

import pytest
from scrapy import Spider
from scrapy.exceptions import DropItem
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from aggregator.model import LISTING, Article
from aggregator.pipelines import BatchWriter, DedupePipeline, NormalizePipeline, StorePipeline
from aggregator.store import Store


def test_normalize_dedupe_store(db_url: str) -> None:
    crawler = get_crawler(Spider, {"AGGREGATOR_DB": db_url, "AGGREGATOR_BATCH_SIZE": 2})
    normalize = NormalizePipeline()
    dedupe = build_from_crawler(DedupePipeline, crawler)
    store = build_from_crawler(StorePipeline, crawler)

    def run(item: Article) -> Article:
        return store.process_item(dedupe.process_item(normalize.process_item(item)))

    run(Article(url="https://p.example/a?utm_source=x", text="Same words here.", title="A"))
    with pytest.raises(DropItem, match="unchanged"):
        run(Article(url="https://p.example/a", text="Same  words here.", title="A again"))
    with pytest.raises(DropItem, match="alias"):
        run(Article(url="https://mirror.example/a", text="Same words here.", title="Copy"))
    with pytest.raises(DropItem, match="not an article"):
        run(Article(url="https://p.example/", text="Teasers", page_type=LISTING))
    run(Article(url="https://p.example/b", text="Other words.", title="B"))  # batch of 2 flushes here
    writer = BatchWriter.for_crawler(crawler)
    assert writer.counts["new"] == 2
    assert writer.counts["duplicates"] == 2
    writer.close()
    rows = list(Store(db_url).iter_articles())
    assert [(a.canonical_url, aliases) for a, aliases in rows] == [
        ("https://p.example/a", ["https://mirror.example/a"]), ("https://p.example/b", [])]
