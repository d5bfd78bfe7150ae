"""Storage: every read and write of the database, behind one :class:`Store`.

As reader splits its storage, :class:`Store` is assembled from one mixin per concern, and new
methods go to the mixin of their concern:

- ``sources``  — sources and their crawl state (validators, errors, when due)
- ``articles`` — batch writes (``batch``: the set-based hot path), reads, dedupe lookups
- ``stories``  — clusters of articles that carry the same story
- ``search``   — the full-text index and its queries
- ``changes``  — the change log behind incremental exports, and push cursors
- ``runs`` / ``locks`` — crawl runs, and the scheduler's lock
- ``reading`` — what the reader's web app shows: articles with provenance, stories' copies,
  listings and facet counts, sources' arrivals per day

All SQL lives in this package, and the schema in ``migrations/`` (Alembic). What crosses the
boundary are records (``records``), never ORM rows. Open a store with ``with Store(url) as store:``.
"""

from __future__ import annotations

from aggregator.store.articles import ArticlesMixin
from aggregator.store.changes import ChangesMixin
from aggregator.store.locks import LocksMixin
from aggregator.store.reading import ReadingMixin
from aggregator.store.records import (
    Alias as Alias,
)
from aggregator.store.records import (
    BatchResult as BatchResult,
)
from aggregator.store.records import (
    Change as Change,
)
from aggregator.store.records import (
    ChangeAction as ChangeAction,
)
from aggregator.store.records import (
    RunInfo as RunInfo,
)
from aggregator.store.records import (
    RunTotals as RunTotals,
)
from aggregator.store.records import (
    SourceInfo as SourceInfo,
)
from aggregator.store.records import (
    Story as Story,
)
from aggregator.store.records import (
    doc_id as doc_id,
)
from aggregator.store.runs import RunsMixin
from aggregator.store.search import SearchMixin
from aggregator.store.sources import SourcesMixin
from aggregator.store.stories import StoriesMixin

__all__ = [
    "Alias",
    "BatchResult",
    "Change",
    "ChangeAction",
    "RunInfo",
    "RunTotals",
    "SourceInfo",
    "Store",
    "Story",
    "doc_id",
]


class Store(
    SourcesMixin,
    ArticlesMixin,
    StoriesMixin,
    SearchMixin,
    ChangesMixin,
    RunsMixin,
    LocksMixin,
    ReadingMixin,
):
    """Data access for sources, articles, stories, search, the change log, runs and locks.

    ``Store(url)`` opens (creating and migrating) the database; use it as a context manager, or
    call :meth:`close`. Methods raise the errors of aggregator.errors that name their input
    (SourceNotFound, SourceNameTaken, InvalidQuery...) and StorageError when the database fails.
    """
