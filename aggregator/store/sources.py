"""Sources: what crawls visit, and what the last crawl of each left behind (validators, errors,
when it is due). The due-time maths is aggregator.due's; this module only stores its answers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aggregator.due import next_due, random_jitter
from aggregator.errors import SourceExists, SourceNameTaken, SourceNotFound, UnknownSourceKind
from aggregator.model import SourceKind
from aggregator.store.base import StoreBase
from aggregator.store.models import ArticleRow, ChangeLog, Source
from aggregator.store.records import ChangeAction, SourceInfo, doc_id

DEFAULT_INTERVAL = 3600


def _info(src: Source, article_count: int) -> SourceInfo:
    return SourceInfo(
        name=src.name,
        kind=SourceKind(src.kind),
        url=src.url,
        interval_seconds=src.interval_seconds,
        enabled=src.enabled,
        tags=tuple(src.tags),
        disabled_reason=src.disabled_reason,
        last_success_at=src.last_success_at,
        last_error=src.last_error,
        next_due_at=src.next_due_at,
        article_count=article_count,
        etag=src.etag,
        last_modified=src.last_modified,
        error_count=src.error_count,
        delay=src.delay,
        concurrency=src.concurrency,
        last_error_at=src.last_error_at,
        moved_from=src.moved_from,
        moved_at=src.moved_at,
    )


class SourcesMixin(StoreBase):
    def add_source(
        self,
        name: str,
        kind: str,
        url: str,
        *,
        now: datetime,
        interval_seconds: int = DEFAULT_INTERVAL,
        tags: Iterable[str] = (),
        delay: float | None = None,
        concurrency: int | None = None,
    ) -> SourceInfo:
        """Add a source, due at once. Raises SourceNameTaken or SourceExists (its URL is known)."""
        if kind not in tuple(SourceKind):
            raise UnknownSourceKind(kind, tuple(SourceKind))
        try:
            with self.session() as s:
                if s.scalar(select(Source.id).where(Source.name == name)) is not None:
                    raise SourceNameTaken(name)
                holder = s.scalar(select(Source.name).where(Source.url == url).limit(1))
                if holder is not None:
                    raise SourceExists(url, holder)
                s.add(
                    Source(
                        name=name,
                        kind=str(kind),
                        url=url,
                        interval_seconds=interval_seconds,
                        enabled=True,
                        tags=list(tags),
                        error_count=0,
                        created_at=now,
                        next_due_at=now,
                        delay=delay,
                        concurrency=concurrency,
                    )
                )
        except IntegrityError as exc:
            raise SourceNameTaken(name) from exc
        return self.get_source(name)

    def _source(self, s: Session, name: str, *, for_update: bool = False) -> Source:
        """The source's row; ``for_update`` locks it until the transaction ends, so that two
        workers finishing pages of one source each count their error (or keep their ETag)
        instead of the second writing over the first from what it read before."""
        query = select(Source).where(Source.name == name)
        if for_update:
            if self.dialect == "sqlite":  # no row locks: the writer lock, before the read
                self.lock_for_writes(s, "sources")
            query = query.with_for_update()
        source = s.scalar(query)
        if source is None:
            raise SourceNotFound(name)
        return source

    def get_source(self, name: str) -> SourceInfo:
        return self.list_sources([name])[0]

    def list_sources(self, names: Iterable[str] | None = None) -> list[SourceInfo]:
        """Sources by name (all of them without ``names``); SourceNotFound for a missing name."""
        wanted = list(names) if names is not None else None
        with self.session() as s:
            query = select(Source).order_by(Source.name)
            if wanted is not None:
                query = query.where(Source.name.in_(wanted))
            sources = list(s.scalars(query))
            if wanted is not None:
                missing = set(wanted) - {src.name for src in sources}
                if missing:
                    raise SourceNotFound(min(missing))
            counts = dict(
                s.execute(select(ArticleRow.source_id, func.count()).group_by(ArticleRow.source_id)).all()
            )
            return [_info(src, counts.get(src.id, 0)) for src in sources]

    def source_names(self) -> set[str]:
        with self.session() as s:
            return set(s.scalars(select(Source.name)))

    def remove_source(self, name: str) -> None:
        """Remove a source; its articles stay, without a source. Each gets a change-log entry
        (under the writers' lock, as every change does), so the search index and the engines
        ``push`` feeds stop filing them under a name that is gone or may be taken again."""
        with self.session() as s:
            self.lock_for_writes(s, "articles")
            source = self._source(s, name)
            ids = list(s.scalars(select(ArticleRow.id).where(ArticleRow.source_id == source.id)))
            s.delete(source)
            s.flush()
            now = datetime.now(UTC)
            if ids:
                rows = [
                    {"article_id": i, "doc_id": doc_id(i), "action": str(ChangeAction.UPSERT), "at": now}
                    for i in ids
                ]
                s.execute(insert(ChangeLog), rows)

    def due_sources(self, now: datetime) -> list[SourceInfo]:
        """Enabled sources whose next due time has come."""
        with self.session() as s:
            names = list(
                s.scalars(
                    select(Source.name).where(
                        Source.enabled.is_(True), or_(Source.next_due_at.is_(None), Source.next_due_at <= now)
                    )
                )
            )
        return self.list_sources(names) if names else []

    def sources_to_crawl(
        self, *, names: Iterable[str] = (), everything: bool = False, now: datetime
    ) -> list[SourceInfo]:
        """The named sources (enabled or not), else every enabled one with ``everything``, else
        the due ones: what ``aggregator crawl`` visits."""
        names = list(names)
        if names:
            return self.list_sources(names)
        if everything:
            return [s for s in self.list_sources() if s.enabled]
        return self.due_sources(now)

    def next_due_at(self) -> datetime | None:
        """When the first enabled source falls due (None when none is scheduled)."""
        with self.session() as s:
            return s.scalar(select(func.min(Source.next_due_at)).where(Source.enabled.is_(True)))

    def record_source_success(
        self,
        name: str,
        *,
        now: datetime,
        etag: str | None = None,
        last_modified: str | None = None,
        jitter: float | None = None,
        page_errors: str | None = None,
        incomplete: bool = False,
    ) -> None:
        """The source was read: keep its validators, clear its errors, schedule the next read
        (``jitter`` drawn at random when not given; see aggregator.due).

        ``page_errors``: some of its pages failed (one line saying which). The source itself is
        healthy, so it keeps its schedule, but its last error shows them until a clean read.
        ``incomplete``: some failed only for now and must be asked for again, so the read does
        not count as a complete one: its ETag and Last-Modified are dropped (a 304 would list
        nothing) and ``last_success_at``, from which a sitemap's unchanged entries are skipped,
        stays at the last complete read.
        """
        with self.session() as s:
            src = self._source(s, name, for_update=True)
            src.last_error = page_errors
            if page_errors is not None:
                src.last_error_at = now
            src.error_count = 0
            if incomplete:
                src.etag = src.last_modified = None
            else:
                src.last_success_at = now
                if etag is not None:
                    src.etag = etag
                if last_modified is not None:
                    src.last_modified = last_modified
            src.next_due_at = next_due(
                now,
                timedelta(seconds=src.interval_seconds),
                jitter=random_jitter() if jitter is None else jitter,
            )

    def record_source_error(
        self, name: str, message: str, *, now: datetime, retry_after: int | None = None
    ) -> None:
        """The source failed: back off (a server's Retry-After wins); see aggregator.due."""
        with self.session() as s:
            src = self._source(s, name, for_update=True)
            src.last_error = message
            src.last_error_at = now
            src.error_count += 1
            src.next_due_at = next_due(
                now,
                timedelta(seconds=src.interval_seconds),
                src.error_count,
                timedelta(seconds=retry_after) if retry_after is not None else None,
            )

    def move_source(self, name: str, url: str, *, now: datetime | None = None) -> None:
        """A permanent redirect: the source lives at ``url`` from now on. With ``now``, where it
        lived before and when it moved are kept (the web app's sources page shows them)."""
        with self.session() as s:
            src = self._source(s, name, for_update=True)
            if now is not None and src.url != url:
                src.moved_from = src.url
                src.moved_at = now
            src.url = url

    def disable_source(self, name: str, reason: str, *, now: datetime) -> None:
        """Stop crawling a source (410 Gone, say) and keep the reason for ``sources list``."""
        with self.session() as s:
            src = self._source(s, name, for_update=True)
            src.enabled = False
            src.disabled_reason = reason
            src.last_error = reason
            src.last_error_at = now
            src.error_count += 1
