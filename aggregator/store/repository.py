"""The repository: every read and write of the database goes through :class:`Store`.

Opening a store creates the database when it does not exist and upgrades an older schema with
Alembic, so no command needs a separate init step. Writes come in batches, one transaction each:
a batch is stored whole or not at all, so a killed crawl never leaves a half-written article.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Engine,
    create_engine,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from aggregator.dedupe import story_signature
from aggregator.errors import InputError, LockedError, StorageError
from aggregator.model import Article
from aggregator.store.batch import (
    MAX_STORY_CANDIDATES,
    MIN_BAND_HITS,
    BatchResult,
    BatchTransaction,
    IndexRow,
    find_story,
)
from aggregator.store.models import (
    ArticleRow,
    ArticleTag,
    ChangeLog,
    CrawlRun,
    Lock,
    PushTarget,
    Source,
    Tag,
)

SOURCE_KINDS = ("feed", "sitemap", "page", "site")
DEFAULT_INTERVAL = 3600


def doc_id(article_id: int) -> str:
    """The stable id of an article's document in search indexes and exports."""
    return str(article_id)


def default_db_url() -> str:
    """``AGGREGATOR_DB`` when set, else an SQLite file in the user's data directory."""
    env = os.environ.get("AGGREGATOR_DB")
    if env:
        return as_db_url(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return as_db_url(str(base / "aggregator" / "aggregator.db"))


def as_db_url(value: str) -> str:
    """Accept an SQLAlchemy URL or a plain path to an SQLite file."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


@dataclass(frozen=True)
class SourceInfo:
    """A source as commands show it."""

    name: str
    kind: str
    url: str
    interval_seconds: int
    enabled: bool
    tags: list[str]
    disabled_reason: str | None
    last_success_at: datetime | None
    last_error: str | None
    next_due_at: datetime | None
    article_count: int
    etag: str | None = None
    last_modified: str | None = None
    error_count: int = 0
    delay: float | None = None
    concurrency: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for key in ("last_success_at", "next_due_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("aggregator.store").joinpath("migrations")))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration; a no-op when it is current."""
    cfg = _alembic_config()
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.begin() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _row_to_article(row: ArticleRow) -> Article:
    return Article(
        url=row.url,
        canonical_url=row.canonical_url,
        source=row.source.name if row.source is not None else None,
        title=row.title,
        subtitle=row.subtitle,
        authors=list(row.authors),
        published=row.published,
        updated=row.updated,
        section=row.section,
        tags=[link.tag.name for link in row.tag_links],
        tag_origins={link.tag.name: link.origin for link in row.tag_links},
        dateline=row.dateline,
        language=row.language,
        text=row.text,
        word_count=row.word_count,
        image_url=row.image_url,
        site_name=row.site_name,
        text_origin=row.text_origin,
        content_hash=row.content_hash,
        story_id=row.story_id,
    )


class Store:
    """Data access for sources, articles, tags, aliases and crawl runs."""

    def __init__(self, url: str, *, migrate_schema: bool = True) -> None:
        self.url = url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            folder = Path(url.removeprefix("sqlite:///").split("?", 1)[0]).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot open database {url}: cannot create {folder}: {exc.strerror}") from exc
        try:
            self.engine = create_engine(url, future=True)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StorageError(f"cannot open database {url}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reader: DBAPIConnection | None = None
        if migrate_schema:
            try:
                migrate(self.engine)
            except (SQLAlchemyError, OSError) as exc:
                raise StorageError(f"cannot open or migrate database {url}: {exc}") from exc

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    # --- sources -------------------------------------------------------------------------

    def add_source(
        self, name: str, kind: str, url: str, *, now: datetime,
        interval_seconds: int = DEFAULT_INTERVAL, tags: Iterable[str] = (),
        delay: float | None = None, concurrency: int | None = None,
    ) -> SourceInfo:
        if kind not in SOURCE_KINDS:
            raise InputError(f"unknown source kind {kind!r}; expected one of {', '.join(SOURCE_KINDS)}")
        try:
            with self.session() as s:
                if s.scalar(select(Source).where(Source.name == name)) is not None:
                    raise InputError(f"a source named {name!r} exists already")
                s.add(Source(name=name, kind=kind, url=url, interval_seconds=interval_seconds,
                             enabled=True, tags=list(tags), error_count=0, created_at=now,
                             next_due_at=now, delay=delay, concurrency=concurrency))
        except IntegrityError as exc:
            raise InputError(f"a source named {name!r} exists already") from exc
        return self.get_source(name)

    def _source(self, s: Session, name: str) -> Source:
        source = s.scalar(select(Source).where(Source.name == name))
        if source is None:
            raise InputError(f"no source named {name!r}")
        return source

    def get_source(self, name: str) -> SourceInfo:
        return next(info for info in self.list_sources([name]))

    def list_sources(self, names: Iterable[str] | None = None) -> list[SourceInfo]:
        wanted = list(names) if names is not None else None
        with self.session() as s:
            query = select(Source).order_by(Source.name)
            if wanted is not None:
                query = query.where(Source.name.in_(wanted))
            sources = list(s.scalars(query))
            if wanted is not None:
                missing = set(wanted) - {src.name for src in sources}
                if missing:
                    raise InputError(f"no source named {min(missing)!r}")
            counts = dict(
                s.execute(select(ArticleRow.source_id, func.count()).group_by(ArticleRow.source_id)).all()
            )
            return [
                SourceInfo(
                    name=src.name, kind=src.kind, url=src.url, interval_seconds=src.interval_seconds,
                    enabled=src.enabled, tags=list(src.tags), disabled_reason=src.disabled_reason,
                    last_success_at=src.last_success_at,
                    last_error=src.last_error, next_due_at=src.next_due_at,
                    article_count=counts.get(src.id, 0), etag=src.etag,
                    last_modified=src.last_modified, error_count=src.error_count,
                    delay=src.delay, concurrency=src.concurrency,
                )
                for src in sources
            ]

    def remove_source(self, name: str) -> None:
        with self.session() as s:
            s.delete(self._source(s, name))

    def due_sources(self, now: datetime) -> list[SourceInfo]:
        return [
            src for src in self.list_sources()
            if src.enabled and (src.next_due_at is None or src.next_due_at <= now)
        ]

    #: Share of the interval by which the next due time is spread, so sources added together
    #: do not fall due together forever.
    JITTER = 0.1

    def record_source_success(
        self, name: str, *, now: datetime, etag: str | None = None, last_modified: str | None = None,
        jitter: float | None = None,
    ) -> None:
        with self.session() as s:
            src = self._source(s, name)
            src.last_success_at = now
            src.last_error = None
            src.error_count = 0
            if etag is not None:
                src.etag = etag
            if last_modified is not None:
                src.last_modified = last_modified
            spread = self.JITTER if jitter is None else jitter
            factor = 1 + random.uniform(-spread, spread)
            src.next_due_at = now + timedelta(seconds=src.interval_seconds * factor)

    #: The longest a failing source waits before it is tried again.
    MAX_BACKOFF = timedelta(days=7)

    def record_source_error(self, name: str, message: str, *, now: datetime,
                            retry_after: int | None = None) -> None:
        """Exponential backoff from the source's interval, capped; a server's Retry-After wins."""
        with self.session() as s:
            src = self._source(s, name)
            src.last_error = message
            src.last_error_at = now
            src.error_count += 1
            backoff = timedelta(seconds=src.interval_seconds * 2 ** min(src.error_count, 20))
            if retry_after is not None:
                backoff = timedelta(seconds=retry_after)
            src.next_due_at = now + min(backoff, self.MAX_BACKOFF)

    def move_source(self, name: str, url: str) -> None:
        """A permanent redirect: the source lives at ``url`` from now on."""
        with self.session() as s:
            self._source(s, name).url = url

    def disable_source(self, name: str, reason: str, *, now: datetime) -> None:
        """Stop crawling a source (410 Gone, say) and keep the reason for ``sources list``."""
        with self.session() as s:
            src = self._source(s, name)
            src.enabled = False
            src.disabled_reason = reason
            src.last_error = reason
            src.last_error_at = now
            src.error_count += 1

    # --- what the dedupe needs ---------------------------------------------------------

    def _lookup(self, sql: str, params: tuple[Any, ...]) -> Any:
        """One value by a one-row query on a connection of its own, in autocommit.

        The dedupe asks twice per crawled article, on the download loop: through a session a
        lookup cost 170 us, through the driver 3 us. Autocommit, so no read transaction stays
        open between lookups (on SQLite it would pin an old snapshot of the WAL).
        """
        reader = self._reader
        if reader is None:
            pooled = self.engine.raw_connection()
            reader = pooled.dbapi_connection
            assert reader is not None
            pooled.detach()  # ours alone: the pool never hands it to a transaction
            if self.engine.dialect.name != "sqlite":
                reader.autocommit = True
            self._reader = reader
        if self.engine.dialect.paramstyle in ("format", "pyformat"):
            sql = sql.replace("?", "%s")
        cursor = reader.cursor()
        try:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        finally:
            cursor.close()
        return row[0] if row else None

    def stored_urls(self, canonical_urls: list[str]) -> set[str]:
        """Which of these canonical URLs have a stored article (one query per 2000)."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(canonical_urls), 2000):
                part = canonical_urls[start : start + 2000]
                found.update(conn.execute(select(ArticleRow.canonical_url)
                                          .where(ArticleRow.canonical_url.in_(part))).scalars())
        return found

    def hash_for_url(self, canonical_url: str) -> str | None:
        return cast(str | None, self._lookup("SELECT content_hash FROM articles WHERE canonical_url = ?",
                                             (canonical_url,)))

    def url_for_hash(self, content_hash: str) -> str | None:
        return cast(str | None, self._lookup(
            "SELECT canonical_url FROM articles WHERE content_hash = ? ORDER BY id LIMIT 1", (content_hash,)))

    # --- writes ---------------------------------------------------------------------------

    def write_batch(
        self, articles: Iterable[Article], aliases: Iterable[tuple[str, str]] = (), *, now: datetime
    ) -> BatchResult:
        """Insert or update articles and record alias URLs, all in one transaction.

        An article whose canonical URL is stored already updates that row (keeping its first-seen
        time) when its text changed, and is counted unchanged otherwise: re-crawls never duplicate.
        ``aliases`` are (alias URL, canonical URL of the article it duplicates). See store/batch.py.
        """
        try:
            with self.session() as s:
                batch = BatchTransaction(s.connection(), now)
                result = batch.write(list(articles), aliases)
                self.index_rows(s, batch.index_rows, replace=batch.replaced)
        except OperationalError as exc:
            raise StorageError(f"cannot write to {self.url}: {exc.orig}") from exc
        return result

    def index_rows(self, s: Session, rows: list[IndexRow], *, replace: list[int]) -> None:
        """Keep the SQLite full-text index in step with a batch of written rows, in the batch's
        transaction (PostgreSQL's tsvector is a generated column and needs nothing).

        ``replace`` are ids of updated rows whose old index entries go first. One executemany per
        batch: index upkeep costs about what bare FTS5 inserts cost (benchmarks/search.py).
        """
        if self.engine.dialect.name != "sqlite" or not rows:
            return
        # The driver's own executemany: SQLAlchemy's statement layer would cost as much as FTS5.
        cursor = s.connection().connection.cursor()
        try:
            if replace:
                cursor.executemany("DELETE FROM articles_fts WHERE rowid = ?", [(i,) for i in replace])
            cursor.executemany(
                "INSERT INTO articles_fts (rowid, title, subtitle, text, tags, section) VALUES (?, ?, ?, ?, ?, ?)",
                rows)
        finally:
            cursor.close()

    def delete_article(self, canonical_url: str, *, now: datetime) -> bool:
        """Delete an article (its tags, aliases and index entries go with it) and log a tombstone."""
        with self.session() as s:
            row = s.scalar(select(ArticleRow).where(ArticleRow.canonical_url == canonical_url))
            if row is None:
                return False
            if self.engine.dialect.name == "sqlite":
                s.execute(text("DELETE FROM articles_fts WHERE rowid = :id"), {"id": row.id})
            s.add(ChangeLog(article_id=row.id, doc_id=doc_id(row.id), action="delete", at=now))
            s.delete(row)
        return True

    def reindex(self) -> int:
        """Rebuild the full-text index from the articles table (a repair; writes keep it current)."""
        with self.session() as s:
            if self.engine.dialect.name == "sqlite":
                s.execute(text("DELETE FROM articles_fts"))
                s.execute(text("INSERT INTO articles_fts (rowid, title, subtitle, text, tags, section)"
                               " SELECT id, title, subtitle, text, tags_text, section FROM articles"))
            else:
                s.execute(text("REINDEX INDEX ix_articles_search_vector"))
            return s.scalar(select(func.count()).select_from(ArticleRow)) or 0

    def changes_since(self, cursor: int) -> tuple[list[tuple[str, int, str, int]], int]:
        """The latest action per document changed after ``cursor``:
        ([(action, article id, doc id, seq)], next cursor), in the order of their last change."""
        with self.session() as s:
            last = func.max(ChangeLog.seq)
            latest = (select(ChangeLog.article_id, last.label("seq")).where(ChangeLog.seq > cursor)
                      .group_by(ChangeLog.article_id).subquery())
            rows = s.execute(select(ChangeLog.action, ChangeLog.article_id, ChangeLog.doc_id, ChangeLog.seq)
                             .join(latest, ChangeLog.seq == latest.c.seq).order_by(ChangeLog.seq)).all()
            top = s.scalar(select(func.max(ChangeLog.seq))) or 0
        return [(a, i, d, q) for a, i, d, q in rows], max(cursor, top)

    def push_cursor(self, name: str, kind: str, url: str) -> int:
        """The cursor a push target has acknowledged up to (0 for a new target)."""
        with self.session() as s:
            target = s.get(PushTarget, name)
            if target is None:
                s.add(PushTarget(name=name, kind=kind, url=url, cursor=0))
                return 0
            return target.cursor

    def record_push(self, name: str, cursor: int, *, error: str | None, now: datetime) -> None:
        with self.session() as s:
            target = s.get(PushTarget, name)
            if target is None:
                raise InputError(f"no push target named {name!r}")
            target.cursor = max(target.cursor, cursor)
            target.last_push_at = now
            target.last_error = error

    def articles_by_id(self, ids: list[int]) -> dict[int, tuple[Article, list[str]]]:
        with self.session() as s:
            rows = s.scalars(select(ArticleRow).where(ArticleRow.id.in_(ids)).options(
                selectinload(ArticleRow.tag_links), selectinload(ArticleRow.aliases),
                selectinload(ArticleRow.source)))
            return {r.id: (_row_to_article(r), sorted(a.url for a in r.aliases)) for r in rows}

    MAX_STORY_CANDIDATES = MAX_STORY_CANDIDATES
    MIN_BAND_HITS = MIN_BAND_HITS

    def find_story(self, text: str) -> int | None:
        """The stored story that ``text`` is a copy of, if any (what a write would join)."""
        with self.session() as s:
            return find_story(s.connection(), text, story_signature(text).bands)

    def story_members(self, story_id: int) -> list[tuple[str, str | None, str]]:
        """(canonical URL, source name, site name) of every article in a story, oldest first."""
        with self.session() as s:
            rows = s.scalars(select(ArticleRow).where(ArticleRow.story_id == story_id)
                             .order_by(ArticleRow.id).options(selectinload(ArticleRow.source)))
            return [(r.canonical_url, r.source.name if r.source else None, r.site_name) for r in rows]

    def story_index(self) -> dict[int, list[str]]:
        """story id -> canonical URLs of its articles (oldest first), for stories of 2 or more."""
        index: dict[int, list[str]] = {}
        with self.session() as s:
            size = func.count(ArticleRow.id)
            shared = select(ArticleRow.story_id).group_by(ArticleRow.story_id).having(size >= 2)
            rows = s.execute(select(ArticleRow.story_id, ArticleRow.canonical_url)
                             .where(ArticleRow.story_id.in_(shared)).order_by(ArticleRow.id))
            for story_id, url in rows:
                if story_id is not None:
                    index.setdefault(story_id, []).append(url)
        return index

    def stories(self, *, min_size: int = 2) -> list[tuple[int, int]]:
        """(story id, article count) of stories with at least ``min_size`` articles, largest first."""
        with self.session() as s:
            size = func.count(ArticleRow.id)
            rows = s.execute(select(ArticleRow.story_id, size).where(ArticleRow.story_id.is_not(None))
                             .group_by(ArticleRow.story_id).having(size >= min_size)
                             .order_by(size.desc(), ArticleRow.story_id)).all()
            return [(story_id, int(n)) for story_id, n in rows if story_id is not None]

    # --- reads ----------------------------------------------------------------------------

    def count_articles(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(ArticleRow)) or 0

    def iter_articles(self, *, batch: int = 500) -> Iterator[tuple[Article, list[str]]]:
        """Every stored article with its alias URLs, oldest first, read in batches."""
        last_id = 0
        while True:
            with self.session() as s:
                rows = list(s.scalars(
                    select(ArticleRow).where(ArticleRow.id > last_id).order_by(ArticleRow.id)
                    .limit(batch)
                    .options(selectinload(ArticleRow.tag_links), selectinload(ArticleRow.aliases),
                             selectinload(ArticleRow.source))
                ))
                if not rows:
                    return
                items = [(_row_to_article(r), sorted(a.url for a in r.aliases)) for r in rows]
                last_id = rows[-1].id
            yield from items

    def newest_articles(self, *, limit: int, tag: str | None = None, source: str | None = None) -> list[Article]:
        """The newest articles (by publication date, then first seen), optionally by tag or source."""
        from aggregator.normalize import fold_tag

        with self.session() as s:
            query = select(ArticleRow).options(selectinload(ArticleRow.tag_links), selectinload(ArticleRow.source))
            if tag:
                query = query.where(ArticleRow.id.in_(
                    select(ArticleTag.article_id).join(Tag, Tag.id == ArticleTag.tag_id)
                    .where(Tag.name == fold_tag(tag))))
            if source:
                query = query.where(ArticleRow.source_id.in_(select(Source.id).where(Source.name == source)))
            query = query.order_by(ArticleRow.published.desc().nulls_last(), ArticleRow.first_seen_at.desc())
            return [_row_to_article(r) for r in s.scalars(query.limit(limit))]

    def get_article(self, canonical_url: str) -> Article | None:
        with self.session() as s:
            row = s.scalar(select(ArticleRow).where(ArticleRow.canonical_url == canonical_url))
            return _row_to_article(row) if row is not None else None

    def top_tags(self, limit: int = 10) -> list[tuple[str, int]]:
        with self.session() as s:
            rows = s.execute(
                select(Tag.name, func.count(ArticleTag.article_id))
                .join(ArticleTag, ArticleTag.tag_id == Tag.id)
                .group_by(Tag.name).order_by(func.count(ArticleTag.article_id).desc(), Tag.name)
                .limit(limit)
            ).all()
            return [(name, count) for name, count in rows]

    # --- locks ------------------------------------------------------------------------------

    def acquire_lock(self, name: str, owner: str, *, now: datetime, stale_after: timedelta) -> None:
        """Take the lock, or take it over when its holder stopped heartbeating; else LockedError."""
        try:
            with self.session() as s:
                s.add(Lock(name=name, owner=owner, acquired_at=now, heartbeat_at=now))
            return
        except IntegrityError:
            pass
        with self.session() as s:
            held = s.get(Lock, name)
            if held is None:  # released in between: try again from the top
                return self.acquire_lock(name, owner, now=now, stale_after=stale_after)
            if held.heartbeat_at > now - stale_after and held.owner != owner:
                raise LockedError(
                    f"another scheduler ({held.owner}) is running on this database, last seen "
                    f"{held.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC; its lock goes stale after "
                    f"{int(stale_after.total_seconds())} s without a heartbeat"
                )
            # Compare-and-swap on the old heartbeat, so two takers cannot both win.
            taken = cast(CursorResult[Any], s.execute(
                update(Lock).where(Lock.name == name, Lock.heartbeat_at == held.heartbeat_at)
                .values(owner=owner, acquired_at=now, heartbeat_at=now)
            )).rowcount
            if taken != 1:
                raise LockedError("another scheduler took over the stale lock first")
        return None

    def heartbeat(self, name: str, owner: str, *, now: datetime) -> bool:
        """Refresh the lock; False when this owner no longer holds it."""
        with self.session() as s:
            result = cast(CursorResult[Any], s.execute(
                update(Lock).where(Lock.name == name, Lock.owner == owner).values(heartbeat_at=now)))
            return bool(result.rowcount)

    def release_lock(self, name: str, owner: str) -> None:
        with self.session() as s:
            s.execute(delete(Lock).where(Lock.name == name, Lock.owner == owner))

    def lock_holder(self, name: str) -> tuple[str, datetime] | None:
        with self.session() as s:
            held = s.get(Lock, name)
            return (held.owner, held.heartbeat_at) if held else None

    # --- crawl runs -------------------------------------------------------------------------

    def recent_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        with self.session() as s:
            runs = s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit))
            return [{"id": r.id, "started_at": r.started_at.isoformat(),
                     "finished_at": r.finished_at.isoformat() if r.finished_at else None, "status": r.status,
                     "sources": list(r.sources), "pages_fetched": r.pages_fetched, "new": r.articles_new,
                     "updated": r.articles_updated, "duplicates": r.duplicates, "errors": r.errors}
                    for r in runs]

    def start_run(self, sources: list[str], *, now: datetime) -> int:
        with self.session() as s:
            run = CrawlRun(started_at=now, sources=sources, status="running", pages_fetched=0,
                           articles_new=0, articles_updated=0, duplicates=0, not_articles=0, errors=0)
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, counts: Counter[str], *, status: str, now: datetime) -> None:
        with self.session() as s:
            run = s.get(CrawlRun, run_id)
            if run is None:
                return
            run.finished_at = now
            run.status = status
            run.pages_fetched = counts["pages_fetched"]
            run.articles_new = counts["new"]
            run.articles_updated = counts["updated"]
            run.duplicates = counts["duplicates"]
            run.not_articles = counts["not_articles"]
            run.errors = counts["errors"]
