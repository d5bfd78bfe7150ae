"""SQLAlchemy 2.x typed models. The schema itself is created by Alembic migrations, never here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every backend; SQLite stores naive UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Source(Base):
    """Somewhere articles are discovered: a feed, a sitemap, a site page or one article page."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(Text)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    next_due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    #: Politeness for this source's host, over the global settings (None: the global ones).
    delay: Mapped[float | None]
    concurrency: Mapped[int | None]
    #: The URL before a permanent redirect moved the source, and when (None: never moved).
    moved_from: Mapped[str | None] = mapped_column(Text)
    moved_at: Mapped[datetime | None]

    articles: Mapped[list[ArticleRow]] = relationship(back_populates="source")


class Story(Base):
    """A cluster of articles that carry the same story (wire copies, republications)."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]


class ArticleRow(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    subtitle: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    published: Mapped[datetime | None]
    updated: Mapped[datetime | None]
    section: Mapped[str] = mapped_column(Text, default="")
    dateline: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(20), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    image_url: Mapped[str] = mapped_column(Text, default="")
    site_name: Mapped[str] = mapped_column(Text, default="")
    text_origin: Mapped[str] = mapped_column(String(10), default="page")
    #: Which stage of the extraction cascade gave the text (aggregator.extract.cascade.STAGES).
    text_stage: Mapped[str] = mapped_column(String(10), default="", server_default="")
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: Tag names joined by spaces: what full-text search indexes for tags.
    tags_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    first_seen_at: Mapped[datetime]
    changed_at: Mapped[datetime]

    source: Mapped[Source | None] = relationship(back_populates="articles")
    tag_links: Mapped[list[ArticleTag]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="ArticleTag.position"
    )
    aliases: Mapped[list[ArticleAlias]] = relationship(back_populates="article", cascade="all, delete-orphan")

    __table_args__ = (
        Index("ix_articles_published", "published"),
        Index("ix_articles_source_seen", "source_id", "first_seen_at"),
    )


class StoryBand(Base):
    """One MinHash LSH band key of an article (see aggregator.dedupe.story_signature).

    The key is the table's order (WITHOUT ROWID on SQLite): a lookup reads the rows it wants
    where they lie, and there is no rowid table and second index to write as well.
    """

    __tablename__ = "story_bands"
    __table_args__ = ({"sqlite_with_rowid": False},)

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ChangeLog(Base):
    """Every change to a searchable document, in one monotonic sequence (incremental exports).

    No foreign key: a tombstone outlives the article it deletes.
    """

    __tablename__ = "change_log"
    __table_args__ = ({"sqlite_autoincrement": True},)

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(Integer, index=True)
    doc_id: Mapped[str] = mapped_column(String(40))
    #: A store.records.ChangeAction: "upsert" or "delete".
    action: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime]


class PushTarget(Base):
    """An external search engine fed by ``aggregator push``, and how far it has acknowledged."""

    __tablename__ = "push_targets"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(Text)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    last_push_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class Lock(Base):
    """A named lock held by one process (the scheduler), kept alive by heartbeats."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str] = mapped_column(Text)
    acquired_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class ArticleTag(Base):
    """A tag on an article, with where it came from (an aggregator.model.TagOrigin)."""

    __tablename__ = "article_tags"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    origin: Mapped[str] = mapped_column(String(10))
    position: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_article_tags_tag_id", "tag_id", "article_id"),)

    article: Mapped[ArticleRow] = relationship(back_populates="tag_links")
    tag: Mapped[Tag] = relationship(lazy="joined")


class ArticleAlias(Base):
    """Another URL that served exactly the same text as an article."""

    __tablename__ = "article_aliases"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    first_seen_at: Mapped[datetime]

    article: Mapped[ArticleRow] = relationship(back_populates="aliases")


class CrawlRun(Base):
    """One crawl: the sources it was given, what it did (aggregator.outcomes.CrawlReport)."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default="running")
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    pages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    articles_updated: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    not_articles: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    #: source name -> why it failed, for the sources that failed in this run.
    failures: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
