"""A loopback HTTP server for a folder of pages: the fixture site in tests, the demo, benchmarks.

Sitemaps, feeds and robots.txt must hold absolute URLs, but the port is chosen at start-up; so
``{base}`` in .xml, .txt, .json and .opml files is replaced with the server's own address
("http://127.0.0.1:PORT") as they are served. The server has a deep listen backlog (the stock
``http.server`` collapses under Scrapy's concurrency) and honours If-None-Match and
If-Modified-Since, so conditional-GET behaviour can be tested.

It also misbehaves on request, as publishers' servers do: ``server.faults[path] = Fault.X`` makes
that path answer with a 500, a 503 with Retry-After, no answer at all, a reset connection, a body
shorter than its Content-Length, a slow drip, a redirect loop, a 50 MB page, a gzip bomb, a
wrong or missing charset, binary bytes served as HTML, or an endless calendar of sitemaps. The
crawl tests (tests/test_faults.py) check that a crawl survives every one of them.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate, parsedate_to_datetime
from enum import StrEnum
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

logger = logging.getLogger(__name__)

_TEMPLATED = (".xml", ".txt", ".json", ".opml", ".atom", ".rss")
#: A fixed Last-Modified for every file, so conditional requests behave the same on every run.
_LAST_MODIFIED = formatdate(1_767_225_600, usegmt=True)  # 2026-01-01


class Fault(StrEnum):
    """Ways a path can misbehave (see the module docstring)."""

    #: HTTP 500, a small HTML error page.
    SERVER_ERROR = "500"
    #: HTTP 503 with ``Retry-After: 120``.
    UNAVAILABLE = "503"
    #: Reads the request and never answers (until the server stops).
    TIMEOUT = "timeout"
    #: Closes the connection with a TCP reset instead of an answer.
    RESET = "reset"
    #: Announces 20000 bytes, sends 600 of a page, closes.
    TRUNCATED = "truncated"
    #: A correct Content-Length, then one byte every quarter of a second.
    DRIP = "drip"
    #: 302 to the same path with ``?loop`` toggled: a loop of two URLs.
    REDIRECT_LOOP = "redirect-loop"
    #: A 50 MB page with its Content-Length announced.
    HUGE = "huge"
    #: A 50 MB page without a Content-Length (read until the server closes).
    HUGE_UNANNOUNCED = "huge-unannounced"
    #: 64 MB of HTML gzipped to about 64 kB, ``Content-Encoding: gzip``.
    GZIP_BOMB = "gzip-bomb"
    #: The file's UTF-8 text re-encoded as cp1252, served as ``charset=utf-8``.
    WRONG_CHARSET = "wrong-charset"
    #: The file served as ``text/html`` with no charset anywhere.
    MISSING_CHARSET = "missing-charset"
    #: 4 kB of random bytes served as ``text/html; charset=utf-8``.
    BINARY = "binary"
    #: A sitemap index whose only child is the next month's index, forever (``?month=N``).
    CALENDAR = "calendar"


#: Size of the huge pages and of what the gzip bomb inflates to.
HUGE_SIZE = 50 * 1024 * 1024
BOMB_SIZE = 64 * 1024 * 1024
_bomb: bytes | None = None
_bomb_lock = threading.Lock()


def gzip_bomb() -> bytes:
    """BOMB_SIZE bytes of HTML, gzipped once per process (about 64 kB)."""
    global _bomb
    with _bomb_lock:
        if _bomb is None:
            page = b"<html><body><p>" + b"a " * (BOMB_SIZE // 2) + b"</p></body></html>"
            _bomb = gzip.compress(page, compresslevel=9, mtime=0)
        return _bomb


class SiteServer(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = root
        self.hits: Counter[str] = Counter()
        #: Scripted answers for paths (tests of redirects, 410, 429...): path -> (status, headers, body).
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        #: Paths that misbehave, and how (see Fault).
        self.faults: dict[str, Fault] = {}
        #: Set when the server stops: ends the answers that hang or drip.
        self.stopping = threading.Event()
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
        fault = self.server.faults.get(self.path.split("?", 1)[0])
        if fault is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                self._misbehave(fault)
            return
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

    def _answer(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _file_text(self) -> str:
        path = Path(self.translate_path(self.path))
        return path.read_text("utf-8") if path.is_file() else "<html><body><p>missing</p></body></html>"

    def _misbehave(self, fault: Fault) -> None:
        html = {"Content-Type": "text/html; charset=utf-8"}
        path, _, query = self.path.partition("?")
        if fault is Fault.SERVER_ERROR:
            self._answer(500, html, b"<html><body><h1>Internal Server Error</h1></body></html>")
        elif fault is Fault.UNAVAILABLE:
            self._answer(503, {**html, "Retry-After": "120"}, b"<html><body>busy</body></html>")
        elif fault is Fault.TIMEOUT:
            self.server.stopping.wait(120)
            self.close_connection = True
        elif fault is Fault.RESET:
            # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif fault is Fault.TRUNCATED:
            body = self._file_text().encode()
            self._answer(200, {**html, "Content-Length": str(max(20000, len(body) + 1))}, body[:600])
            self.close_connection = True
        elif fault is Fault.DRIP:
            body = self._file_text().encode()
            self._answer(200, {**html, "Content-Length": str(len(body))})
            for i in range(len(body)):
                if self.server.stopping.wait(0.25):
                    break
                self.wfile.write(body[i : i + 1])
            self.close_connection = True
        elif fault is Fault.REDIRECT_LOOP:
            target = path if query == "loop" else path + "?loop"
            self._answer(302, {"Location": self.server.base_url + target})
        elif fault in (Fault.HUGE, Fault.HUGE_UNANNOUNCED):
            announced = fault is Fault.HUGE
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            if announced:
                self.send_header("Content-Length", str(HUGE_SIZE))
            self.end_headers()
            chunk = b"<p>" + b"a " * 32766 + b"</p>\n"
            sent = 0
            while sent < HUGE_SIZE and not self.server.stopping.is_set():
                self.wfile.write(chunk[: HUGE_SIZE - sent])
                sent += len(chunk)
            self.close_connection = True
        elif fault is Fault.GZIP_BOMB:
            self._answer(200, {**html, "Content-Encoding": "gzip"}, gzip_bomb())
        elif fault is Fault.WRONG_CHARSET:
            self._answer(200, html, self._file_text().encode("cp1252", errors="replace"))
        elif fault is Fault.MISSING_CHARSET:
            text = self._file_text().replace('<meta charset="utf-8">', "")
            self._answer(200, {"Content-Type": "text/html"}, text.encode())
        elif fault is Fault.BINARY:
            self._answer(200, html, random.Random(path).randbytes(4096))
        elif fault is Fault.CALENDAR:
            month = int((parse_qs(query).get("month") or ["0"])[0] or 0)
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<sitemap><loc>{self.server.base_url}{path}?month={month + 1}</loc></sitemap>"
                "</sitemapindex>"
            ).encode()
            self._answer(200, {"Content-Type": "application/xml"}, body)

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
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
