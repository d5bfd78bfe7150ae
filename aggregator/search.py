"""Full-text search over stored articles: SQLite FTS5 by default, PostgreSQL tsvector by URL.

Ranking is BM25 (SQLite) or ts_rank_cd (PostgreSQL) with field weights title > dek > tags >
section > text. By default a story carried by several outlets is one hit: the best-ranked copy,
with the other copies listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from aggregator.errors import InputError
from aggregator.normalize import fold_tag
from aggregator.store import Store

#: bm25() weights, in the FTS5 column order: title, subtitle, text, tags, section.
BM25_WEIGHTS = (10.0, 5.0, 1.0, 3.0, 2.0)
#: Rows read per hit wanted, so that collapsing copies of one story still fills the page.
OVERFETCH = 5


@dataclass
class SearchQuery:
    text: str
    tag: str | None = None
    source: str | None = None
    section: str | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 10
    all_copies: bool = False


@dataclass
class SearchHit:
    article_id: int
    canonical_url: str
    title: str
    source: str | None
    published: datetime | None
    snippet: str
    score: float
    story_id: int | None
    #: Canonical URLs of the other articles carrying the same story (empty with all_copies).
    other_copies: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["published"] = self.published.isoformat() if self.published else None
        return data


def _filters(query: SearchQuery, params: dict[str, Any]) -> str:
    clauses = []
    if query.tag:
        clauses.append("a.id IN (SELECT at.article_id FROM article_tags at JOIN tags t ON t.id = at.tag_id"
                       " WHERE t.name = :tag)")
        params["tag"] = fold_tag(query.tag)
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


def _sqlite_sql(query: SearchQuery, params: dict[str, Any]) -> str:
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    # No snippet here: it re-reads each row's text, so it is computed for the final hits only.
    return (
        "SELECT a.id, a.canonical_url, a.title, s.name, a.published, '', -bm25(articles_fts, " + weights + "),"
        " a.story_id"
        " FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid"
        " LEFT JOIN sources s ON s.id = a.source_id"
        " WHERE articles_fts MATCH :q" + _filters(query, params) +
        " ORDER BY bm25(articles_fts, " + weights + ") LIMIT :n"
    )


def _postgres_sql(query: SearchQuery, params: dict[str, Any]) -> str:
    return (
        "SELECT a.id, a.canonical_url, a.title, s.name, a.published,"
        " ts_headline('english', a.text, q, 'StartSel=[, StopSel=], MaxWords=24, MinWords=10'),"
        " ts_rank_cd(a.search_vector, q), a.story_id"
        " FROM articles a CROSS JOIN websearch_to_tsquery('english', :q) q"
        " LEFT JOIN sources s ON s.id = a.source_id"
        " WHERE a.search_vector @@ q" + _filters(query, params) +
        " ORDER BY ts_rank_cd(a.search_vector, q) DESC, a.id LIMIT :n"
    )


def search(store: Store, query: SearchQuery) -> list[SearchHit]:
    """Run a query; raises InputError (with the reason) when the query syntax is rejected."""
    if not query.text.strip():
        raise InputError("search: the query is empty")
    params: dict[str, Any] = {"q": query.text, "n": query.limit * (1 if query.all_copies else OVERFETCH)}
    dialect = store.engine.dialect.name
    sql = _sqlite_sql(query, params) if dialect == "sqlite" else _postgres_sql(query, params)
    try:
        with store.session() as s:
            rows = s.execute(text(sql), params).all()
    except (OperationalError, ProgrammingError) as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        if "fts5" in reason or "syntax" in reason:
            raise InputError(
                f"search: cannot read the query {query.text!r} ({reason}); put words with punctuation "
                'in double quotes, e.g. "U.S." tariffs'
            ) from exc
        raise
    hits: list[SearchHit] = []
    by_story: dict[int, SearchHit] = {}
    for article_id, url, title, source, published, snippet, score, story_id in rows:
        if isinstance(published, str):
            published = datetime.fromisoformat(published)
        if published is not None and published.tzinfo is None:
            published = published.replace(tzinfo=UTC)
        hit = SearchHit(article_id, url, title, source, published, " ".join((snippet or "").split()),
                        float(score), story_id)
        if not query.all_copies and story_id is not None:
            first = by_story.get(story_id)
            if first is not None:
                first.other_copies.append(url)
                continue
            by_story[story_id] = hit
        hits.append(hit)
    hits = hits[: query.limit]
    if dialect == "sqlite" and hits:
        _add_snippets(store, query.text, hits)
    return hits


def _add_snippets(store: Store, match: str, hits: list[SearchHit]) -> None:
    ids = ",".join(str(h.article_id) for h in hits)
    with store.session() as s:
        rows: dict[int, str] = dict(s.execute(text(
            "SELECT rowid, snippet(articles_fts, -1, '[', ']', '…', 16) FROM articles_fts"
            f" WHERE articles_fts MATCH :q AND rowid IN ({ids})"), {"q": match}).all())
    for hit in hits:
        hit.snippet = " ".join((rows.get(hit.article_id) or "").split())
