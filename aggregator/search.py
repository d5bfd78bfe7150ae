"""Search over stored articles: the query and hit records, one hit per story, snippets.

The SQL (FTS5 on SQLite, a weighted tsvector on PostgreSQL) is the store's
(aggregator/store/search.py); this module asks it for ranked rows and shapes them. By default a
story carried by several outlets is one hit: the best-ranked copy, with the other copies listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from aggregator.errors import InvalidQuery
from aggregator.model import isoformat
from aggregator.query import parse

#: Rows read per hit wanted, so that collapsing copies of one story still fills the page.
OVERFETCH = 5


@dataclass(frozen=True)
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


class SearchRow(NamedTuple):
    """A ranked match as the store returns it."""

    article_id: int
    canonical_url: str
    title: str
    source: str | None
    published: datetime | None
    #: The article's text (the snippet is made of it for the hits shown).
    body: str
    score: float
    story_id: int | None


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
        data["published"] = isoformat(self.published)
        return data


class SearchableStore(Protocol):
    """What search needs of the store (aggregator.store.Store)."""

    dialect: str

    def search_rows(self, query: SearchQuery, *, limit: int) -> list[SearchRow]:
        """The best matches; raises InvalidQuery when the engine rejects the query."""


def search(store: SearchableStore, query: SearchQuery) -> list[SearchHit]:
    """Run a query; raises InvalidQuery (with the reason) when it is empty or its syntax is rejected."""
    if not query.text.strip():
        raise InvalidQuery(query.text, "the query is empty")
    parse(query.text)  # InvalidQuery before any SQL when there is nothing to look for
    rows = store.search_rows(query, limit=query.limit * (1 if query.all_copies else OVERFETCH))
    hits: list[SearchHit] = []
    by_story: dict[int, SearchHit] = {}
    for row in rows:
        hit = SearchHit(
            row.article_id,
            row.canonical_url,
            row.title,
            row.source,
            row.published,
            row.body,
            row.score,
            row.story_id,
        )
        if not query.all_copies and row.story_id is not None:
            first = by_story.get(row.story_id)
            if first is not None:
                first.other_copies.append(row.canonical_url)
                continue
            by_story[row.story_id] = hit
        hits.append(hit)
    hits = hits[: query.limit]
    pattern = snippet_pattern(query_terms(query.text))
    for hit in hits:
        # Rows carry the text: snippets are made here, for the hits shown, alike on both stores.
        hit.snippet = make_snippet(hit.snippet, pattern=pattern)
    return hits


SNIPPET_WORDS = 16


def query_terms(match: str) -> list[str]:
    """The words a query looks for (aggregator/query.py: not operators, not excluded words),
    case-folded, for highlighting."""
    return parse(match).words


def snippet_pattern(terms: list[str]) -> re.Pattern[str] | None:
    """What marks a match in a snippet: a word that starts with a term's stem (the term less two
    letters, at least three), which covers prefix queries and what the index's porter tokenizer
    matched. None when there is nothing to mark. Made once per query, not per hit."""
    stems = sorted({t[: max(3, len(t) - 2)] for t in terms if t}, key=len, reverse=True)
    if not stems:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in stems) + r")\w*", re.IGNORECASE)


#: Characters read on each side of the first match: enough for a snippet's words (a word and its
#: space average 6-7 characters in the languages we store), so a long text is never split whole.
_REACH = 40 * SNIPPET_WORDS
#: The longest snippet, in characters per word wanted.
_CHARS_PER_WORD = 12


def make_snippet(
    body: str,
    terms: list[str] | None = None,
    words: int = SNIPPET_WORDS,
    *,
    pattern: re.Pattern[str] | None = None,
) -> str:
    """A window of the text around the first query word, matches marked [like this].

    ``pattern`` is :func:`snippet_pattern` of the query's words (``terms`` makes it here). Only
    the characters around the match are split into words: a 10,000-word text costs what a short
    one does.
    """
    if pattern is None and terms:
        pattern = snippet_pattern(terms)
    if not body or pattern is None:
        return " ".join(body[: _REACH * 2].split()[:words])
    found = pattern.search(body)
    position = found.start() if found else 0
    start = max(0, position - _REACH)
    head = body[start:position].split()
    if start and head and not body[start - 1].isspace():
        head = head[1:]  # the slice began inside a word
    before = head[-(words // 3) :] if position else []
    end = position + _REACH * 2
    rest = body[position:end].split()
    after = rest[: words - len(before)]
    left, right = " ".join(before), " ".join(after)
    cut_left = cut_right = False
    limit = words * _CHARS_PER_WORD
    if len(left) + len(right) > limit:
        # A script written without spaces (Chinese, Japanese, Thai) is one "word" to split():
        # cut characters instead, keeping the match, which starts ``right``.
        if len(left) > limit // 3:
            left, cut_left = left[len(left) - limit // 3 :], True
        if len(right) > limit - len(left):
            right, cut_right = right[: limit - len(left)], True
    window = f"{left} {right}" if left else right
    more_before = len(head) > len(before) or cut_left or (start > 0 and not body[:start].isspace())
    more_after = len(rest) > len(after) or cut_right or (len(body) > end and not body[end:].isspace())
    lead = "…" if position and more_before else ""
    tail = "…" if more_after else ""
    return lead + pattern.sub(lambda m: f"[{m.group(0)}]", window) + tail
