"""The JSON API under /api/: the same records as the pages, as documents described by
/api/openapi.json (made from aggregator.web.schemas).

Reads are open; writes (adding and removing sources, starting a crawl) need the server's token
as ``Authorization: Bearer TOKEN`` and are refused outright when the server has none. A bearer
token is not something a browser sends on its own, so the API needs no CSRF token.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator

from aggregator.store.records import Facets
from aggregator.web import actions, pages, params, schemas
from aggregator.web.state import web_state

router = APIRouter(prefix="/api")

PROBLEM: dict[str, Any] = {"model": schemas.Problem}
#: The answers a route gives besides 200 and FastAPI's own 422: a filter that cannot be used,
#: something missing, no or the wrong token, a crawl already running.
READ_ERRORS: dict[int | str, dict[str, Any]] = {400: PROBLEM}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: PROBLEM, 400: PROBLEM}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 409: PROBLEM}

bearer = HTTPBearer(auto_error=False, description="The token `aggregator serve` was started with.")


def _iso_date(value: object) -> object:
    """Only YYYY-MM-DD: pydantic would also take a number as a timestamp ("until=0")."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("a date as YYYY-MM-DD")
    return value


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
Text = Annotated[str, Query(max_length=params.MAX_LENGTH, pattern=params.TEXT_PATTERN)]
Day = Annotated[date | None, BeforeValidator(_iso_date), Query(description="YYYY-MM-DD")]
Page = Annotated[int, Query(ge=1, le=pages.MAX_PAGE)]
Id = Annotated[int, Path(ge=1, le=pages.MAX_ID)]


def _filters(
    q: str,
    tag: str,
    source: str,
    section: str,
    language: str,
    since: date | None,
    until: date | None,
    page: int,
) -> pages.Filters:
    return params.filters(
        q=q, tag=tag, source=source, section=section, language=language, since=since, until=until, page=page
    )


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    guard = web_state(request).guard
    if credentials is None:
        raise HTTPException(401, "a Bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
    if not guard.writable:
        raise HTTPException(403, "this server is read-only (start it with --token to allow changes)")
    if not guard.token_matches(credentials.credentials):
        raise HTTPException(401, "not the server's token", headers={"WWW-Authenticate": "Bearer"})


@router.get("/search", responses=READ_ERRORS)
def search(
    request: Request,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=params.MAX_LENGTH,
            pattern=params.TEXT_PATTERN,
            description='The CLI\'s query language: words, "exact phrases", prefix*, -word or '
            "NOT word, OR. A query with nothing to look for has no hits and a notice saying why.",
        ),
    ],
    tag: Text = "",
    source: Text = "",
    section: Text = "",
    language: Text = "",
    since: Day = None,
    until: Day = None,
    page: Page = 1,
) -> schemas.SearchOut:
    """Full-text search, one hit per story (with the other outlets that carry it), and facets."""
    filters = _filters(q, tag, source, section, language, since, until, page)
    if not filters.q:  # blanks only: nothing to look for
        return schemas.SearchOut(
            notice="",
            page=page,
            per_page=pages.PER_PAGE,
            has_next=False,
            hits=[],
            facets=schemas.facets_out(Facets(0)),
        )
    return schemas.search_out(pages.results(web_state(request).store, filters))


@router.get("/articles", responses=READ_ERRORS)
def articles(
    request: Request,
    tag: Text = "",
    source: Text = "",
    section: Text = "",
    language: Text = "",
    since: Day = None,
    until: Day = None,
    page: Page = 1,
) -> schemas.SearchOut:
    """The newest articles under the filters, one per story, and facets."""
    filters = _filters("", tag, source, section, language, since, until, page)
    return schemas.search_out(pages.results(web_state(request).store, filters))


@router.get("/articles/{article_id}", responses=NOT_FOUND)
def article(request: Request, article_id: Id) -> schemas.ArticleOut:
    """One article: its clean text, where its fields came from, its tags and their origins."""
    view = pages.article_view(web_state(request).store, article_id)
    if view is None:
        raise HTTPException(404, f"no article {article_id}")
    return schemas.article_out(view)


@router.get("/stories", responses=READ_ERRORS)
def stories(
    request: Request, page: Page = 1, min_size: Annotated[int, Query(ge=1, le=1000)] = 2
) -> list[schemas.StorySummaryOut]:
    """Stories several articles carry, the most recently published first."""
    found = web_state(request).store.story_summaries(
        offset=(page - 1) * pages.PER_PAGE, limit=pages.PER_PAGE, min_size=min_size
    )
    return [schemas.story_summary_out(s) for s in found]


@router.get("/stories/{story_id}", responses=NOT_FOUND)
def story(request: Request, story_id: Id) -> schemas.StoryOut:
    """Every copy of a story, with how much of the first copy's wording each keeps."""
    view = pages.story_view(web_state(request).store, story_id)
    if view is None:
        raise HTTPException(404, f"no story {story_id}")
    return schemas.story_out(view)


@router.get("/sources")
def sources(request: Request) -> list[schemas.SourceOut]:
    """Every source's health: state, last success, last error and why, next due, arrivals."""
    view = pages.sources_view(web_state(request).store, now=datetime.now(UTC))
    return [schemas.source_out(h) for h in view.sources]


@router.get("/runs")
def runs(request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> list[schemas.RunOut]:
    """The latest crawl runs, newest first."""
    return [schemas.run_out(r) for r in web_state(request).store.recent_runs(limit)]


@router.get("/tags")
def tags(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[schemas.TagCountOut]:
    """The most used tags with their article counts."""
    return [schemas.TagCountOut(name=n, count=c) for n, c in web_state(request).store.top_tags(limit)]


@router.post("/sources", status_code=201, responses=WRITE_ERRORS, dependencies=[Depends(require_token)])
def add_source(request: Request, body: schemas.SourceIn, response: Response) -> schemas.ActionOut:
    """Add a source (as ``aggregator sources add`` does, in a child process)."""
    state = web_state(request)
    url = params.clean_text("url", body.url)
    name = params.clean_text("name", body.name)
    outcome = actions.add_source(
        state.settings.command, state.settings.db_url, url, kind=body.kind, name=name
    )
    if not outcome.ok:
        raise HTTPException(400, outcome.message)
    return schemas.ActionOut(ok=True, message=outcome.message)


@router.delete("/sources", responses={**WRITE_ERRORS, 404: PROBLEM}, dependencies=[Depends(require_token)])
def remove_source(
    request: Request, name: Annotated[str, Query(min_length=1, max_length=200, pattern=params.TEXT_PATTERN)]
) -> schemas.ActionOut:
    """Remove a source; its articles stay."""
    outcome = actions.remove_source(web_state(request).store, name)
    if not outcome.ok:
        raise HTTPException(404, outcome.message)
    return schemas.ActionOut(ok=True, message=outcome.message)


@router.post("/crawls", status_code=202, responses=WRITE_ERRORS, dependencies=[Depends(require_token)])
def start_crawl(request: Request, body: schemas.CrawlIn) -> schemas.ActionOut:
    """Start ``aggregator crawl`` in a child process (the named sources, else every due one)."""
    outcome = web_state(request).crawls.start(tuple(body.sources), now=datetime.now(UTC))
    if not outcome.ok:
        raise HTTPException(409, outcome.message)
    return schemas.ActionOut(ok=True, message=outcome.message)
