"""The web app: one FastAPI application over one store, HTML pages and the JSON API.

``make_app(settings)`` builds it (tests and ``aggregator serve`` alike); the store opens with
the app and closes with it, and a crawl it started is asked to stop when it shuts down.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Route

from aggregator import __version__
from aggregator.errors import AggregatorError, InputError
from aggregator.store import Store
from aggregator.web import routes_api, routes_html
from aggregator.web.actions import CrawlLauncher
from aggregator.web.security import Guard, SecurityHeaders
from aggregator.web.state import AppState, WebSettings


def _templates() -> Jinja2Templates:
    folder = resources.files("aggregator.web").joinpath("templates")
    templates = Jinja2Templates(directory=str(folder))
    # Autoescape is Starlette's default for .html; made explicit because it is what keeps stored
    # text from ever becoming markup.
    templates.env.autoescape = True
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    return templates


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    return sorted(
        {
            method
            for route in app.router.routes
            if isinstance(route, Route) and route.methods and route.path_regex.fullmatch(path)
            for method in route.methods
        }
    )


def make_app(settings: WebSettings, *, store: Store | None = None) -> FastAPI:
    """The application over ``settings.db_url`` (or over ``store``, which the caller closes)."""
    opened = store is None
    the_store = store if store is not None else Store(settings.db_url, search_index=settings.search_index)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The search index, if any, follows the database while the app runs (TextIndex.follow).
        stop = threading.Event()
        index = the_store.text_index
        follower = None
        if index is not None:
            follower = threading.Thread(target=index.follow, args=(the_store, stop), daemon=True)
            follower.start()
        try:
            yield
        finally:
            stop.set()
            if follower is not None:
                follower.join(timeout=30)
            state: AppState = app.state.web
            state.crawls.stop()
            if opened:
                state.store.close()

    app = FastAPI(
        title="industry-news-aggregator",
        version=__version__,
        description="Read what the aggregator stored: search, articles, stories across outlets, "
        "sources' health, tags. Writes need the server's token as a Bearer token.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.web = AppState(
        settings=settings,
        store=the_store,
        guard=Guard(settings.token),
        crawls=CrawlLauncher(settings.command, settings.db_url),
        templates=_templates(),
    )
    static = resources.files("aggregator.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.include_router(routes_api.router)
    app.include_router(routes_html.router)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the methods of the first route that matched the path; a
            # path served by several routes (GET and POST /api/sources) allows all of theirs.
            headers["Allow"] = ", ".join(_allowed_methods(app, request.url.path))
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc.detail)}, exc.status_code, headers=headers)
        response = routes_html.error_page(request, exc.status_code, str(exc.detail))
        response.headers.update(headers)
        return response

    @app.exception_handler(AggregatorError)
    async def aggregator_error(request: Request, exc: AggregatorError) -> Response:
        # Input the engine refuses (a query, a date) is the reader's to fix: 400; anything else
        # the aggregator raises on purpose (the database is gone) is the server's: 503.
        status = 400 if isinstance(exc, InputError) else 503
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status)
        return routes_html.error_page(request, status, str(exc))

    return app
