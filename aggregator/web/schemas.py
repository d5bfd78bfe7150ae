"""The JSON API's documents: pydantic models, so the OpenAPI document (/api/openapi.json) is
made from the same classes that shape each response and cannot drift from them.

These are the published shape at the edge; the records in aggregator.web.pages and the store
stay the internal ones, and ``from_*`` functions convert, one per document.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from aggregator.model import SourceKind, TagOrigin, TextOrigin
from aggregator.store.records import FacetCount, Facets, RunInfo, StoredArticle, StorySummary
from aggregator.web.pages import ArticleView, Hit, Results, SourceHealth, StoryView


class Problem(BaseModel):
    """Why a request was refused (a query the engine cannot read, a missing token...)."""

    detail: str


class FacetValue(BaseModel):
    value: str
    count: int


class FacetsOut(BaseModel):
    total: int = Field(description="Articles matched in all (every copy counts), at most 5000 for a text.")
    more: bool = Field(False, description="More than total match (a text's matches are counted up to 5000).")
    counted: int = Field(
        description="The matches the counts below are over: at most 1000, the best ranked under"
        " filters, else the newest."
    )
    tags: list[FacetValue]
    sources: list[FacetValue]
    sections: list[FacetValue]
    languages: list[FacetValue]


class HitOut(BaseModel):
    id: int = Field(description="The article's id (GET /api/articles/{id}).")
    url: str
    title: str
    source: str | None
    outlet: str
    published: datetime | None
    snippet: str = Field(description="Text around the matched words, each match [in brackets].")
    story_id: int | None
    other_outlets: list[str] = Field(description="Other outlets that carry the same story.")
    other_copies: int


class SearchOut(BaseModel):
    notice: str = Field("", description="Why there are no hits when the query has nothing to look for.")
    page: int
    per_page: int
    has_next: bool
    hits: list[HitOut]
    facets: FacetsOut


class TagOut(BaseModel):
    name: str
    origin: TagOrigin


class ArticleOut(BaseModel):
    id: int
    url: str = Field(description="Where the page was fetched from.")
    canonical_url: str
    source: str | None
    site_name: str
    title: str
    subtitle: str
    authors: list[str]
    published: datetime | None
    updated: datetime | None
    section: str
    dateline: str
    language: str
    text: str = Field(description="The clean text; paragraphs are separated by a blank line.")
    word_count: int
    image_url: str
    tags: list[TagOut]
    text_origin: TextOrigin
    text_stage: str = Field(description="The extraction stage that produced the text ('' if unknown).")
    story_id: int | None
    story_copies: list[int] = Field(description="Ids of the other articles of the same story.")
    aliases: list[str] = Field(description="Other URLs that served exactly this text.")
    first_seen_at: datetime
    changed_at: datetime


class CopyOut(BaseModel):
    id: int
    url: str
    title: str
    outlet: str
    source: str | None
    published: datetime | None
    similarity: float = Field(description="Share of words in common with the first copy, 0 to 1.")


class StoryOut(BaseModel):
    story_id: int
    title: str
    first_published: datetime | None
    last_published: datetime | None
    outlets: list[str]
    copies: list[CopyOut]


class StorySummaryOut(BaseModel):
    story_id: int
    size: int
    title: str
    first_published: datetime | None
    last_published: datetime | None


class SourceOut(BaseModel):
    name: str
    kind: SourceKind
    url: str
    state: str = Field(description="ok, failing, disabled, or new (never read yet).")
    enabled: bool
    disabled_reason: str | None
    tags: list[str]
    interval_seconds: int
    article_count: int
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    error_count: int
    next_due_at: datetime | None
    moved_from: str | None
    moved_at: datetime | None
    arrivals: list[int] = Field(description="Articles first seen on each of the last days, oldest first.")


class TagCountOut(BaseModel):
    name: str
    count: int


class RunOut(BaseModel):
    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    sources: list[str]
    new: int
    errors: int
    failures: dict[str, str]


class SourceIn(BaseModel):
    url: str = Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")
    kind: SourceKind | None = Field(None, description="Without a kind the URL is fetched to find out.")
    name: str = Field("", max_length=200, pattern=r"^[^\x00]*$")


class CrawlIn(BaseModel):
    sources: list[str] = Field(default_factory=list, description="Source names; none: every due source.")


class ActionOut(BaseModel):
    ok: bool
    message: str


def facets_out(f: Facets) -> FacetsOut:
    def values(counts: tuple[FacetCount, ...]) -> list[FacetValue]:
        return [FacetValue(value=c.value, count=c.count) for c in counts]

    return FacetsOut(
        total=f.total,
        more=f.more,
        counted=f.counted,
        tags=values(f.tags),
        sources=values(f.sources),
        sections=values(f.sections),
        languages=values(f.languages),
    )


def hit_out(h: Hit) -> HitOut:
    return HitOut(
        id=h.article_id,
        url=h.canonical_url,
        title=h.title,
        source=h.source,
        outlet=h.outlet,
        published=h.published,
        snippet="".join(f"[{p.text}]" if p.matched else p.text for p in h.snippet),
        story_id=h.story_id,
        other_outlets=list(h.other_outlets),
        other_copies=h.other_copies,
    )


def search_out(r: Results) -> SearchOut:
    return SearchOut(
        notice=r.notice,
        page=r.filters.page,
        per_page=r.per_page,
        has_next=r.has_next,
        hits=[hit_out(h) for h in r.hits],
        facets=facets_out(r.facets),
    )


def article_out(view: ArticleView) -> ArticleOut:
    s: StoredArticle = view.stored
    a = s.article
    return ArticleOut(
        id=s.id,
        url=a.url,
        canonical_url=a.canonical_url,
        source=a.source,
        site_name=a.site_name,
        title=a.title,
        subtitle=a.subtitle,
        authors=list(a.authors),
        published=a.published,
        updated=a.updated,
        section=a.section,
        dateline=a.dateline,
        language=a.language,
        text=a.text,
        word_count=a.word_count,
        image_url=a.image_url,
        tags=[TagOut(name=t.name, origin=t.origin) for t in a.tag_list()],
        text_origin=TextOrigin(a.text_origin),
        text_stage=a.text_stage,
        story_id=a.story_id,
        story_copies=[c.id for c in view.story],
        aliases=list(s.aliases),
        first_seen_at=s.first_seen_at,
        changed_at=s.changed_at,
    )


def story_out(view: StoryView) -> StoryOut:
    return StoryOut(
        story_id=view.story_id,
        title=view.title,
        first_published=view.first_published,
        last_published=view.last_published,
        outlets=view.outlets,
        copies=[
            CopyOut(
                id=c.stored.id,
                url=c.stored.article.canonical_url,
                title=c.stored.article.title,
                outlet=c.outlet,
                source=c.stored.article.source,
                published=c.stored.article.published,
                similarity=round(c.similarity, 4),
            )
            for c in view.copies
        ],
    )


def story_summary_out(s: StorySummary) -> StorySummaryOut:
    return StorySummaryOut(
        story_id=s.story_id,
        size=s.size,
        title=s.title,
        first_published=s.first_published,
        last_published=s.last_published,
    )


def source_out(h: SourceHealth) -> SourceOut:
    i = h.info
    return SourceOut(
        name=i.name,
        kind=i.kind,
        url=i.url,
        state=h.state,
        enabled=i.enabled,
        disabled_reason=i.disabled_reason,
        tags=list(i.tags),
        interval_seconds=i.interval_seconds,
        article_count=i.article_count,
        last_success_at=i.last_success_at,
        last_error=i.last_error,
        last_error_at=i.last_error_at,
        error_count=i.error_count,
        next_due_at=i.next_due_at,
        moved_from=i.moved_from,
        moved_at=i.moved_at,
        arrivals=list(h.arrivals.counts),
    )


def run_out(r: RunInfo) -> RunOut:
    return RunOut(
        id=r.id,
        started_at=r.started_at,
        finished_at=r.finished_at,
        status=r.status,
        sources=list(r.sources),
        new=r.totals.new,
        errors=r.totals.errors,
        failures=dict(r.totals.failures),
    )
