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
from dataclasses import dataclass, field
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
    String,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from aggregator.dedupe import same_story, story_shingles, story_signature
from aggregator.errors import InputError, LockedError, StorageError
from aggregator.model import Article
from aggregator.store.models import (
    ArticleAlias,
    ArticleRow,
    ArticleTag,
    ChangeLog,
    CrawlRun,
    Lock,
    PushTarget,
    Source,
    Story,
    StoryBand,
    Tag,
    UTCDateTime,
)

SOURCE_KINDS = ("feed", "sitemap", "page", "site")
DEFAULT_INTERVAL = 3600


#: What the full-text index holds of an article: (id, title, subtitle, text, tags, section).
IndexRow = tuple[int, str, str, str, str, str]

_TAG_INSERT = {
    "qmark": "INSERT INTO article_tags (article_id, tag_id, origin, position) VALUES (?, ?, ?, ?)",
    "format": "INSERT INTO article_tags (article_id, tag_id, origin, position) VALUES (%s, %s, %s, %s)",
    "pyformat": "INSERT INTO article_tags (article_id, tag_id, origin, position) VALUES (%s, %s, %s, %s)",
    "numeric": "INSERT INTO article_tags (article_id, tag_id, origin, position) VALUES (:1, :2, :3, :4)",
}
#: The band insert in each DBAPI parameter style we meet (sqlite3 "qmark", psycopg "format"/"pyformat").
_BAND_INSERT = {
    "qmark": "INSERT INTO story_bands (key, article_id) VALUES (?, ?)",
    "format": "INSERT INTO story_bands (key, article_id) VALUES (%s, %s)",
    "pyformat": "INSERT INTO story_bands (key, article_id) VALUES (%s, %s)",
    "numeric": "INSERT INTO story_bands (key, article_id) VALUES (:1, :2)",
}


def cast_text(column: Any) -> Any:
    """SQL CAST(column AS text): the doc id of an article id, computed in the database."""
    return sql_cast(column, String)


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


@dataclass
class BatchResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    aliases: int = 0
    #: New articles that joined an existing story (a near-duplicate of a stored article).
    joined_story: int = 0
    new_urls: list[str] = field(default_factory=list)


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
        if migrate_schema:
            try:
                migrate(self.engine)
            except (SQLAlchemyError, OSError) as exc:
                raise StorageError(f"cannot open or migrate database {url}: {exc}") from exc

    def close(self) -> None:
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

    def hash_for_url(self, canonical_url: str) -> str | None:
        with self.session() as s:
            return s.scalar(select(ArticleRow.content_hash).where(ArticleRow.canonical_url == canonical_url))

    def url_for_hash(self, content_hash: str) -> str | None:
        with self.session() as s:
            return s.scalar(
                select(ArticleRow.canonical_url).where(ArticleRow.content_hash == content_hash)
                .order_by(ArticleRow.id).limit(1)
            )

    # --- writes ---------------------------------------------------------------------------

    def write_batch(
        self, articles: Iterable[Article], aliases: Iterable[tuple[str, str]] = (), *, now: datetime
    ) -> BatchResult:
        """Insert or update articles and record alias URLs, all in one transaction.

        An article whose canonical URL is stored already updates that row (keeping its first-seen
        time) when its text changed, and is counted unchanged otherwise: re-crawls never duplicate.
        ``aliases`` are (alias URL, canonical URL of the article it duplicates).
        """
        result = BatchResult()
        try:
            batch = list(articles)
            with self.session() as s:
                # One query for every tag the batch names, instead of one per tag per article.
                names = {t for a in batch for t in a.tags}
                tag_ids: dict[str, int] = dict(s.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names))).all())
                source_ids: dict[str, int | None] = {}
                written: list[tuple[IndexRow, bool]] = []
                for article in batch:
                    row_and_new = self._write_one(s, article, now, result, tag_ids, source_ids)
                    if row_and_new is not None:
                        written.append(row_and_new)
                self.index_rows(s, [row for row, _ in written], replace=[r[0] for r, new in written if not new])
                for alias_url, target in aliases:
                    row = s.scalar(select(ArticleRow).where(ArticleRow.canonical_url == target))
                    if row is None or alias_url == target:
                        continue
                    if s.get(ArticleAlias, alias_url) is None:
                        s.add(ArticleAlias(url=alias_url, article_id=row.id, first_seen_at=now))
                        result.aliases += 1
        except OperationalError as exc:
            raise StorageError(f"cannot write to {self.url}: {exc.orig}") from exc
        return result

    def _write_one(
        self, s: Session, article: Article, now: datetime, result: BatchResult,
        tag_ids: dict[str, int], source_ids: dict[str, int | None],
    ) -> tuple[IndexRow, bool] | None:
        """Insert or update one article; (its index row, whether it is new), or None when unchanged.

        Core statements, not the ORM unit of work: this is the ingestion hot path, and the ORM's
        bookkeeping cost several times the SQL itself (benchmarks/crawl.py).
        """
        existing = s.execute(select(ArticleRow.id, ArticleRow.content_hash)
                             .where(ArticleRow.canonical_url == article.canonical_url)).first()
        if existing is not None and existing.content_hash == article.content_hash:
            result.unchanged += 1
            return None
        if article.source is not None and article.source not in source_ids:
            source_ids[article.source] = s.scalar(select(Source.id).where(Source.name == article.source))
        source_id = source_ids.get(article.source) if article.source is not None else None
        tags_text = " ".join(article.tags)
        values: dict[str, Any] = {
            "url": article.url, "title": article.title, "subtitle": article.subtitle,
            "authors": list(article.authors), "published": article.published, "updated": article.updated,
            "section": article.section, "dateline": article.dateline, "language": article.language,
            "text": article.text, "word_count": article.word_count, "image_url": article.image_url,
            "site_name": article.site_name, "text_origin": article.text_origin,
            "content_hash": article.content_hash, "tags_text": tags_text, "changed_at": now,
        }
        signature = story_signature(article.text)
        if existing is None:
            story_id = self._find_story(s, article.text, signature.bands)
            if story_id is None:
                story_id = s.execute(insert(Story).values(created_at=now).returning(Story.id)).scalar_one()
            else:
                result.joined_story += 1
                # The story's other articles gain a copy (their story_urls change): a change each.
                s.execute(insert(ChangeLog).from_select(
                    ["article_id", "doc_id", "action", "at"],
                    select(ArticleRow.id, cast_text(ArticleRow.id), literal("upsert"), literal(now, UTCDateTime()))
                    .where(ArticleRow.story_id == story_id).order_by(ArticleRow.id)))
            article_id = s.execute(insert(ArticleRow).values(
                **values, canonical_url=article.canonical_url, first_seen_at=now, story_id=story_id,
                source_id=source_id).returning(ArticleRow.id)).scalar_one()
            result.new += 1
            result.new_urls.append(article.canonical_url)
        else:
            article_id = existing.id
            if source_id is not None:
                values["source_id"] = source_id
            s.execute(update(ArticleRow).where(ArticleRow.id == article_id).values(**values))
            s.execute(delete(StoryBand).where(StoryBand.article_id == article_id))
            s.execute(delete(ArticleTag).where(ArticleTag.article_id == article_id))
            result.updated += 1
        for name in article.tags:
            if name not in tag_ids:
                tag_ids[name] = (s.scalar(select(Tag.id).where(Tag.name == name))
                                 or s.execute(insert(Tag).values(name=name).returning(Tag.id)).scalar_one())
        cursor = s.connection().connection.cursor()
        try:
            # The driver's executemany: the ORM's bulk path costs more than the inserts themselves.
            style = self.engine.dialect.paramstyle
            if article.tags:
                cursor.executemany(_TAG_INSERT[style], [
                    (article_id, tag_ids[name], article.tag_origins.get(name, "page"), position)
                    for position, name in enumerate(article.tags)])
            if signature.bands:
                cursor.executemany(_BAND_INSERT[style], [(key, article_id) for key in signature.bands])
        finally:
            cursor.close()
        s.execute(insert(ChangeLog).values(article_id=article_id, doc_id=doc_id(article_id), action="upsert",
                                           at=now))
        index_row = (article_id, article.title, article.subtitle, article.text, tags_text, article.section)
        return index_row, existing is None

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

    #: Candidates checked exactly per new article, the most band matches first.
    MAX_STORY_CANDIDATES = 5
    #: A real copy (Jaccard >= 0.5) shares about 5 of the 42 bands of a signature; one shared band
    #: is a chance collision (a common lead sentence) and is not worth an exact check.
    MIN_BAND_HITS = 2

    def _find_story(self, s: Session, text: str, bands: tuple[int, ...]) -> int | None:
        """The story of a stored article that carries the same story as ``text``, if any."""
        if not bands:
            return None
        hits = func.count(StoryBand.id)
        candidates = s.execute(
            select(StoryBand.article_id, hits)
            .where(StoryBand.key.in_(bands))
            .group_by(StoryBand.article_id).having(hits >= self.MIN_BAND_HITS)
            .order_by(hits.desc(), StoryBand.article_id).limit(self.MAX_STORY_CANDIDATES)
        ).all()
        if not candidates:
            return None
        mine = story_shingles(text)
        for article_id, _ in candidates:
            row = s.get(ArticleRow, article_id)
            if row is not None and row.story_id is not None and same_story(mine, row.text):
                return row.story_id
        return None

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
