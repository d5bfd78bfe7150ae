"""The web app's fixtures: a store crawled from real sites over loopback, and the app served on
127.0.0.1 by ``aggregator serve`` in a child process (read-only, and with a token).

The store is the bundled fixture site (Industry Wire, 31 articles) plus two more outlets made
here from the story-dedupe pairs (fixtures/dedupe/pairs.json): the Daily Ledger and the Metro
Courier run wire copies of Industry Wire stories with their usual edits, so stories span three
outlets. A few sources are broken on purpose (404, 410 Gone, a permanent redirect) so the sources
page has failing, disabled and moved sources to show. Everything goes through the real crawl.
"""

from __future__ import annotations

import json
import os
import selectors
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import httpx
import pytest

from aggregator.devserver import SiteServer, serve
from tests.conftest import FIXTURES, ROOT, fixture_articles, run_cli

TOKEN = "web-test-token-0123456789"
NO_THROTTLE = ("-s", "AUTOTHROTTLE_ENABLED=False")
INDUSTRY_WIRE = (
    "--source",
    "industry-wire-rss",
    "--source",
    "industry-wire-energy",
    "--source",
    "industry-wire-sitemap",
)
#: A paragraph whose text looks like markup: the pages must show it as text.
HOSTILE = "Analysts wrote <script>alert('stored')</script> & <b>bold</b> claims in the filing."

#: (outlet, folder, pair kind, base slug, hours after the original)
COPIES = [
    ("Daily Ledger", "ledger", "combined-edits", "japan-space-policy", 5),
    ("Daily Ledger", "ledger", "dateline-agency-and-weekday", "offshore-wind-auction-results", 3),
    ("Daily Ledger", "ledger", "us-spelling", "paper-mill-closure", 2),
    ("Metro Courier", "courier", "local-paragraph", "japan-space-policy", 9),
]


@dataclass(frozen=True)
class ReaderStore:
    db_url: str
    #: Base URLs of the fixture site and of the outlets' site.
    fixture_base: str
    outlets_base: str
    #: The canonical URL of the story that three outlets carry.
    japan_url: str


def _page(outlet: str, title: str, published: datetime, paragraphs: list[str]) -> str:
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | {outlet}</title>
<meta property="og:site_name" content="{outlet}">
<meta property="og:title" content="{escape(title)}">
<meta property="article:published_time" content="{published.isoformat()}">
<meta property="article:section" content="Wire">
</head><body><header><a href="/">{outlet}</a></header>
<main><article><h1>{escape(title)}</h1>
<p class="byline">By The Associated Press</p>
{body}
</article></main><footer>© {outlet}</footer></body></html>
"""


def _feed(outlet: str, items: list[tuple[str, str, datetime]]) -> str:
    entries = "\n".join(
        f"<item><title>{escape(t)}</title><link>{{base}}{path}</link>"
        f"<pubDate>{format_datetime(when)}</pubDate><category>wire</category></item>"
        for t, path, when in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{outlet}</title><link>{{base}}/</link>
<description>{outlet} wire copies</description>
{entries}
</channel></rss>
"""


def build_outlets(root: Path) -> None:
    """Write the Daily Ledger's and the Metro Courier's pages and feeds under ``root``."""
    originals = {a["slug"]: a for a in fixture_articles()}
    pairs = {
        (p["kind"], p["a"][:60]): p for p in json.loads((FIXTURES / "dedupe" / "pairs.json").read_text())
    }
    feeds: dict[str, list[tuple[str, str, datetime]]] = {}
    for outlet, folder, kind, slug, hours in COPIES:
        original = originals[slug]
        text = pairs[kind, "\n\n".join(original["paragraphs"])[:60]]["b"]
        paragraphs = text.split("\n\n")
        if slug == "paper-mill-closure":
            paragraphs.append(HOSTILE)
        published = datetime.fromisoformat(original["published"]).astimezone(UTC) + timedelta(hours=hours)
        path = f"/{folder}/{slug}.html"
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / f"{slug}.html").write_text(
            _page(outlet, original["title"], published, paragraphs), "utf-8"
        )
        feeds.setdefault(folder, []).append((original["title"], path, published))
    for folder, items in feeds.items():
        outlet = "Daily Ledger" if folder == "ledger" else "Metro Courier"
        (root / f"{folder}.xml").write_text(_feed(outlet, items), "utf-8")
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", "utf-8")
    (root / "index.html").write_text("<!DOCTYPE html><title>Outlets</title><p>Outlets</p>", "utf-8")


def _cli_ok(*args: str, db: str) -> str:
    result = run_cli(*args, db=db, timeout=300)
    assert result.code == 0, (args, result.stderr)
    return result.stdout


@pytest.fixture(scope="session")
def outlets_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteServer]:
    root = tmp_path_factory.mktemp("outlets")
    build_outlets(root)
    with serve(root) as server:
        server.routes["/gone.xml"] = (410, {}, b"")
        server.routes["/old-courier.xml"] = (301, {"Location": "{base}/courier-moved.xml"}, b"")
        server.routes["/courier-moved.xml"] = (200, {"Content-Type": "application/rss+xml"}, b"")
        yield server


@pytest.fixture(scope="session")
def reader_store(
    fixture_site: SiteServer, outlets_site: SiteServer, tmp_path_factory: pytest.TempPathFactory
) -> ReaderStore:
    """The fixture site and the two outlets crawled into one SQLite file (session-wide: the
    web tests only read it, except the flows that add a source, which use names of their own)."""
    db = f"sqlite:///{tmp_path_factory.mktemp('reader') / 'reader.db'}"
    site, outlets = fixture_site.base_url, outlets_site.base_url
    feed = (outlets_site.root / "courier.xml").read_bytes().replace(b"{base}", outlets.encode())
    outlets_site.routes["/courier-moved.xml"] = (200, {"Content-Type": "application/rss+xml"}, feed)
    for url, name, kind in [
        (site + "/feeds/rss.xml", "industry-wire-rss", "feed"),
        (site + "/feeds/atom.xml", "industry-wire-energy", "feed"),
        (site + "/sitemap_index.xml", "industry-wire-sitemap", "sitemap"),
        (outlets + "/ledger.xml", "daily-ledger", "feed"),
        (outlets + "/old-courier.xml", "metro-courier", "feed"),
        (outlets + "/missing.xml", "broken-feed", "feed"),
        (outlets + "/gone.xml", "closed-feed", "feed"),
    ]:
        _cli_ok("sources", "add", url, "--name", name, "--kind", kind, db=db)
    # The publisher first, then the outlets that copy it: the original is the article and the
    # copy with the same text its alias (in one crawl, whichever came first would be).
    first = run_cli("crawl", "--json", *NO_THROTTLE, *INDUSTRY_WIRE, db=db, timeout=300)
    assert first.code == 0, first.stderr
    assert json.loads(first.stdout)["new"] == 31
    crawl = run_cli("crawl", "--json", *NO_THROTTLE, db=db, timeout=300)  # what is due: the rest
    assert crawl.code == 3, crawl.stderr  # the two broken sources fail, on purpose
    report = json.loads(crawl.stdout)
    # The offshore-wind copy differs from the original only by its dateline, which extraction
    # takes apart: the same text, so an alias of it (the article page lists it); the others are
    # new articles that join the original's story.
    assert (report["new"], report["duplicates"]) == (3, 1), report
    return ReaderStore(db, site, outlets, site + "/aerospace/2020/06/japan-space-policy.html")


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    token: str | None
    process: subprocess.Popen[bytes]


def wait_until_ready(base_url: str, process: subprocess.Popen[bytes], *, deadline: float) -> None:
    """Poll /healthz until it answers 200 (or fail at the deadline, or if the server died)."""
    while True:
        if process.poll() is not None:
            pytest.fail(f"aggregator serve exited with {process.returncode} before it was ready")
        try:
            if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"aggregator serve at {base_url} not ready in time")
        time.sleep(0.1)


def _read_address(process: subprocess.Popen[bytes], deadline: float) -> str:
    """The URL ``aggregator serve`` prints on stderr when it listens."""
    assert process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    seen = b""
    while time.monotonic() < deadline:
        if selector.select(timeout=max(0.0, deadline - time.monotonic())):
            line = process.stderr.readline()
            if not line:
                break
            seen += line
            if b" at http://" in line:
                return line.split(b" at ", 1)[1].split(b"/ ", 1)[0].decode()
    pytest.fail(f"aggregator serve printed no address: {seen.decode(errors='replace')}")


@pytest.fixture(scope="session")
def start_server() -> Iterator[Callable[[str, str | None], LiveServer]]:
    """A factory of live servers: ``start(db_url, token)``; every one is stopped at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(db_url: str, token: str | None) -> LiveServer:
        env = {k: v for k, v in os.environ.items() if k not in ("AGGREGATOR_DB", "AGGREGATOR_WEB_TOKEN")}
        if token:
            env["AGGREGATOR_WEB_TOKEN"] = token
        process = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--db", db_url, "serve", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        started.append(process)
        deadline = time.monotonic() + 60
        base = _read_address(process, deadline)
        wait_until_ready(base, process, deadline=deadline)
        return LiveServer(base, token, process)

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


Starter = Callable[[str, str | None], LiveServer]


@pytest.fixture(scope="session")
def readonly_server(reader_store: ReaderStore, start_server: Starter) -> LiveServer:
    """The app on the reader store, without a token: nothing can be changed."""
    return start_server(reader_store.db_url, None)


@pytest.fixture(scope="session")
def writable_store(reader_store: ReaderStore, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the reader store for the flows that change it (the read-only tests keep theirs)."""
    copy = tmp_path_factory.mktemp("writable") / "reader.db"
    with (
        sqlite3.connect(reader_store.db_url.removeprefix("sqlite:///")) as source,
        sqlite3.connect(copy) as target,
    ):
        source.backup(target)  # whole and consistent, WAL included
    return f"sqlite:///{copy}"


@pytest.fixture(scope="session")
def writable_server(writable_store: str, start_server: Starter) -> LiveServer:
    """The app on a copy of the reader store, with a token: sources can be added and crawled."""
    return start_server(writable_store, TOKEN)
