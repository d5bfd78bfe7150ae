"""The HTML pages: search, an article, a story, stories, sources, tags, feeds of a search, and
the forms that change something (signing in, adding and removing sources, starting a crawl).

Pages work without JavaScript; static/app.js only adds keyboard navigation. Every route of this
router depends on the CSRF check, which lets GET and HEAD through and refuses any other method
without a matching token, so no form post can be added unchecked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from aggregator.errors import InputError
from aggregator.feedwriter import atom, jsonfeed, planet_title
from aggregator.model import SourceKind
from aggregator.tags import fold_tag
from aggregator.web import actions, pages, params
from aggregator.web.security import CSRF_COOKIE, SESSION_COOKIE, SESSION_SECONDS, csrf_guard, csrf_token
from aggregator.web.state import web_state

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

FLASH_COOKIE = "agg_flash"
#: Articles in a feed of a search.
FEED_LIMIT = 50


def _when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(UTC).strftime(fmt) if value is not None else "–"


def _query(values: dict[str, str]) -> str:
    return ("?" + urlencode(values)) if values else ""


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page: the template with what every page needs (CSRF token, whether writes are on), and
    the CSRF cookie set when the browser has none yet."""
    state = web_state(request)
    token = csrf_token(request)
    flash = request.cookies.get(FLASH_COOKIE, "")
    response = state.templates.TemplateResponse(
        request,
        template,
        {
            "csrf_token": token,
            "writable": state.guard.writable,
            "signed_in": state.guard.signed_in(request),
            "flash": flash[:300],
            "when": _when,
            "query": _query,
            **context,
        },
        status_code=status,
    )
    secure = request.url.scheme == "https"
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure)
    if flash:
        response.delete_cookie(FLASH_COOKIE)
    return response


def error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", {"status": status, "message": message}, status)


def _redirect(url: str, flash: str = "") -> Response:
    response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, flash[:300], httponly=True, samesite="strict", max_age=60)
    return response


def _filters(request: Request, **fixed: str) -> pages.Filters:
    q = request.query_params
    try:
        page = int(q.get("page") or 1)
    except ValueError as exc:
        raise params.InvalidParameter("page", "a whole number") from exc
    values = {k: q.get(k) for k in ("q", "tag", "source", "section", "language")}
    values.update(fixed)
    return params.filters(**values, since=q.get("since"), until=q.get("until"), page=page)


@router.get("/healthz")
def healthz() -> PlainTextResponse:
    """Readiness: answers once the app is up (tests and service managers poll it)."""
    return PlainTextResponse("ok")


@router.get("/")
def search_page(request: Request) -> Response:
    filters = _filters(request)
    store = web_state(request).store
    try:
        found = pages.results(store, filters)
    except InputError as exc:
        # The reader's query is kept in the box, with what is wrong with it.
        return render(request, "search.html", {"filters": filters, "results": None, "error": str(exc)}, 400)
    return render(request, "search.html", {"filters": filters, "results": found, "error": ""})


@router.get("/feeds/search.atom")
def feed_atom(request: Request) -> Response:
    filters = _filters(request)
    title, feed_id = planet_title(
        tag=filters.tag or None, source=filters.source or None, query=filters.q or None
    )
    articles = pages.feed_articles(web_state(request).store, filters, limit=FEED_LIMIT)
    return Response(atom(articles, title=title, feed_id=feed_id), media_type="application/atom+xml")


@router.get("/feeds/search.json")
def feed_json(request: Request) -> Response:
    filters = _filters(request)
    title, _ = planet_title(tag=filters.tag or None, source=filters.source or None, query=filters.q or None)
    articles = pages.feed_articles(web_state(request).store, filters, limit=FEED_LIMIT)
    return Response(jsonfeed(articles, title=title), media_type="application/feed+json")


@router.get("/articles/{article_id:int}")
def article_page(request: Request, article_id: int) -> Response:
    view = pages.article_view(web_state(request).store, article_id)
    if view is None:
        raise HTTPException(404, f"no article {article_id}")
    return render(request, "article.html", {"view": view})


@router.get("/stories")
def stories_page(request: Request) -> Response:
    filters = _filters(request)
    per_page = pages.PER_PAGE
    found = web_state(request).store.story_summaries(
        offset=(filters.page - 1) * per_page, limit=per_page + 1, min_size=2
    )
    return render(
        request,
        "stories.html",
        {"stories": found[:per_page], "page": filters.page, "has_next": len(found) > per_page},
    )


@router.get("/stories/{story_id:int}")
def story_page(request: Request, story_id: int) -> Response:
    view = pages.story_view(web_state(request).store, story_id)
    if view is None:
        raise HTTPException(404, f"no story {story_id}")
    return render(request, "story.html", {"view": view})


@router.get("/sources")
def sources_page(request: Request) -> Response:
    state = web_state(request)
    view = pages.sources_view(state.store, now=datetime.now(UTC))
    return render(
        request, "sources.html", {"view": view, "crawl": state.crawls.state(), "kinds": list(SourceKind)}
    )


@router.get("/tags")
def tags_page(request: Request) -> Response:
    return render(request, "tags.html", {"tags": web_state(request).store.top_tags(300)})


@router.get("/tags/{name:path}")
def tag_page(request: Request, name: str) -> Response:
    tag = fold_tag(params.clean_text("tag", name))
    filters = _filters(request, tag=tag)
    found = pages.results(web_state(request).store, filters)
    return render(request, "tag.html", {"tag": tag, "filters": filters, "results": found})


# --- signing in and the write actions ------------------------------------------------------------


@router.get("/login")
def login_page(request: Request) -> Response:
    return render(request, "login.html", {"error": ""})


@router.post("/login")
def login(request: Request, token: Annotated[str, Form()] = "") -> Response:
    guard = web_state(request).guard
    if not guard.writable:
        return render(request, "login.html", {"error": "This server is read-only."}, 403)
    if not guard.token_matches(token):
        return render(request, "login.html", {"error": "That is not the server's token."}, 403)
    response = _redirect("/sources", "Signed in: you can add and remove sources and start crawls.")
    response.set_cookie(
        SESSION_COOKIE,
        guard.new_session(),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    response = _redirect("/", "Signed out.")
    response.delete_cookie(SESSION_COOKIE)
    return response


def _require_session(request: Request) -> None:
    guard = web_state(request).guard
    if not guard.writable:
        raise HTTPException(403, "this server is read-only (start it with --token to allow changes)")
    if not guard.signed_in(request):
        raise HTTPException(403, "sign in with the server's token first")


@router.post("/sources/add")
def add_source(
    request: Request,
    url: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    _require_session(request)
    state = web_state(request)
    url = params.clean_text("url", url)
    name = params.clean_text("name", name)
    if not url:
        return _redirect("/sources", "Give the URL of a feed, a sitemap or a site.")
    chosen = SourceKind(kind) if kind in tuple(SourceKind) else None
    outcome = actions.add_source(state.settings.command, state.settings.db_url, url, kind=chosen, name=name)
    return _redirect("/sources", outcome.message)


@router.post("/sources/remove")
def remove_source(request: Request, name: Annotated[str, Form()] = "") -> Response:
    _require_session(request)
    outcome = actions.remove_source(web_state(request).store, name)
    return _redirect("/sources", outcome.message)


@router.post("/sources/crawl")
def crawl(request: Request, source: Annotated[str, Form()] = "") -> Response:
    _require_session(request)
    names = (source,) if source else ()
    outcome = web_state(request).crawls.start(names, now=datetime.now(UTC))
    return _redirect("/sources", outcome.message)
