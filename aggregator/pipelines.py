"""Scrapy item pipelines: thin adapters between Scrapy's items and the crawl session.

normalize -> session. Normalization usually ran already, in the spider's worker pool (the
article carries its story bands then); the session does the rest (dedupe, batches, storage) and
answers each article with an outcome, which decides whether Scrapy sees the item as scraped or
dropped. The session belongs to the spider (``spider.session``: the crawl runner gives it one,
``scrapy crawl`` makes one from the settings).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from aggregator.model import Article
from aggregator.normalize import normalize_article
from aggregator.outcomes import Duplicate, NotArticle
from aggregator.session import CrawlSession

logger = logging.getLogger(__name__)


def session_of(crawler: Crawler) -> CrawlSession:
    """The crawl session of the crawler's spider (our spiders all have one)."""
    session = getattr(crawler.spider, "session", None)
    if not isinstance(session, CrawlSession):
        raise NotConfigured("the aggregator pipelines need a spider with a crawl session (see spiders/)")
    return session


class NormalizePipeline:
    def process_item(self, item: Any) -> Article:
        if not isinstance(item, Article):
            raise DropItem(f"not an Article: {type(item).__name__}")
        if item.story_bands is not None:  # normalized already, in the spider's worker pool
            return item
        return normalize_article(item, now=datetime.now(UTC))


class DuplicateDropped(DropItem):
    """A duplicate the session did not store: carries the outcome, so ``aggregator fetch`` can
    still show the record and say what it duplicates."""

    def __init__(self, outcome: Duplicate) -> None:
        super().__init__(f"duplicate ({outcome.verdict}) of {outcome.of}", log_level="DEBUG")
        self.outcome = outcome


class SessionPipeline:
    """Hands each article to the session; drops duplicates and pages that are not articles."""

    def __init__(self, crawler: Crawler, session: CrawlSession) -> None:
        self.crawler = crawler
        self.session = session
        self._stop_task: asyncio.Future[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SessionPipeline:
        return cls(crawler, session_of(crawler))

    async def process_item(self, item: Article) -> Article:
        outcome = self.session.add_article(item)
        if isinstance(outcome, Duplicate):
            raise DuplicateDropped(outcome)
        if isinstance(outcome, NotArticle):
            raise DropItem(f"{item.url} is a {outcome.page_type} page, not an article", log_level="DEBUG")
        await self.session.room()
        if self.session.failure is not None:
            self._stop()
        return item

    def _stop(self) -> None:
        """Close the crawl: pages fetched from now on could not be stored either."""
        engine = self.crawler.engine
        if engine is not None and engine.running and self._stop_task is None:
            logger.error("stopping the crawl: %s", self.session.failure)
            self._stop_task = asyncio.ensure_future(engine.close_spider_async(reason="storage_error"))

    def close_spider(self) -> None:
        self.session.flush()
