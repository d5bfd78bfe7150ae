"""Full-text search SQL: SQLite FTS5 by default, PostgreSQL's weighted tsvector by URL.

Ranking is BM25 (SQLite) or ts_rank_cd (PostgreSQL) with field weights title > dek > tags >
section > text. The index tables themselves are made by the migrations (0003); the index is kept
in step inside every batch transaction (:func:`index_rows`), and :meth:`SearchMixin.reindex`
rebuilds it as a repair. Collapsing copies of a story and making snippets is aggregator.search's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from aggregator.errors import InvalidQuery
from aggregator.query import parse, to_fts5, to_tsquery
from aggregator.search import SearchQuery, SearchRow
from aggregator.store.base import StoreBase
from aggregator.store.batch import IndexRow
from aggregator.store.models import ArticleRow
from aggregator.tags import fold_tag

#: What SQLite's errors about a MATCH expression start with or contain. The compiled queries
#: (aggregator/query.py) quote every term, so none should reach the engine; if one does, it is
#: still the query's fault and InvalidQuery, never raw SQL on the user's screen.
QUERY_ERRORS = ("fts5", "syntax", "unterminated string", "no such column", "unknown special query")

#: bm25() weights, in the FTS5 column order: title, subtitle, text, tags, section.
BM25_WEIGHTS = (10.0, 5.0, 1.0, 3.0, 2.0)
#: Matches ranked at most, the newest: a word in most articles made SQLite compute bm25 for
#: every one of them (0.7 s at 100k articles); finding where the newest RANK_WINDOW matches
#: begin walks the index by rowid, without the per-row statistics bm25 reads.
RANK_WINDOW = 2000
#: PostgreSQL looks for matches among the newest this many articles first (see recent_first):
#: five windows, enough for a word in a fifth of the articles. At 300k articles a common word's
#: search took 286 ms over every match, 51 ms over the newest 10k (70 ms over 20k or 40k).
RECENT_SPAN = 10_000

T = TypeVar("T")


def rank_floor(
    conn: Connection, dialect: str, match: str, window: int = RANK_WINDOW, query: SearchQuery | None = None
) -> int:
    """The smallest article id among the newest ``window`` matches (0 when fewer match), under
    ``query``'s filters when given: ranking is done over ids >= it. Newest by id, which is
    arrival order; a query that matches more than ``window`` articles is a broad one, and for
    news the recent matches are the ones wanted. (SQLite's search runs this inside its ranking
    statement, see _sqlite_sql.)"""
    params: dict[str, Any] = {"q": match, "k": window - 1}
    if dialect == "sqlite":
        matches = sqlite_matches(query or SearchQuery(""), params)
        sql = f"SELECT f.rowid {matches} ORDER BY f.rowid DESC LIMIT 1 OFFSET :k"
        return int(conn.execute(text(sql), params).scalar() or 0)

    def newest(recent: bool) -> int | None:
        sql = postgres_matches(conn, query or SearchQuery(""), params, recent=recent)
        found = conn.execute(
            text(sql + " SELECT id FROM m ORDER BY id DESC LIMIT 1 OFFSET :k"), params
        ).scalar()
        return None if found is None else int(found)

    return recent_first(conn, params, newest, lambda found: found is not None) or 0


def recent_first(
    conn: Connection, params: dict[str, Any], run: Callable[[bool], T], enough: Callable[[T], bool]
) -> T:
    """``run(recent=True)`` over the newest RECENT_SPAN articles (``:floor``), and ``run(False)``
    over all of them only when that was not ``enough``.

    The fenced match set (postgres_matches) is every article holding the words: for a word in
    most articles, at a million, a million rows gathered (7 s for the search page in
    benchmarks/store.py) to rank the newest 2,000 or count to 5,000. Those lie among the newest
    articles; a rare word's matches are few, and gathering all of them is cheap.
    """
    top = conn.execute(text("SELECT max(id) FROM articles")).scalar() or 0
    if top > RECENT_SPAN:
        params["floor"] = top - RECENT_SPAN
        result = run(True)
        if enough(result):
            return result
    return run(False)


def postgres_matches(
    conn: Connection, query: SearchQuery, params: dict[str, Any], *, recent: bool = False
) -> str:
    """``WITH m AS MATERIALIZED (...)``: the ids of the full-text matches (``:q``) under the
    query's filters, found by the GIN index and fenced off from the rest of the statement.

    Left to choose, on estimates that can be far off (no statistics yet, autovacuum off or
    behind; a GIN pending list after a burst of writes), the planner walked the primary key
    testing each row's tsvector (a detoast each): 40 ms a query at 10k articles and 420 ms at
    100k in benchmarks/store.py, against 2-12 ms. No sequential scan, for the transaction on
    ``conn``, keeps the fenced set on the index. ``recent``: only articles after ``:floor``
    (see recent_first).
    """
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    source = " LEFT JOIN sources s ON s.id = a.source_id" if query.source else ""
    span = " AND a.id > :floor" if recent else ""
    return (
        f"WITH m AS MATERIALIZED (SELECT a.id FROM articles a{source}"
        f" WHERE a.search_vector @@ to_tsquery('english', :q){span}{_filters(query, params)})"
    )


def index_rows(conn: Connection, rows: list[IndexRow]) -> None:
    """Index a batch of written rows in SQLite's full-text index, in the batch's transaction
    (PostgreSQL's tsvector is a generated column and needs nothing). Updated rows' old entries
    were removed before their rows changed (BatchTransaction._update): the index reads the
    text it removes from the articles table (migration 0011).

    One executemany per batch: index upkeep costs about what bare FTS5 inserts cost
    (benchmarks/search.py).
    """
    if conn.dialect.name != "sqlite" or not rows:
        return
    # The driver's own executemany: SQLAlchemy's statement layer would cost as much as FTS5.
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(
            "INSERT INTO articles_fts (rowid, title, subtitle, text, tags_text, section)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    finally:
        cursor.close()


def compiled(dialect: str, text: str) -> str:
    """The query's text in the engine's syntax (aggregator/query.py): an FTS5 MATCH expression
    on SQLite, a to_tsquery text on PostgreSQL. InvalidQuery when it has nothing to look for."""
    parsed = parse(text)
    return to_fts5(parsed) if dialect == "sqlite" else to_tsquery(parsed)


_TAGGED = "(SELECT at.article_id FROM article_tags at JOIN tags t ON t.id = at.tag_id WHERE t.name = :tag)"


def _filters(query: SearchQuery, params: dict[str, Any]) -> str:
    """The query's filters as SQL conditions on ``articles a`` and ``sources s``."""
    return _tag_filter(query, params, "a.id") + _row_filters(query, params)


def _tag_filter(query: SearchQuery, params: dict[str, Any], on: str) -> str:
    if not query.tag:
        return ""
    params["tag"] = fold_tag(query.tag)
    return f" AND {on} IN {_TAGGED}"


def _row_filters(query: SearchQuery, params: dict[str, Any]) -> str:
    """The filters that read the article's row (or its source's)."""
    clauses = []
    if query.source:
        clauses.append("s.name = :source")
        params["source"] = query.source
    if query.section:
        clauses.append("lower(a.section) = lower(:section)")
        params["section"] = query.section
    if query.language:
        clauses.append("a.language = :language")
        params["language"] = query.language.lower()
    if query.since:
        clauses.append("a.published >= :since")
        params["since"] = query.since
    if query.until:
        clauses.append("a.published < :until")
        params["until"] = query.until
    return "".join(f" AND {c}" for c in clauses)


def sqlite_matches(query: SearchQuery, params: dict[str, Any]) -> str:
    """``FROM ... WHERE ...`` of the full-text matches (``f``) that pass the query's filters.

    The articles row is joined only for filters that read it: a join is a B-tree seek per match,
    and a common word matches most of the store (146 ms for 71k matches at 100k articles). The
    tag filter tests the FTS row id against the tag's articles, with its index use disabled
    (``+f.rowid``): handed to FTS5 as a rowid constraint, each id re-ran the whole match (28 s).
    """
    rows = _row_filters(query, params)
    joined = " JOIN articles a ON a.id = f.rowid LEFT JOIN sources s ON s.id = a.source_id" if rows else ""
    tagged = _tag_filter(query, params, "+f.rowid")
    return f"FROM articles_fts f{joined} WHERE articles_fts MATCH :q{tagged}{rows}"


def _sqlite_sql(query: SearchQuery, params: dict[str, Any]) -> str:
    """Rank the newest RANK_WINDOW matches under the filters (rank_floor's query, run once as a
    scalar subquery whose value FTS5 takes as a rowid range), inside the FTS table, and join
    only the top rows: joining every match first made a two-word query at 100k articles 9x
    slower (benchmarks/search.py)."""
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    matches = sqlite_matches(query, params)
    floor = f"coalesce((SELECT f.rowid {matches} ORDER BY f.rowid DESC LIMIT 1 OFFSET :k), 0)"
    # The text column, not a snippet: making one re-reads each row, so it is made for the hits shown.
    return (
        "SELECT a.id, a.canonical_url, a.title, s.name, a.published, a.text, -r.score, a.story_id"
        f" FROM (SELECT f.rowid, bm25(articles_fts, {weights}) AS score {matches}"
        f" AND f.rowid >= {floor} ORDER BY score LIMIT :n) r"
        " JOIN articles a ON a.id = r.rowid LEFT JOIN sources s ON s.id = a.source_id ORDER BY r.score"
    )


def _postgres_sql(conn: Connection, query: SearchQuery, params: dict[str, Any], *, recent: bool) -> str:
    """One statement, as on SQLite: the matches under the filters (postgres_matches), the newest
    RANK_WINDOW of them ranked, the top rows joined, and how many matched (the last column, for
    recent_first). The text (for the snippet, made in Python as on SQLite) is read for the rows
    kept only; ts_headline on every row re-parsed each text.
    """
    return (
        postgres_matches(conn, query, params, recent=recent)
        + ", w AS (SELECT id FROM m ORDER BY id DESC LIMIT :window),"
        " r AS (SELECT a.id, ts_rank_cd(a.search_vector, to_tsquery('english', :q)) AS score"
        " FROM w JOIN articles a ON a.id = w.id ORDER BY score DESC, a.id LIMIT :n)"
        " SELECT a.id, a.canonical_url, a.title, s.name, a.published, a.text, r.score, a.story_id,"
        " (SELECT count(*) FROM m)"
        " FROM r JOIN articles a ON a.id = r.id LEFT JOIN sources s ON s.id = a.source_id"
        " ORDER BY r.score DESC, a.id"
    )


def _utc(value: datetime | str | None) -> datetime | None:
    """A published date as raw SQL returns it (SQLite: naive UTC text) as an aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


class SearchMixin(StoreBase):
    def search_rows(self, query: SearchQuery, *, limit: int) -> list[SearchRow]:
        """The ``limit`` best matches, best first, each with the article's text (for the caller's
        snippet, made the same way on both stores). InvalidQuery when the query has nothing to
        look for (aggregator/query.py)."""
        if self.text_index is not None and self.text_index.catch_up(self):  # type: ignore[arg-type]
            return self.text_index.search(query, limit)
        params: dict[str, Any] = {"q": compiled(self.dialect, query.text), "n": limit}
        params["k"], params["window"] = RANK_WINDOW - 1, RANK_WINDOW
        try:
            with self.session() as s:
                if self.dialect == "sqlite":
                    rows = s.execute(text(_sqlite_sql(query, params)), params).all()
                else:
                    conn = s.connection()

                    def ranked(recent: bool) -> list[Any]:
                        return list(
                            conn.execute(text(_postgres_sql(conn, query, params, recent=recent)), params)
                        )

                    # Enough when the span held RANK_WINDOW matches: the newest of all of them.
                    found = recent_first(
                        conn, params, ranked, lambda rows: bool(rows) and rows[0][-1] >= RANK_WINDOW
                    )
                    rows = [row[:-1] for row in found]
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
            if any(marker in reason for marker in QUERY_ERRORS):
                raise InvalidQuery(query.text, reason) from exc
            raise
        return [
            SearchRow(article_id, url, title, source, _utc(published), body or "", float(score), story_id)
            for article_id, url, title, source, published, body, score, story_id in rows
        ]

    def reindex(self) -> int:
        """Rebuild the full-text index from the articles table (a repair; writes keep it current)."""
        with self.session() as s:
            if self.dialect == "sqlite":
                s.execute(text("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')"))
            else:
                s.execute(text("REINDEX INDEX ix_articles_search_vector"))
            return s.scalar(select(func.count()).select_from(ArticleRow)) or 0
