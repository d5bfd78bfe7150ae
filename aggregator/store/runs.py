"""Crawl runs: one row per crawl, with what it did and why each failed source failed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from aggregator.store.base import StoreBase
from aggregator.store.models import CrawlRun
from aggregator.store.records import RunInfo, RunTotals


class RunsMixin(StoreBase):
    def start_run(self, sources: Iterable[str], *, now: datetime) -> int:
        with self.session() as s:
            run = CrawlRun(
                started_at=now,
                sources=list(sources),
                status="running",
                pages_fetched=0,
                articles_new=0,
                articles_updated=0,
                duplicates=0,
                not_articles=0,
                errors=0,
                failures={},
            )
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, totals: RunTotals, *, status: str, now: datetime) -> None:
        with self.session() as s:
            run = s.get(CrawlRun, run_id)
            if run is None:
                return
            run.finished_at = now
            run.status = status
            run.pages_fetched = totals.pages_fetched
            run.articles_new = totals.new
            run.articles_updated = totals.updated
            run.duplicates = totals.duplicates
            run.not_articles = totals.not_articles
            run.errors = totals.errors
            run.failures = dict(totals.failures)

    def recent_runs(self, limit: int = 10) -> list[RunInfo]:
        """The latest runs, newest first."""
        with self.session() as s:
            runs = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit))
            return [
                RunInfo(
                    id=r.id,
                    started_at=r.started_at,
                    finished_at=r.finished_at,
                    status=r.status,
                    sources=tuple(r.sources),
                    totals=RunTotals(
                        pages_fetched=r.pages_fetched,
                        new=r.articles_new,
                        updated=r.articles_updated,
                        duplicates=r.duplicates,
                        not_articles=r.not_articles,
                        errors=r.errors,
                        failures=dict(r.failures or {}),
                    ),
                )
                for r in runs
            ]
