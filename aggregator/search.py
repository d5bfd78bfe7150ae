"""Full-text search over stored articles: SQLite FTS5 by default, PostgreSQL tsvector by URL.

Ranking is BM25 (SQLite) or ts_rank_cd (PostgreSQL) with field weights title > dek > tags >
section > text. By default a story carried by several outlets is one hit: the best-ranked copy,
with the other copies listed.
"""

from __future__ import annotations

import re
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
    filters = _filters(query, params)
    if not filters:
        # Rank inside the FTS table and join only the top rows: joining every match first made a
        # two-word query at 100k articles 9x slower (benchmarks/search.py).
        return (
            "SELECT a.id, a.canonical_url, a.title, s.name, a.published, a.text, -f.score, a.story_id"
            " FROM (SELECT rowid, bm25(articles_fts, " + weights + ") AS score FROM articles_fts"
            " WHERE articles_fts MATCH :q ORDER BY score LIMIT :n) f"
            " JOIN articles a ON a.id = f.rowid LEFT JOIN sources s ON s.id = a.source_id ORDER BY f.score"
        )
    # No snippet here: it re-reads each row's text, so it is computed for the final hits only.
    return (
        "SELECT a.id, a.canonical_url, a.title, s.name, a.published, a.text, -bm25(articles_fts, " + weights + "),"
        " a.story_id"
        " FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid"
        " LEFT JOIN sources s ON s.id = a.source_id"
        " WHERE articles_fts MATCH :q" + filters +
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
    terms = query_terms(query.text)
    for article_id, url, title, source, published, snippet, score, story_id in rows:
        if isinstance(published, str):
            published = datetime.fromisoformat(published)
        if published is not None and published.tzinfo is None:
            published = published.replace(tzinfo=UTC)
        hit = SearchHit(article_id, url, title, source, published, snippet or "", float(score), story_id)
        if not query.all_copies and story_id is not None:
            first = by_story.get(story_id)
            if first is not None:
                first.other_copies.append(url)
                continue
            by_story[story_id] = hit
        hits.append(hit)
    hits = hits[: query.limit]
    for hit in hits:
        # SQLite rows carry the text (snippets are made here, for the hits shown); PostgreSQL
        # rows carry ts_headline's snippet already.
        hit.snippet = make_snippet(hit.snippet, terms) if dialect == "sqlite" else " ".join(hit.snippet.split())
    return hits


_QUERY_WORD = re.compile(r"\w+")
_OPERATORS = {"AND", "OR", "NOT", "NEAR"}
SNIPPET_WORDS = 16


def query_terms(match: str) -> list[str]:
    """The words of a query, without operators, case-folded (prefix* and phrases included)."""
    return [w.casefold() for w in _QUERY_WORD.findall(match) if w not in _OPERATORS]


def make_snippet(body: str, terms: list[str], words: int = SNIPPET_WORDS) -> str:
    """A window of the text around the first query word, matches marked [like this].

    A word matches a term when it starts with the term's stem (the term less two letters, at least
    three), which covers prefix queries and what the index's porter tokenizer matched.
    """
    stems = sorted({t[: max(3, len(t) - 2)] for t in terms if t}, key=len, reverse=True)
    if not body or not stems:
        return " ".join(body.split()[:words])
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in stems) + r")\w*", re.IGNORECASE)
    found = pattern.search(body)
    position = found.start() if found else 0
    before = body[:position].split()[-(words // 3):] if position else []
    after = body[position:].split()[: words - len(before)]
    window = " ".join(before + after)
    lead = "…" if position and len(body[:position].split()) > len(before) else ""
    tail = "…" if len(body[position:].split()) > len(after) else ""
    return lead + pattern.sub(lambda m: f"[{m.group(0)}]", window) + tail
