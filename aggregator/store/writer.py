"""Batch writes in a process of their own: the writer process a crawl's session sends batches to.

Writing a batch (dedupe lookups aside) is mostly Python in SQLAlchemy and the driver; in the
crawl's process it would hold the download loop (and its GIL) for every batch. A single writer
process keeps batches in order and commits each in one transaction, as the Store always does.
"""

from __future__ import annotations

from datetime import datetime

from aggregator.model import Article
from aggregator.store import Alias, BatchResult, Store

#: One Store per database for the life of the process (its engine keeps the connection open).
_stores: dict[str, Store] = {}


def write_batch(db_url: str, articles: list[Article], aliases: list[Alias], now: datetime) -> BatchResult:
    """Store.write_batch on this process's own Store of ``db_url``."""
    store = _stores.get(db_url)
    if store is None:
        store = _stores[db_url] = Store(db_url)
    return store.write_batch(articles, aliases, now=now)
