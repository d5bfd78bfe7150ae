"""The reader's web app (``aggregator serve``, #15): search, articles, stories across outlets,
sources' health and tags as server-rendered pages, the same as a JSON API under /api/.

- ``app``          make_app(settings): the FastAPI application over one store
- ``state``        settings and what every request reaches
- ``pages``        what each page shows, gathered from the store (the app's logic; no SQL, no HTTP)
- ``params``       the search filters from a query string, checked
- ``wording``      word-level differences between copies of a story
- ``sparkline``    daily counts as an inline SVG polyline
- ``routes_html``  pages and forms; ``routes_api`` the JSON API; ``schemas`` its documents
- ``security``     security headers, the write token, sessions, CSRF
- ``actions``      writes: add/remove a source, a crawl in a child process

Only ``aggregator serve`` imports this package, so the rest of the command line never loads
FastAPI.
"""

from __future__ import annotations

from aggregator.web.app import make_app as make_app
from aggregator.web.state import WebSettings as WebSettings

__all__ = ["WebSettings", "make_app"]
