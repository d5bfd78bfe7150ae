"""Where a crawl session's batches go: written inline, or by a writer process of their own.

Both honour the :class:`~aggregator.session.BatchSink` contract: batches are written in the order
they are submitted, each in one transaction, and a failure (StorageError, a writer process that
died) arrives through the batch's future, never from ``submit``.
"""

from __future__ import annotations

from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from datetime import datetime

from aggregator.errors import StorageError
from aggregator.model import Article
from aggregator.store import Alias, BatchResult, Store
from aggregator.store.writer import write_batch
from aggregator.workers import start_pool


class InlineSink:
    """Writes each batch at once, in this process (``AGGREGATOR_STORE_WORKER=False``; ``fetch``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def submit(self, articles: list[Article], aliases: list[Alias], now: datetime) -> Future[BatchResult]:
        future: Future[BatchResult] = Future()
        try:
            future.set_result(self.store.write_batch(articles, aliases, now=now))
        except StorageError as exc:
            future.set_exception(exc)
        return future

    def close(self) -> None:
        """Nothing of its own to close: the store is the session's."""


class WriterProcessSink:
    """Sends each batch to a writer process (aggregator.store.writer), which commits them in order.

    The download loop then only pickles the batch; the SQL runs beside it on another core.
    """

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self._writer: ProcessPoolExecutor
        self._writer, _ = start_pool(1, "writer")

    def submit(self, articles: list[Article], aliases: list[Alias], now: datetime) -> Future[BatchResult]:
        try:
            return self._writer.submit(write_batch, self.db_url, articles, aliases, now)
        except (BrokenExecutor, RuntimeError) as exc:  # the writer died, or was shut down
            future: Future[BatchResult] = Future()
            future.set_exception(exc)
            return future

    def close(self) -> None:
        """Wait for the batches in flight, then stop the writer."""
        self._writer.shutdown(wait=True)
