"""A loopback HTTP server for a folder of pages: the fixture site in tests, the demo, benchmarks.

Sitemaps, feeds and robots.txt must hold absolute URLs, but the port is chosen at start-up; so
``{base}`` in .xml, .txt, .json and .opml files is replaced with the server's own address
("http://127.0.0.1:PORT") as they are served. The server has a deep listen backlog (the stock
``http.server`` collapses under Scrapy's concurrency) and honours If-None-Match and
If-Modified-Since, so conditional-GET behaviour can be tested.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate, parsedate_to_datetime
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_TEMPLATED = (".xml", ".txt", ".json", ".opml", ".atom", ".rss")
#: A fixed Last-Modified for every file, so conditional requests behave the same on every run.
_LAST_MODIFIED = formatdate(1_767_225_600, usegmt=True)  # 2026-01-01


class SiteServer(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = root
        self.hits: Counter[str] = Counter()
        #: Scripted answers for paths (tests of redirects, 410, 429...): path -> (status, headers, body).
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self._lock = threading.Lock()
        super().__init__((host, port), partial(_Handler, directory=str(root)))

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def count(self, path: str) -> None:
        with self._lock:
            self.hits[path] += 1


class _Handler(SimpleHTTPRequestHandler):
    server: SiteServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo print their own progress."""

    def do_GET(self) -> None:
        self.server.count(self.path.split("?", 1)[0])
        route = self.server.routes.get(self.path.split("?", 1)[0])
        if route is not None:
            status, headers, body = route
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value.replace("{base}", self.server.base_url))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            self.send_error(HTTPStatus.NOT_FOUND, "not found")
            return
        body = path.read_bytes()
        if path.suffix in _TEMPLATED:
            body = body.replace(b"{base}", self.server.base_url.encode())
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if self._not_modified(etag):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", _LAST_MODIFIED)
        self.end_headers()
        self.wfile.write(body)

    def _not_modified(self, etag: str) -> bool:
        match = self.headers.get("If-None-Match")
        if match is not None:
            return etag in [m.strip() for m in match.split(",")] or match.strip() == "*"
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                return parsedate_to_datetime(since) >= parsedate_to_datetime(_LAST_MODIFIED)
            except (TypeError, ValueError):
                return False
        return False

    def guess_type(self, path: Any) -> str:
        if str(path).endswith(".html"):
            return "text/html; charset=utf-8"
        if str(path).endswith(".xml"):
            return "application/xml"
        return str(super().guess_type(path))


@contextmanager
def serve(root: Path, port: int = 0, *, fallback_to_free: bool = False) -> Iterator[SiteServer]:
    """Serve ``root`` on 127.0.0.1 in a background thread for the duration of the block.

    With ``fallback_to_free``, a taken ``port`` is replaced by a free one instead of failing.
    """
    try:
        server = SiteServer(root, port=port)
    except OSError:
        if not fallback_to_free or port == 0:
            raise
        logger.warning("port %d is taken; serving %s on a free port", port, root)
        server = SiteServer(root, port=0)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
