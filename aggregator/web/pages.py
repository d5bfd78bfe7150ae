"""What each page shows, gathered from the store into records: the one place with the web app's
logic. The HTML pages and the JSON API render the same records, so they never disagree.

No SQL here (that is the store's) and no HTTP (that is the routes'): every function takes the
store and plain values, so it can be tested without a server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aggregator.errors import InvalidQuery
from aggregator.model import Article, TagOrigin
from aggregator.search import SearchQuery, search
from aggregator.store.records import Facets, StoredArticle, StoryCopy
from aggregator.web import wording
from aggregator.web.sparkline import Sparkline, sparkline

if TYPE_CHECKING:
    from aggregator.store import RunInfo, SourceInfo, Store

#: Hits per page, and the deepest page served (a deeper one costs a query per copy collapsed).
PER_PAGE = 20
MAX_PAGE = 50
#: Listing rows read per hit wanted, so that collapsing copies of one story still fills a page.
OVERFETCH = 3
#: The largest id a database row can have (SQLite and PostgreSQL integers are 64-bit).
MAX_ID = 2**63 - 1
#: Days of arrivals on the sources page's sparklines.
ACTIVITY_DAYS = 30


@dataclass(frozen=True)
class Filters:
    """What the search form (and the API's query string) asks: the CLI's search options."""

    q: str = ""
    tag: str = ""
    source: str = ""
    section: str = ""
    language: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1

    def query(self, *, limit: int) -> SearchQuery:
        """The store's query; ``until`` is inclusive here (a day the reader names is whole)."""
        return SearchQuery(
            self.q,
            tag=self.tag or None,
            source=self.source or None,
            section=self.section or None,
            language=self.language or None,
            since=datetime.combine(self.since, time(), UTC) if self.since else None,
            # The day after ``until``; the last day there is has none, and bounds nothing.
            until=datetime.combine(self.until + timedelta(days=1), time(), UTC)
            if self.until and self.until < date.max
            else None,
            limit=limit,
        )

    def params(self, **changes: str | int | None) -> dict[str, str]:
        """The query string of these filters with ``changes`` (a facet link, the next page);
        empty values and page 1 are left out."""
        values: dict[str, str | int | date | None] = {
            "q": self.q,
            "tag": self.tag,
            "source": self.source,
            "section": self.section,
            "language": self.language,
            "since": self.since,
            "until": self.until,
            "page": self.page,
        }
        values.update(changes)
        return {
            k: str(v)
            for k, v in values.items()
            if v not in (None, "") and not (k == "page" and v in (1, "1"))
        }

    @property
    def active(self) -> list[tuple[str, str]]:
        """(name, value) of each filter set, for the "remove this filter" links."""
        pairs = [
            ("tag", self.tag),
            ("source", self.source),
            ("section", self.section),
            ("language", self.language),
            ("since", self.since.isoformat() if self.since else ""),
            ("until", self.until.isoformat() if self.until else ""),
        ]
        return [(k, v) for k, v in pairs if v]


@dataclass(frozen=True)
class SnippetPart:
    text: str
    #: A word the query matched (shown highlighted).
    matched: bool = False


_MARKED = re.compile(r"\[([^\[\]]+)\]")


def snippet_parts(snippet: str) -> tuple[SnippetPart, ...]:
    """The search's snippet ("… the [offshore] [wind] auction …") as parts to render, matched
    words apart: the template escapes each part, so no stored text becomes markup."""
    parts: list[SnippetPart] = []
    last = 0
    for found in _MARKED.finditer(snippet):
        if found.start() > last:
            parts.append(SnippetPart(snippet[last : found.start()]))
        parts.append(SnippetPart(found.group(1), matched=True))
        last = found.end()
    if last < len(snippet):
        parts.append(SnippetPart(snippet[last:]))
    return tuple(parts)


def outlet(site_name: str, url: str) -> str:
    """What a reader calls the publisher of an article: the site's name, else its host."""
    return site_name or urlsplit(url).hostname or url


@dataclass(frozen=True)
class Hit:
    """One story in a result list: its best copy, and how many other outlets carry it."""

    article_id: int
    canonical_url: str
    title: str
    source: str | None
    outlet: str
    published: datetime | None
    snippet: tuple[SnippetPart, ...]
    story_id: int | None
    #: Other outlets that carry the same story, and other copies in all.
    other_outlets: tuple[str, ...] = ()
    other_copies: int = 0


@dataclass(frozen=True)
class Results:
    filters: Filters
    hits: list[Hit]
    facets: Facets
    has_next: bool
    per_page: int = PER_PAGE
    #: Said when the query has nothing to look for (InvalidQuery's reason).
    notice: str = ""

    @property
    def first_rank(self) -> int:
        return (self.filters.page - 1) * self.per_page + 1


def _with_outlets(hits: list[Hit], copies: dict[int, list[StoryCopy]]) -> list[Hit]:
    out = []
    for hit in hits:
        members = copies.get(hit.story_id, []) if hit.story_id is not None else []
        others = [m for m in members if m.article_id != hit.article_id]
        outlets = dict.fromkeys(outlet(m.site_name, m.canonical_url) for m in others)
        outlets.pop(hit.outlet, None)
        out.append(replace(hit, other_outlets=tuple(outlets), other_copies=len(others)))
    return out


def results(store: Store, filters: Filters, *, per_page: int = PER_PAGE) -> Results:
    """A page of hits, one per story, with the facets of everything matched.

    With text, the full-text search (the CLI's query language, aggregator.search); without, the
    newest articles under the filters. Raises InvalidQuery for text the engine rejects.
    """
    page = min(max(filters.page, 1), MAX_PAGE)
    filters = replace(filters, page=page)
    wanted = page * per_page + 1  # one more than shown: is there a next page?
    hits: list[Hit]
    notice = ""
    if filters.q.strip():
        try:
            found = search(store, filters.query(limit=wanted))
        except InvalidQuery as exc:
            # The query language (aggregator/query.py) reads stray quotes and operators as
            # written; what is left is a query with nothing to look for, said in one line.
            notice = f"The query could not be read ({exc.reason})."
            return Results(filters, [], Facets(total=0), False, per_page, notice)
        hits = [
            Hit(
                h.article_id,
                h.canonical_url,
                h.title,
                h.source,
                outlet("", h.canonical_url),
                h.published,
                snippet_parts(h.snippet),
                h.story_id,
            )
            for h in found
        ]
    else:
        entries = store.list_articles(filters.query(limit=wanted), offset=0, limit=wanted * OVERFETCH)
        seen: set[int] = set()
        hits = []
        for e in entries:
            if e.story_id is not None:
                if e.story_id in seen:
                    continue
                seen.add(e.story_id)
            hits.append(
                Hit(
                    e.id,
                    e.canonical_url,
                    e.title,
                    e.source,
                    outlet(e.site_name, e.canonical_url),
                    e.published,
                    (SnippetPart(e.subtitle),) if e.subtitle else (),
                    e.story_id,
                )
            )
            if len(hits) == wanted:
                break
    has_next = len(hits) > page * per_page and page < MAX_PAGE
    shown = hits[(page - 1) * per_page : page * per_page]
    copies = store.story_copies([h.story_id for h in shown if h.story_id is not None])
    # The outlet of a search hit is its site's name when the store knows it.
    names = {c.article_id: outlet(c.site_name, c.canonical_url) for cs in copies.values() for c in cs}
    shown = [replace(h, outlet=names.get(h.article_id, h.outlet)) for h in shown]
    facets = store.facet_counts(filters.query(limit=wanted))
    return Results(filters, _with_outlets(shown, copies), facets, has_next, per_page, notice)


def feed_articles(store: Store, filters: Filters, *, limit: int) -> list[Article]:
    """The articles of a feed of a search: its best hits, else the newest under the filters."""
    if filters.q.strip():
        ids = [h.article_id for h in search(store, filters.query(limit=limit))]
    else:
        ids = [e.id for e in store.list_articles(filters.query(limit=limit), offset=0, limit=limit)]
    loaded = store.articles_by_id(ids)
    return [loaded[i][0] for i in ids if i in loaded]


# --- an article --------------------------------------------------------------------------------

_STAGES = {
    "dom": "the page's main content (markup)",
    "jsonld": "the page's JSON-LD articleBody",
    "relaxed": "the page's text, read with relaxed rules",
    "fallback": "the last-resort extractor",
}


@dataclass(frozen=True)
class Provenance:
    """Where one field of the record came from, as far as the record says."""

    field: str
    value: str
    origin: str


@dataclass(frozen=True)
class ArticleView:
    stored: StoredArticle
    paragraphs: tuple[str, ...]
    provenance: tuple[Provenance, ...]
    #: The story's other copies (oldest first).
    story: tuple[StoredArticle, ...]

    @property
    def article(self) -> Article:
        return self.stored.article


def text_origin(article: Article) -> str:
    """Where the text came from, in words: the feed entry, or a stage of the page's extraction."""
    if article.text_origin == "feed":
        return "the feed entry (the page could not be read as an article)"
    stage = _STAGES.get(article.text_stage)
    return f"the page: {stage}" if stage else "the page"


def paragraphs(text: str) -> tuple[str, ...]:
    """The clean text's paragraphs (it separates them with a blank line)."""
    return tuple(p.strip() for p in text.split("\n\n") if p.strip())


def article_view(store: Store, article_id: int) -> ArticleView | None:
    stored = store.stored_article(article_id) if 0 < article_id <= MAX_ID else None
    if stored is None:
        return None
    a = stored.article
    origin = {str(TagOrigin.PAGE): "the page", "feed": "the feed entry", "source": "the source's tags"}
    provenance = [
        Provenance("text", f"{a.word_count} words", text_origin(a)),
        Provenance("source", a.source or "-", "the source whose crawl found it"),
        Provenance("site", a.site_name or "-", "the page's site name"),
        Provenance("canonical URL", a.canonical_url, "the page's rel=canonical, tracking parameters dropped"),
    ]
    if a.url != a.canonical_url:
        provenance.append(Provenance("fetched from", a.url, "the link the crawl followed"))
    provenance += [Provenance("tag", t.name, origin.get(str(t.origin), str(t.origin))) for t in a.tag_list()]
    siblings: tuple[StoredArticle, ...] = ()
    if a.story_id is not None:
        siblings = tuple(s for s in store.story_articles(a.story_id) if s.id != stored.id)
    return ArticleView(stored, paragraphs(a.text), tuple(provenance), siblings)


# --- a story -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CopyView:
    stored: StoredArticle
    outlet: str
    paragraphs: list[wording.Paragraph]
    #: Share of words in common with the first copy (1.0 for the first copy itself).
    similarity: float
    is_base: bool = False


@dataclass(frozen=True)
class StoryView:
    story_id: int
    copies: list[CopyView]
    first_published: datetime | None
    last_published: datetime | None

    @property
    def title(self) -> str:
        return self.copies[0].stored.article.title if self.copies else ""

    @property
    def outlets(self) -> list[str]:
        return list(dict.fromkeys(c.outlet for c in self.copies))


def story_view(store: Store, story_id: int) -> StoryView | None:
    """Every copy of a story side by side, each compared word by word with the first published."""
    members = store.story_articles(story_id) if 0 < story_id <= MAX_ID else []
    if not members:
        return None
    base = members[0].article.text
    copies = [
        CopyView(
            m,
            outlet(m.article.site_name, m.article.canonical_url),
            wording.plain(base) if i == 0 else wording.compare(base, m.article.text),
            1.0 if i == 0 else wording.similarity(base, m.article.text),
            is_base=i == 0,
        )
        for i, m in enumerate(members)
    ]
    dates = [m.article.published for m in members if m.article.published is not None]
    return StoryView(story_id, copies, min(dates, default=None), max(dates, default=None))


# --- sources -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceHealth:
    info: SourceInfo
    #: "ok", "failing", "disabled" or "new" (never read yet).
    state: str
    arrivals: Sparkline

    @property
    def moved(self) -> bool:
        return self.info.moved_from is not None


@dataclass(frozen=True)
class SourcesView:
    sources: list[SourceHealth]
    runs: list[RunInfo]
    days: int = ACTIVITY_DAYS
    counts: dict[str, int] = field(default_factory=dict)

    def __iter__(self) -> Iterator[SourceHealth]:
        return iter(self.sources)


def source_state(info: SourceInfo) -> str:
    if not info.enabled:
        return "disabled"
    if info.error_count:
        return "failing"
    return "ok" if info.last_success_at is not None else "new"


def sources_view(store: Store, *, now: datetime, runs: int = 5) -> SourcesView:
    """Every source's health: state, last success, last error and its reason, next due, and the
    articles it brought each day of the last month."""
    arrivals = store.source_arrivals(days=ACTIVITY_DAYS, now=now)
    health = [
        SourceHealth(info, source_state(info), sparkline(arrivals.get(info.name, [0] * ACTIVITY_DAYS)))
        for info in store.list_sources()
    ]
    counts: dict[str, int] = {}
    for h in health:
        counts[h.state] = counts.get(h.state, 0) + 1
    counts["moved"] = sum(h.moved for h in health)
    return SourcesView(health, store.recent_runs(runs), ACTIVITY_DAYS, counts)
