"""``aggregator status``: recent runs, failing sources, what falls due next, the scheduler's lock.

Gathered here from the store into one record, so that the CLI only renders it (a table, or JSON
for monitoring).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aggregator.model import isoformat

if TYPE_CHECKING:
    from aggregator.store import RunInfo, SourceInfo, Store
    from aggregator.store.records import LockHolder

#: How many upcoming sources the status lists.
NEXT_DUE_SHOWN = 10


@dataclass(frozen=True)
class Status:
    scheduler: LockHolder | None
    runs: list[RunInfo]
    #: Sources whose last crawl failed, and disabled ones.
    failing: list[SourceInfo]
    #: Enabled sources by next due time, soonest first.
    next_due: list[SourceInfo]
    articles: int

    def to_dict(self) -> dict[str, Any]:
        held = self.scheduler
        return {
            "scheduler": {
                "owner": held.owner,
                "heartbeat_at": isoformat(held.heartbeat_at),
                "running": held.live,
            }
            if held
            else None,
            "runs": [r.to_dict() for r in self.runs],
            "failing": [
                {
                    "name": s.name,
                    "url": s.url,
                    "last_error": s.last_error,
                    "errors": s.error_count,
                    "enabled": s.enabled,
                }
                for s in self.failing
            ],
            "next_due": [{"name": s.name, "next_due_at": isoformat(s.next_due_at)} for s in self.next_due],
            "articles": self.articles,
        }


def gather_status(store: Store, *, runs: int, lock: str) -> Status:
    """The status of the database behind ``store``; ``lock`` is the scheduler's lock name."""
    infos = store.list_sources()
    upcoming: list[tuple[datetime, SourceInfo]] = [
        (s.next_due_at, s) for s in infos if s.enabled and s.next_due_at is not None
    ]
    upcoming.sort(key=lambda pair: pair[0])
    return Status(
        scheduler=store.lock_holder(lock),
        runs=store.recent_runs(runs),
        failing=[s for s in infos if s.error_count or not s.enabled],
        next_due=[s for _, s in upcoming[:NEXT_DUE_SHOWN]],
        articles=store.count_articles(),
    )
