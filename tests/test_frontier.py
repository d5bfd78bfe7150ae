"""The shared frontier (issue #14): several worker processes, one Redis, one PostgreSQL schema.

Real parts only: the fixture site on loopback, the local Redis (each test under a key prefix of
its own, removed afterwards) and PostgreSQL, workers as real processes. A worker is killed with
SIGKILL mid-crawl, and a private redis-server is restarted under a crawl.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from aggregator.devserver import SiteServer
from aggregator.frontier import Frontier, PageTicket, SourceDone, page_fingerprint
from aggregator.model import SourceKind, SourceRef
from tests.conftest import REDIS_URL, ROOT, run_cli
from tests.test_crawl_e2e import expected_articles

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

FAST = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "AGGREGATOR_EXTRACT_WORKERS=1")


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own in the shared Redis, cleared afterwards."""
    name = f"test-frontier-{uuid.uuid4().hex[:10]}"
    yield name
    Frontier(REDIS_URL, prefix=name).clear()


def add_sources(base: str, db: str) -> None:
    for path in ("/feeds/rss.xml", "/feeds/atom.xml", "/sitemap_index.xml"):
        assert run_cli("sources", "add", base + path, db=db).code == 0


def worker(
    db: str, prefix: str, *extra: str, frontier: str = REDIS_URL, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """``aggregator worker`` in a process of its own (the environment passed on: the test
    session's AGGREGATOR_ALLOW_PRIVATE lets it crawl loopback); stderr to ``log`` if given."""
    env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DB"}
    env["AGGREGATOR_FRONTIER_PREFIX"] = prefix
    cmd = [sys.executable, "-m", "aggregator", "--db", db, "worker", "--frontier", frontier, "--json", *extra]
    stderr = log.open("wb") if log is not None else subprocess.PIPE
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr)


def finish(proc: subprocess.Popen[bytes], timeout: float = 180, logs: list[str] | None = None) -> dict:
    """The worker's JSON report once it exits 0; its stderr is appended to ``logs`` if given."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err.decode()
    if logs is not None:
        logs.append(err.decode())
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


def stored(db: str) -> dict[str, int]:
    """Stored articles: canonical URL -> how many rows."""
    engine = create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT canonical_url, count(*) FROM articles GROUP BY canonical_url"))
        found = {url: n for url, n in rows}
    engine.dispose()
    return found


def sources_done(db: str) -> dict[str, bool]:
    lines = run_cli("sources", "list", "--json", db=db).stdout.splitlines()
    return {s["name"]: bool(s["last_success_at"]) for s in map(json.loads, lines)}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def enqueue(db: str, prefix: str, *extra: str, frontier: str = REDIS_URL) -> dict:
    env_prefix = ("-s", f"AGGREGATOR_FRONTIER_PREFIX={prefix}")
    result = run_cli(
        "crawl", "--all", "--enqueue", "--json", "--frontier", frontier, *env_prefix, *extra, db=db
    )
    assert result.code == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_tracking_variants_are_one_request() -> None:
    base = "https://publisher.example/energy/2026/10/story.html"
    variants = [
        base,
        base + "?utm_source=rss&utm_medium=feed",
        base + "#comments",
        "https://m.publisher.example/energy/2026/10/story.html?fbclid=abc",
        "HTTPS://PUBLISHER.EXAMPLE:443/energy/2026/10/story.html",
    ]
    assert {page_fingerprint(v) for v in variants} == {page_fingerprint(base)}
    assert page_fingerprint(base + "?page=2") != page_fingerprint(base)


def test_canonical_dupefilter_in_redis(prefix: str) -> None:
    from scrapy import Request

    from spiders.frontier import CanonicalDupeFilter

    server = redis.Redis.from_url(REDIS_URL)
    dupefilter = CanonicalDupeFilter(server, key=f"{prefix}:seen")
    url = "http://127.0.0.1:1/energy/2026/10/story.html"
    assert dupefilter.request_seen(Request(url + "?utm_campaign=x")) is False
    assert dupefilter.request_seen(Request(url)) is True
    assert dupefilter.request_seen(Request(url + "?gclid=1#top")) is True
    assert dupefilter.request_seen(Request(url + "?page=2")) is False
    assert server.scard(f"{prefix}:seen") == 2


def test_a_page_failed_for_now_on_one_worker_keeps_the_validators_of_its_source(prefix: str) -> None:
    """Two workers finish the pages of one feed; one page failed for now (a 503) on the first.
    The second, which finishes the last page and marks the source done, must learn it: the
    validators are not kept, or the next read would be a 304 and the page lost for good. The
    next cycle starts clean."""
    one, two = Frontier(REDIS_URL, prefix=prefix), Frontier(REDIS_URL, prefix=prefix)
    feed = SourceRef("wire", SourceKind.FEED, "http://127.0.0.1:1/feed.xml")
    outcome = {"outcome": "fetched", "etag": '"v1"', "last_modified": None}
    pages = ["http://127.0.0.1:1/a.html", "http://127.0.0.1:1/b.html"]
    for refetch in (True, False):
        assert one.enqueue([feed], now=time.time()) == ["wire"]
        assert one.take_sources(1) == [feed]
        one.claim("wire", pages)
        assert one.source_read("wire", outcome) is None  # two pages pending
        assert one.finish_page(PageTicket("wire", pages[0]), refetch=refetch) is None
        assert two.finish_page(PageTicket("wire", pages[1])) == SourceDone(outcome, refetch=refetch)
        assert one.state("wire") == "done"


def test_three_workers_share_one_frontier(site_server: SiteServer, postgres_url: str, prefix: str) -> None:
    add_sources(site_server.base_url, postgres_url)
    names = sorted(sources_done(postgres_url))
    assert sorted(enqueue(postgres_url, prefix)["enqueued"]) == names
    assert enqueue(postgres_url, prefix) == {"enqueued": [], "in_flight": names}  # leased: not twice
    workers = [worker(postgres_url, prefix, "--idle-exit", "3", *FAST) for _ in range(3)]
    logs: list[str] = []
    reports = [finish(w, logs=logs) for w in workers]
    expected = {site_server.base_url + path for path in expected_articles()}
    assert stored(postgres_url) == dict.fromkeys(expected, 1), logs
    assert sum(r["new"] for r in reports) == len(expected) == 31
    for path in expected_articles():
        assert site_server.hits[path] == 1, path  # one fetch across all workers
    assert sum(r["pages_fetched"] for r in reports) == 31 + 4  # and the 4 listings, once each
    assert all(sources_done(postgres_url).values())
    ledger = Frontier(REDIS_URL, prefix=prefix)
    assert ledger.waiting() == 0
    assert ledger.redis.scard(ledger.seen_key) == 0  # the seen filter holds only what is in flight


def test_a_worker_killed_mid_crawl_loses_nothing(
    site_server: SiteServer, postgres_url: str, prefix: str
) -> None:
    add_sources(site_server.base_url, postgres_url)
    enqueue(postgres_url, prefix)
    slow = ("-s", "DOWNLOAD_DELAY=0.3", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")
    workers = [worker(postgres_url, prefix, "--idle-exit", "3", *FAST, *slow) for _ in range(3)]
    pages = set(expected_articles())
    wait_for(lambda: sum(site_server.hits[p] for p in pages) >= 6, 120, "six article pages fetched")
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait(timeout=30)
    for w in workers[1:]:
        finish(w)
    assert set(stored(postgres_url).values()) <= {1}  # (20 of 31, no source done, in one run)
    # Whatever the dead worker had in hand is pending in the ledger, so its sources are not done
    # (unless it held nothing), and the next cycle — once their lease ran out — fetches it again.
    again = enqueue(postgres_url, prefix, "-s", "AGGREGATOR_FRONTIER_LEASE=0")
    assert sorted(again["enqueued"]) == sorted(sources_done(postgres_url))
    for w in [worker(postgres_url, prefix, "--idle-exit", "3", *FAST) for _ in range(2)]:
        finish(w)
    expected = {site_server.base_url + path for path in pages}
    assert stored(postgres_url) == dict.fromkeys(expected, 1)
    assert all(sources_done(postgres_url).values())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def private_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """A redis-server of this test's own (never the shared one), keeping nothing on disk."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    wait_for(lambda: _pings(client), 30, f"redis-server on port {port}")
    return proc


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False


def test_redis_restarted_mid_crawl(
    site_server: SiteServer, postgres_url: str, prefix: str, tmp_path: Path
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = private_redis(port, tmp_path)
    try:
        add_sources(site_server.base_url, postgres_url)
        enqueue(postgres_url, prefix, frontier=url)
        slow = ("-s", "DOWNLOAD_DELAY=0.3", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")
        logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
        workers = [
            worker(postgres_url, prefix, "--idle-exit", "4", *FAST, *slow, frontier=url, log=log)
            for log in logs
        ]
        pages = set(expected_articles())
        wait_for(lambda: sum(site_server.hits[p] for p in pages) >= 6, 120, "six article pages fetched")
        server.terminate()  # everything in it is gone: a restart without persistence
        server.wait(timeout=30)
        wait_for(
            lambda: all("frontier unreachable" in log.read_text() for log in logs),
            60,
            "the workers to say so",
        )
        assert all(w.poll() is None for w in workers)  # they wait for it rather than fail
        server = private_redis(port, tmp_path)
        for w in workers:
            finish(w)
        errors = [log.read_text() for log in logs]
        assert not any("Traceback" in e for e in errors), errors
        for e in errors:  # one line each time it goes away, one when it is back
            assert e.count("frontier unreachable") == 1, e
        # The next cycle puts every unfinished source back (the restart forgot the leases).
        enqueue(postgres_url, prefix, frontier=url)
        for w in [worker(postgres_url, prefix, "--idle-exit", "3", *FAST, frontier=url) for _ in range(2)]:
            finish(w)
        expected = {site_server.base_url + path for path in pages}
        assert stored(postgres_url) == dict.fromkeys(expected, 1)
        assert all(sources_done(postgres_url).values())
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_crawl_with_a_frontier_works_on_it_and_reports(
    site_server: SiteServer, postgres_url: str, prefix: str
) -> None:
    add_sources(site_server.base_url, postgres_url)
    env_prefix = ("-s", f"AGGREGATOR_FRONTIER_PREFIX={prefix}")
    result = run_cli(
        "crawl", "--all", "--json", "--frontier", REDIS_URL, *env_prefix, *FAST, db=postgres_url, timeout=300
    )
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["new"], report["pages_fetched"], report["sources_done"]) == (31, 35, True)
    assert stored(postgres_url) == dict.fromkeys({site_server.base_url + p for p in expected_articles()}, 1)
    assert all(sources_done(postgres_url).values())


def test_enqueue_without_a_frontier_is_one_line(db_url: str) -> None:
    result = run_cli("crawl", "--all", "--enqueue", db=db_url)
    expected = (
        "aggregator: error: crawl --enqueue needs a shared frontier: --frontier redis://HOST:6379/0"
        " (or AGGREGATOR_FRONTIER)\n"
    )
    assert (result.code, result.stderr) == (1, expected)


def test_a_worker_with_no_redis_there_is_one_line(db_url: str) -> None:
    result = run_cli("worker", "--frontier", f"redis://127.0.0.1:{free_port()}/0", db=db_url)
    assert result.code == 1
    assert result.stderr.startswith("aggregator: error: frontier redis://127.0.0.1:")
    assert "ping" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
