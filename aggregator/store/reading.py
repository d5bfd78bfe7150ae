"""Reads behind the reader's web app (#15): an article with what the store knows beside it, a
story's copies, listings and facet counts under the search filters, and each source's arrivals
per day.

Each method is a few indexed queries whatever the store's size, because every page a person
opens runs them: at 100k articles the search and story pages stay well under 100 ms
(benchmarks/web.py). Listings are newest first; collapsing copies of a story is the caller's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import selectinload

from aggregator.errors import InvalidQuery
from aggregator.search import SearchQuery
from aggregator.store.articles import row_to_article
from aggregator.store.base import IN_CHUNK, StoreBase
from aggregator.store.models import ArticleRow, ArticleTag, Source
from aggregator.store.models import Tag as TagRow
from aggregator.store.records import (
    ArticleEntry,
    FacetCount,
    Facets,
    StoredArticle,
    StoryCopy,
    StorySummary,
)
from aggregator.store.search import (
    QUERY_ERRORS,
    _filters,
    _utc,
    compiled,
    postgres_matches,
    recent_first,
    sqlite_matches,
)

#: Values listed per facet.
FACET_VALUES = 10
#: Matches the facets are counted over (the best ranked, or the newest).
FACET_SAMPLE = 1000
#: Matches of a text counted at most: "more than 5000" says what a reader needs, and counting
#: every match of a common word cost PostgreSQL a heap visit each (0.3 s at 100k articles).
COUNT_CAP = 5000


def _day(dialect: str, column: str) -> str:
    """A UTC timestamp column as its day, 'YYYY-MM-DD' (SQLite keeps naive UTC text)."""
    if dialect == "sqlite":
        return f"substr({column}, 1, 10)"
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


class ReadingMixin(StoreBase):
    def stored_article(self, article_id: int) -> StoredArticle | None:
        """The article with this id, with its alias URLs and first-seen and changed times."""
        found = self._stored_articles(ArticleRow.id == article_id)
        return found[0] if found else None

    def story_articles(self, story_id: int) -> list[StoredArticle]:
        """Every article of a story, first published first (then first seen)."""
        return self._stored_articles(ArticleRow.story_id == story_id)

    def _stored_articles(self, where: Any) -> list[StoredArticle]:
        with self.session() as s:
            rows = s.scalars(
                select(ArticleRow)
                .where(where)
                .options(
                    selectinload(ArticleRow.tag_links),
                    selectinload(ArticleRow.source),
                    selectinload(ArticleRow.aliases),
                )
            )
            found = [
                StoredArticle(
                    id=r.id,
                    article=row_to_article(r),
                    aliases=tuple(sorted(a.url for a in r.aliases)),
                    first_seen_at=r.first_seen_at,
                    changed_at=r.changed_at,
                )
                for r in rows
            ]
        never = datetime.max.replace(tzinfo=UTC)
        return sorted(found, key=lambda f: (f.article.published or never, f.first_seen_at, f.id))

    def story_copies(self, story_ids: list[int]) -> dict[int, list[StoryCopy]]:
        """story id -> its articles (oldest first), for the stories of a page of hits."""
        copies: dict[int, list[StoryCopy]] = defaultdict(list)
        wanted = sorted(set(story_ids))
        with self.session() as s:
            for start in range(0, len(wanted), IN_CHUNK):
                rows = s.execute(
                    select(
                        ArticleRow.story_id,
                        ArticleRow.id,
                        ArticleRow.canonical_url,
                        Source.name,
                        ArticleRow.site_name,
                        ArticleRow.published,
                    )
                    .outerjoin(Source, Source.id == ArticleRow.source_id)
                    .where(ArticleRow.story_id.in_(wanted[start : start + IN_CHUNK]))
                    .order_by(ArticleRow.id)
                )
                for story_id, article_id, url, source, site_name, published in rows:
                    if story_id is not None:
                        copies[story_id].append(
                            StoryCopy(story_id, article_id, url, source, site_name, published)
                        )
        return dict(copies)

    def list_articles(self, query: SearchQuery, *, offset: int, limit: int) -> list[ArticleEntry]:
        """Articles under the query's filters (its text ignored), newest published first."""
        params: dict[str, Any] = {"n": limit, "o": offset}
        # SQLite sorts NULLs last in descending order already (and then walks the index);
        # PostgreSQL needs telling.
        nulls = "" if self.dialect == "sqlite" else " NULLS LAST"
        sql = (
            "SELECT a.id, a.canonical_url, a.title, a.subtitle, s.name, a.site_name, a.published,"
            " a.section, a.language, a.story_id"
            " FROM articles a LEFT JOIN sources s ON s.id = a.source_id WHERE 1 = 1"
            + _filters(query, params)
            + f" ORDER BY a.published DESC{nulls}, a.id DESC LIMIT :n OFFSET :o"
        )
        with self.session() as s:
            rows = s.execute(text(sql), params).all()
        return [
            ArticleEntry(i, url, title, dek, source, site, _utc(published), section, language, story)
            for i, url, title, dek, source, site, published, section, language, story in rows
        ]

    def facet_counts(
        self, query: SearchQuery, *, values: int = FACET_VALUES, sample: int = FACET_SAMPLE
    ) -> Facets:
        """How the articles the query matches (its text, if any, and its filters) spread over
        tags, sources, sections and languages, counted over a ``sample`` of the matches (the
        newest), and how many match (up to COUNT_CAP).

        Counting every match of a common word at 100k articles took seconds; the best thousand
        say as much about where to narrow a search, in a few milliseconds. InvalidQuery when the
        engine rejects the text."""
        params: dict[str, Any] = {"sample": sample, "cap": COUNT_CAP + 1}
        if query.text.strip():
            params["q"] = compiled(self.dialect, query.text)
        filters = _filters(query, params)
        joined = "FROM articles a LEFT JOIN sources s ON s.id = a.source_id"
        if not query.text.strip():
            best = f"SELECT a.id {joined} WHERE 1 = 1{filters} ORDER BY a.published DESC LIMIT :sample"
            total = f"SELECT count(*) {joined} WHERE 1 = 1{filters}"
        elif self.dialect == "sqlite":
            # The newest matches under the filters, walked in the index's order: ranking them
            # (bm25 reads each row's statistics) cost more than the rest of the search page.
            matches = sqlite_matches(query, params)
            best = f"SELECT f.rowid {matches} ORDER BY f.rowid DESC LIMIT :sample"
            total = f"SELECT count(*) FROM (SELECT 1 {matches} LIMIT :cap)"
        else:
            # The fenced matches (store.search.postgres_matches), then the newest of them and how
            # many there are, in one statement (made below: it needs the session's connection).
            best = total = ""
        # The search index, when there is one and it is up to date, finds the newest matches.
        index = self.text_index if query.text.strip() else None
        if index is not None and not index.catch_up(self):  # type: ignore[arg-type]
            index = None
        try:
            with self.session() as s:
                if index is not None:
                    ids, count = index.newest(query, sample)
                elif best:
                    ids = [i for (i,) in s.execute(text(best), params)]
                    # A sample that is not full is every match: counting them again is a second walk.
                    count = int(s.scalar(text(total), params) or 0) if len(ids) == sample else len(ids)
                else:
                    conn = s.connection()

                    def newest(recent: bool) -> list[Any]:
                        fenced = postgres_matches(conn, query, params, recent=recent)
                        sql = (
                            fenced
                            + " SELECT id, (SELECT count(*) FROM m) FROM m ORDER BY id DESC LIMIT :sample"
                        )
                        return list(conn.execute(text(sql), params))

                    # Enough when the span held more than COUNT_CAP matches (the count says "more")
                    # and a whole sample (the newest of all the matches).
                    found = recent_first(
                        conn, params, newest, lambda rows: len(rows) == sample and rows[0][1] > COUNT_CAP
                    )
                    ids = [i for i, _ in found]
                    count = int(found[0][1]) if found else 0
                rows: list[Any] = []
                tags: list[Any] = []
                for start in range(0, len(ids), IN_CHUNK):
                    part = ids[start : start + IN_CHUNK]
                    rows += s.execute(
                        select(Source.name, ArticleRow.section, ArticleRow.language)
                        .select_from(ArticleRow)
                        .outerjoin(Source, Source.id == ArticleRow.source_id)
                        .where(ArticleRow.id.in_(part))
                    ).all()
                    tags += s.execute(
                        select(TagRow.name, func.count())
                        .join(ArticleTag, ArticleTag.tag_id == TagRow.id)
                        .where(ArticleTag.article_id.in_(part))
                        .group_by(TagRow.name)
                    ).all()
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
            if any(marker in reason for marker in QUERY_ERRORS):
                raise InvalidQuery(query.text, reason) from exc
            raise

        def top(counter: Counter[str]) -> tuple[FacetCount, ...]:
            ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
            return tuple(FacetCount(value, n) for value, n in ranked[:values])

        tag_counts: Counter[str] = Counter()
        for name, n in tags:
            tag_counts[name] += n
        capped = bool(query.text.strip()) and count > COUNT_CAP
        return Facets(
            total=min(count, COUNT_CAP),
            more=capped,
            counted=len(ids),
            tags=top(tag_counts),
            sources=top(Counter(r[0] for r in rows if r[0])),
            sections=top(Counter(r[1] for r in rows if r[1])),
            languages=top(Counter(r[2] for r in rows if r[2])),
        )

    def source_arrivals(self, *, days: int, now: datetime) -> dict[str, list[int]]:
        """source name -> articles first seen on each of the last ``days`` days (oldest first,
        today last): how steadily each source delivers."""
        first = (now.astimezone(UTC) - timedelta(days=days - 1)).date()
        since = datetime(first.year, first.month, first.day, tzinfo=UTC)
        day = _day(self.dialect, "a.first_seen_at")
        with self.session() as s:
            ids = dict(s.execute(select(Source.id, Source.name)).all())
            if not ids:
                return {}
            rows = s.execute(
                text(
                    f"SELECT a.source_id, {day} AS d, count(*) FROM articles a"
                    " WHERE a.source_id IN (" + ", ".join(str(int(i)) for i in ids) + ")"
                    " AND a.first_seen_at >= :since GROUP BY a.source_id, d"
                ),
                {"since": since.replace(tzinfo=None) if self.dialect == "sqlite" else since},
            ).all()
        counts = {name: [0] * days for name in ids.values()}
        for source_id, when, n in rows:
            offset = (date.fromisoformat(when) - first).days
            if 0 <= offset < days:
                counts[ids[source_id]][offset] = int(n)
        return counts

    def story_summaries(self, *, offset: int, limit: int, min_size: int = 2) -> list[StorySummary]:
        """Stories carried by at least ``min_size`` articles, the most recently published first."""
        with self.session() as s:
            size = func.count(ArticleRow.id)
            last = func.max(ArticleRow.published)
            rows = s.execute(
                select(
                    ArticleRow.story_id, size, func.min(ArticleRow.published), last, func.min(ArticleRow.id)
                )
                .where(ArticleRow.story_id.is_not(None))
                .group_by(ArticleRow.story_id)
                .having(size >= min_size)
                .order_by(last.desc(), ArticleRow.story_id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
            titles = dict(
                s.execute(
                    select(ArticleRow.id, ArticleRow.title).where(ArticleRow.id.in_([r[4] for r in rows]))
                ).all()
            )
        return [
            StorySummary(story_id, n, first, latest, titles.get(oldest, ""))
            for story_id, n, first, latest, oldest in rows
            if story_id is not None
        ]

    def tag_count(self, name: str) -> int:
        """How many articles carry the tag ``name`` (as stored: folded)."""
        with self.session() as s:
            return int(
                s.scalar(
                    text(
                        "SELECT count(*) FROM article_tags at JOIN tags t ON t.id = at.tag_id"
                        " WHERE t.name = :name"
                    ),
                    {"name": name},
                )
                or 0
            )
