"""Articles: batch writes (the crawl's hot path, see store/batch.py), reads, and the lookups the
dedupe makes for every crawled article."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import cast

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import selectinload

from aggregator.errors import StorageError
from aggregator.model import Article, Tag, TagOrigin
from aggregator.store.base import IN_CHUNK, StoreBase, describe_operational_error
from aggregator.store.batch import BatchTransaction
from aggregator.store.models import ArticleRow, ArticleTag, ChangeLog, Source
from aggregator.store.models import Tag as TagRow
from aggregator.store.records import Alias, BatchResult, ChangeAction, doc_id
from aggregator.store.search import index_rows
from aggregator.tags import fold_tag

#: Articles written between two looks at PostgreSQL's table statistics (refresh_statistics).
STATISTICS_EVERY = 20_000
#: Tables whose statistics are stale as autovacuum counts it: a tenth of the rows changed.
_STALE = (
    "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema()"
    " AND n_mod_since_analyze > 50 + 0.1 * n_live_tup ORDER BY relname"
)

#: Relationships an Article is built from, loaded in one query each for a whole page of rows.
_ARTICLE_LOADS = (selectinload(ArticleRow.tag_links), selectinload(ArticleRow.source))


def row_to_article(row: ArticleRow) -> Article:
    """The Article of a stored row (the inverse of BatchTransaction's columns)."""
    article = Article(
        url=row.url,
        canonical_url=row.canonical_url,
        source=row.source.name if row.source is not None else None,
        title=row.title,
        subtitle=row.subtitle,
        authors=list(row.authors),
        published=row.published,
        updated=row.updated,
        section=row.section,
        dateline=row.dateline,
        language=row.language,
        text=row.text,
        word_count=row.word_count,
        image_url=row.image_url,
        site_name=row.site_name,
        text_origin=row.text_origin,
        text_stage=row.text_stage,
        content_hash=row.content_hash,
        story_id=row.story_id,
    )
    return article.with_tags(Tag(link.tag.name, TagOrigin(link.origin)) for link in row.tag_links)


class ArticlesMixin(StoreBase):
    def write_batch(
        self, articles: Iterable[Article], aliases: Iterable[Alias | tuple[str, str]] = (), *, now: datetime
    ) -> BatchResult:
        """Insert or update articles and record alias URLs, all in one transaction.

        An article whose canonical URL is stored already updates that row (keeping its first-seen
        time) when its text changed, and is counted unchanged otherwise: re-crawls never duplicate.
        ``aliases`` are (alias URL, canonical URL of the article it duplicates). See store/batch.py.
        """
        try:
            with self.session() as s:
                self.lock_for_writes(s, "articles")
                batch = BatchTransaction(s.connection(), now)
                result = batch.write(list(articles), [Alias(*a) for a in aliases])
                index_rows(s.connection(), batch.index_rows)
        except OperationalError as exc:
            raise StorageError(self.url, "write to", describe_operational_error(exc)) from exc
        if self.dialect == "postgresql":
            written = (self._unanalyzed or 0) + result.new
            if self._unanalyzed is None or written >= STATISTICS_EVERY:
                self.refresh_statistics()
                written = 0
            self._unanalyzed = written
        return result

    def refresh_statistics(self) -> list[str]:
        """ANALYZE the tables whose statistics are stale (PostgreSQL): the names analyzed.

        Autovacuum does this where it runs, but it can be off (it is on this project's development
        machines) or behind a burst of writes, and the writer's plans rest on the statistics.
        With none, the planner took each story-band key of a batch's lookup to match thousands of
        rows and read all of story_bands instead of its index: 630 ms a batch at 340k articles,
        and writes slowed from 2 to 13 ms an article (benchmarks/store.py). Checked on the first
        batch a Store writes and every STATISTICS_EVERY articles after; a check costs one query.
        """
        if self.dialect != "postgresql":
            return []
        with self.engine.connect() as conn:
            stale = [name for (name,) in conn.execute(text(_STALE))]
            for name in stale:
                conn.execute(text(f'ANALYZE "{name}"'))
            conn.commit()
        return stale

    def delete_article(self, canonical_url: str, *, now: datetime) -> bool:
        """Delete an article (its tags, aliases and index entries go with it) and log a tombstone.

        Under the writers' lock, as batches are: change-log numbers then commit in order, so a
        reader following the log (push, the search index) never passes one still uncommitted."""
        with self.session() as s:
            self.lock_for_writes(s, "articles")
            row = s.scalar(select(ArticleRow).where(ArticleRow.canonical_url == canonical_url))
            if row is None:
                return False
            if self.dialect == "sqlite":
                s.execute(text("DELETE FROM articles_fts WHERE rowid = :id"), {"id": row.id})
            s.add(
                ChangeLog(article_id=row.id, doc_id=doc_id(row.id), action=str(ChangeAction.DELETE), at=now)
            )
            s.delete(row)
        return True

    # --- what the dedupe and the crawl's link check ask, many times a second -----------------

    def stored_urls(self, canonical_urls: list[str]) -> set[str]:
        """Which of these canonical URLs have a stored article (one query per 2000)."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(canonical_urls), IN_CHUNK):
                part = canonical_urls[start : start + IN_CHUNK]
                found.update(
                    conn.execute(
                        select(ArticleRow.canonical_url).where(ArticleRow.canonical_url.in_(part))
                    ).scalars()
                )
        return found

    def hash_for_url(self, canonical_url: str) -> str | None:
        return cast(
            str | None,
            self._lookup("SELECT content_hash FROM articles WHERE canonical_url = ?", (canonical_url,)),
        )

    def url_for_hash(self, content_hash: str) -> str | None:
        return cast(
            str | None,
            self._lookup(
                "SELECT canonical_url FROM articles WHERE content_hash = ? ORDER BY id LIMIT 1",
                (content_hash,),
            ),
        )

    # --- reads ---------------------------------------------------------------------------------

    def count_articles(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(ArticleRow)) or 0

    def get_article(self, canonical_url: str) -> Article | None:
        with self.session() as s:
            row = s.scalar(
                select(ArticleRow).where(ArticleRow.canonical_url == canonical_url).options(*_ARTICLE_LOADS)
            )
            return row_to_article(row) if row is not None else None

    def articles_by_id(self, ids: list[int]) -> dict[int, tuple[Article, list[str]]]:
        """id -> (article, its alias URLs)."""
        with self.session() as s:
            rows = s.scalars(
                select(ArticleRow)
                .where(ArticleRow.id.in_(ids))
                .options(*_ARTICLE_LOADS, selectinload(ArticleRow.aliases))
            )
            return {r.id: (row_to_article(r), sorted(a.url for a in r.aliases)) for r in rows}

    def iter_articles(self, *, batch: int = 500) -> Iterator[tuple[Article, list[str]]]:
        """Every stored article with its alias URLs, oldest first, read in batches."""
        last_id = 0
        while True:
            with self.session() as s:
                rows = list(
                    s.scalars(
                        select(ArticleRow)
                        .where(ArticleRow.id > last_id)
                        .order_by(ArticleRow.id)
                        .limit(batch)
                        .options(*_ARTICLE_LOADS, selectinload(ArticleRow.aliases))
                    )
                )
                if not rows:
                    return
                items = [(row_to_article(r), sorted(a.url for a in r.aliases)) for r in rows]
                last_id = rows[-1].id
            yield from items

    def newest_articles(
        self, *, limit: int, tag: str | None = None, source: str | None = None
    ) -> list[Article]:
        """The newest articles (by publication date, then first seen), optionally by tag or source."""
        with self.session() as s:
            query = select(ArticleRow).options(*_ARTICLE_LOADS)
            if tag:
                query = query.where(
                    ArticleRow.id.in_(
                        select(ArticleTag.article_id)
                        .join(TagRow, TagRow.id == ArticleTag.tag_id)
                        .where(TagRow.name == fold_tag(tag))
                    )
                )
            if source:
                query = query.where(ArticleRow.source_id.in_(select(Source.id).where(Source.name == source)))
            query = query.order_by(ArticleRow.published.desc().nulls_last(), ArticleRow.first_seen_at.desc())
            return [row_to_article(r) for r in s.scalars(query.limit(limit))]

    def first_article_with_dateline(self) -> Article | None:
        """The oldest stored article that has a dateline (what the demo shows)."""
        with self.session() as s:
            row = s.scalar(
                select(ArticleRow)
                .where(ArticleRow.dateline != "")
                .order_by(ArticleRow.id)
                .limit(1)
                .options(*_ARTICLE_LOADS)
            )
            return row_to_article(row) if row is not None else None

    def top_tags(self, limit: int = 10) -> list[tuple[str, int]]:
        """(tag, article count) of the most used tags."""
        with self.session() as s:
            count = func.count(ArticleTag.article_id)
            rows = s.execute(
                select(TagRow.name, count)
                .join(ArticleTag, ArticleTag.tag_id == TagRow.id)
                .group_by(TagRow.name)
                .order_by(count.desc(), TagRow.name)
                .limit(limit)
            ).all()
            return list(rows)
