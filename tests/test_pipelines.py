"""The pipelines built from a crawler, writing to a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy import Spider
from scrapy.exceptions import DropItem
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from aggregator.model import LISTING, Article
from aggregator.pipelines import BatchWriter, DedupePipeline, NormalizePipeline, StorePipeline
from aggregator.store import BatchResult, Store


@pytest.mark.parametrize("writer_process", [True, False], ids=["writer-process", "inline"])
def test_normalize_dedupe_store(db_url: str, writer_process: bool) -> None:
    crawler = get_crawler(Spider, {"AGGREGATOR_DB": db_url, "AGGREGATOR_BATCH_SIZE": 2,
                                   "AGGREGATOR_STORE_WORKER": writer_process})
    normalize = NormalizePipeline()
    dedupe = build_from_crawler(DedupePipeline, crawler)
    store = build_from_crawler(StorePipeline, crawler)

    def run(item: Article) -> Article:
        return asyncio.run(store.process_item(dedupe.process_item(normalize.process_item(item))))

    run(Article(url="https://p.example/a?utm_source=x", text="Same words here.", title="A"))
    with pytest.raises(DropItem, match="unchanged"):
        run(Article(url="https://p.example/a", text="Same  words here.", title="A again"))
    with pytest.raises(DropItem, match="alias"):
        run(Article(url="https://mirror.example/a", text="Same words here.", title="Copy"))
    with pytest.raises(DropItem, match="not an article"):
        run(Article(url="https://p.example/", text="Teasers", page_type=LISTING))
    run(Article(url="https://p.example/b", text="Other words.", title="B"))  # batch of 2 flushes here
    writer = BatchWriter.for_crawler(crawler)
    assert writer.counts["duplicates"] == 2
    writer.close()  # waits for the writer process
    assert writer.counts["new"] == 2
    assert writer.failed == 0
    rows = list(Store(db_url).iter_articles())
    assert [(a.canonical_url, aliases) for a, aliases in rows] == [
        ("https://p.example/a", ["https://mirror.example/a"]), ("https://p.example/b", [])]


def test_a_batch_that_cannot_be_written_marks_no_source_done(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'news.db'}"
    store = Store(db_url)
    store.add_source("wire", "feed", "https://p.example/feed.xml", now=datetime.now(UTC))
    crawler = get_crawler(Spider, {"AGGREGATOR_DB": db_url, "AGGREGATOR_BATCH_SIZE": 1})
    writer = BatchWriter.for_crawler(crawler)
    writer.source_ok("wire", '"v1"', None, None)
    with sqlite3.connect(tmp_path / "news.db") as conn:  # a damaged database: every write fails
        conn.execute("DROP TABLE change_log")
    writer.add(NormalizePipeline().process_item(Article(url="https://p.example/a", text="Words.")))
    writer.close()
    assert writer.failed == 1
    assert writer.counts["new"] == 0
    [source] = Store(db_url).list_sources()
    assert source.etag is None
    assert source.last_success_at is None


def test_a_page_whose_worker_died_marks_no_source_done(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'news.db'}"
    Store(db_url).add_source("wire", "feed", "https://p.example/feed.xml", now=datetime.now(UTC))
    crawler = get_crawler(Spider, {"AGGREGATOR_DB": db_url, "AGGREGATOR_STORE_WORKER": False})
    crawler.stats.open_spider()  # type: ignore[union-attr,call-arg]
    writer = BatchWriter.for_crawler(crawler)
    writer.source_ok("wire", '"v1"', None, None)
    writer.add(NormalizePipeline().process_item(Article(url="https://p.example/a", text="Words.")))
    crawler.stats.inc_value("aggregator/worker_crashes")  # type: ignore[union-attr]
    writer.close()
    assert writer.counts["new"] == 1  # what was extracted is stored
    [source] = Store(db_url).list_sources()
    assert source.etag is None  # but the feed is read again next time, for the page that was not


def test_batches_grow_while_the_writer_is_busy(db_url: str) -> None:
    crawler = get_crawler(Spider, {"AGGREGATOR_DB": db_url, "AGGREGATOR_BATCH_SIZE": 2,
                                   "AGGREGATOR_STORE_WORKER": False})
    writer = BatchWriter.for_crawler(crawler)
    busy: Future[BatchResult] = Future()  # a batch the writer has not finished
    writer._pending.append((busy, []))

    def add(n: int) -> None:
        writer.add(NormalizePipeline().process_item(Article(url=f"https://p.example/{n}", text=f"Story {n}.")))

    for n in range(9):
        add(n)
    assert Store(db_url).count_articles() == 0  # held: 9 < 2 x MAX_GROWTH
    add(9)
    assert Store(db_url).count_articles() == 10  # grown to its limit: written anyway
    busy.set_result(BatchResult())
    add(10)
    add(11)
    assert Store(db_url).count_articles() == 12  # the writer is idle again: batches of 2
    writer.close()
