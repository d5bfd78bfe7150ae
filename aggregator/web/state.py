"""What every request of the web app reaches: the settings it was started with, the store, the
write guard, the crawl launcher and the templates (``request.app.state.web``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import cast

from fastapi import Request
from fastapi.templating import Jinja2Templates

from aggregator.store import Store
from aggregator.web.actions import CrawlLauncher
from aggregator.web.security import Guard


@dataclass(frozen=True)
class WebSettings:
    db_url: str
    #: The write token; None: the app is read-only.
    token: str | None = None
    #: How to run the command line in a child process (crawls, adding a source).
    command: tuple[str, ...] = (sys.executable, "-m", "aggregator")
    #: The search index's folder (aggregator.textindex); None: search the database.
    search_index: str | None = None


@dataclass
class AppState:
    settings: WebSettings
    store: Store
    guard: Guard
    crawls: CrawlLauncher
    templates: Jinja2Templates


def web_state(request: Request) -> AppState:
    return cast(AppState, request.app.state.web)
