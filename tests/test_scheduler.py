"""The scheduler and crash safety, as a user runs them: real processes, real signals, loopback HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.devserver import SiteServer
from aggregator.scheduler import LOCK_NAME
from aggregator.store import Store
from aggregator.workers import descendants
from tests.conftest import ROOT, fixture_articles, invoke, run_cli

SLOW = (
    "-s",
    "AUTOTHROTTLE_ENABLED=False",
    "-s",
    "DOWNLOAD_DELAY=0.1",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=1",
    "-s",
    "AGGREGATOR_BATCH_SIZE=3",
)
EXPECTED = 31


def add_fixture_sources(base: str, db: str) -> None:
    invoke("sources", "add", base + "/feeds/rss.xml", "--kind", "feed", "--name", "rss", db=db)
    invoke("sources", "add", base + "/sitemap_index.xml", "--kind", "sitemap", "--name", "sitemap", db=db)


def stored_urls(db: str) -> list[str]:
    return [json.loads(line)["canonical_url"] for line in invoke("export", db=db).stdout.splitlines()]


def article_paths() -> set[str]:
    return {
        f"/{a['section'].lower()}/{a['published'][:4]}/{a['published'][5:7]}/{a['slug']}.html"
        for a in fixture_articles()
        if not a.get("private")
    }


def pages_served(server: SiteServer) -> int:
    """Article pages the site has served so far: how far a crawl has got, whatever its writer's pace."""
    paths = article_paths()
    return sum(n for path, n in list(server.hits.items()) if path in paths)


#: How long a test waits for a crawl to get somewhere. Generous: on a busy 2-core machine (two CPU
#: hogs besides the suite) a crawl's workers took over 60 s to start; waiting costs nothing when
#: they are quick, since every wait polls.
PATIENCE = 240.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = PATIENCE) -> None:
    """Poll until ``condition`` holds; fail, saying what never happened, after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def start(*args: str, db: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DB"}
    return subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--db", db, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_schedule_once_crawls_what_is_due(site_server: SiteServer, db_url: str) -> None:
    add_fixture_sources(site_server.base_url, db_url)
    result = run_cli("schedule", "--once", "-s", "AUTOTHROTTLE_ENABLED=False", db=db_url)
    assert result.code == 0, result.stderr
    # The log line is the crawl's report, read back from its --json output.
    assert "crawl finished (exit 0) in" in result.stderr
    assert f": {EXPECTED} new, 0 updated, 0 duplicates, " in result.stderr
    assert len(stored_urls(db_url)) == EXPECTED
    store = Store(db_url)
    assert store.due_sources(datetime.now(UTC)) == []
    assert store.lock_holder(LOCK_NAME) is None
    status = json.loads(invoke("status", "--json", db=db_url).stdout)
    assert status["runs"][0]["new"] == EXPECTED
    assert status["runs"][0]["status"] == "finished"
    assert [s["name"] for s in status["next_due"]] in (["rss", "sitemap"], ["sitemap", "rss"])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An SQLite file, then a private PostgreSQL schema: the lock is the kernel's on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_a_live_scheduler_refuses_a_second_one(any_db: str) -> None:
    with Store(any_db) as store:
        store.acquire_lock(LOCK_NAME, "otherhost:123", now=datetime.now(UTC))
        refused = invoke("schedule", "--once", db=any_db)
        assert refused.code == 1
        assert refused.stderr.startswith(
            "aggregator: error: another scheduler (otherhost:123) is running on this database, last seen "
        )
        assert refused.stderr.count("\n") == 1
        holder = store.lock_holder(LOCK_NAME)
        assert holder is not None
        assert (holder.owner, holder.live) == ("otherhost:123", True)
        store.release_lock(LOCK_NAME, "otherhost:123")
        assert invoke("schedule", "--once", db=any_db).code == 0  # nothing is due: no crawl
        assert store.lock_holder(LOCK_NAME) is None


def holder_of(db: str) -> tuple[str, bool] | None:
    with Store(db) as store:
        held = store.lock_holder(LOCK_NAME)
    return (held.owner, held.live) if held else None


@pytest.mark.slow
def test_restart_right_after_kill_9(any_db: str) -> None:
    """A scheduler killed with SIGKILL never releases its lock; the kernel does, at once."""
    first = start("schedule", db=any_db)
    try:
        wait_for(lambda: (holder_of(any_db) or ("", False))[0].endswith(f":{first.pid}"), "the lock")
        # A live one is refused, whoever asks.
        second = run_cli("schedule", "--once", db=any_db)
        assert second.code == 1
        assert f"another scheduler ({socket.gethostname()}:{first.pid}) is running" in second.stderr
    finally:
        first.kill()
        first.communicate(timeout=30)
    # The row outlived its holder: status says so, and the restart takes over.
    held = holder_of(any_db)
    assert held == (f"{socket.gethostname()}:{first.pid}", False)
    status = invoke("status", db=any_db)
    assert status.stdout.startswith(f"scheduler: not running ({held[0]} stopped uncleanly, last seen ")
    began = time.monotonic()
    restarted = start("--log-format", "json", "schedule", db=any_db)
    try:
        wait_for(
            lambda: holder_of(any_db) == (f"{socket.gethostname()}:{restarted.pid}", True),
            "the restarted scheduler to take the lock",
        )
        assert time.monotonic() - began < 30  # not the 60 s a heartbeat needed to go stale
        assert json.loads(invoke("status", "--json", db=any_db).stdout)["scheduler"]["running"] is True
    finally:
        restarted.send_signal(signal.SIGTERM)
        _, err = restarted.communicate(timeout=60)
    assert restarted.returncode == 0, err.decode()[-2000:]
    assert holder_of(any_db) is None


@pytest.mark.slow
def test_sigterm_finishes_in_flight_and_exits_zero(site_server: SiteServer, db_url: str) -> None:
    add_fixture_sources(site_server.base_url, db_url)
    proc = start("--log-format", "json", "schedule", *SLOW, db=db_url)
    wait_for(lambda: pages_served(site_server) >= 5, "the crawl to fetch 5 pages")
    proc.send_signal(signal.SIGTERM)
    began = time.monotonic()
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert time.monotonic() - began < 60
    events = [json.loads(line).get("event") for line in err.decode().splitlines() if line.startswith("{")]
    assert "stopping" in events
    assert events[-1] == "stopped"
    partial = stored_urls(db_url)
    assert len(partial) == len(set(partial))
    assert Store(db_url).lock_holder(LOCK_NAME) is None
    # The stopped sources are still due: the next run completes the set, exactly once each.
    assert run_cli("crawl", "-s", "AUTOTHROTTLE_ENABLED=False", db=db_url).code == 0
    final = stored_urls(db_url)
    assert len(final) == len(set(final)) == EXPECTED


#: A crawl's processes once it is up: the fork server, the extraction workers (one per core) and
#: the writer.
CRAWL_PROCESSES = 2 + (os.cpu_count() or 1)


@pytest.mark.slow
@pytest.mark.parametrize("kill_when", ["workers-up", "mid-crawl"])
def test_kill_9_loses_nothing_and_duplicates_nothing(
    site_server: SiteServer, db_url: str, kill_when: str
) -> None:
    add_fixture_sources(site_server.base_url, db_url)
    proc = start("crawl", "--all", "--no-progress", *SLOW, db=db_url)
    wait_for(
        lambda: len(descendants(proc.pid)) >= CRAWL_PROCESSES or proc.poll() is not None,
        "the crawl's processes to start",
    )
    assert proc.poll() is None, "the crawl ended before its processes were all up"
    if kill_when == "mid-crawl":
        wait_for(lambda: pages_served(site_server) >= 15, "the crawl to fetch 15 pages")
    started = descendants(proc.pid)
    proc.kill()  # SIGKILL: no cleanup of any kind
    proc.wait(timeout=30)
    # None is left behind: a scheduler killing its crawls would otherwise collect them.
    wait_for(
        lambda: not any(Path(f"/proc/{p}").exists() for p in started), "the crawl's processes to exit", 15
    )
    partial = stored_urls(db_url)
    assert len(partial) < EXPECTED
    result = run_cli("crawl", "-s", "AUTOTHROTTLE_ENABLED=False", db=db_url)
    assert result.code == 0, result.stderr
    final = stored_urls(db_url)
    assert len(final) == len(set(final)) == EXPECTED
    assert {u.removeprefix(site_server.base_url) for u in final} == article_paths()


@pytest.mark.slow
def test_ctrl_c_reaches_the_whole_process_group_and_the_crawl_still_stops_cleanly(
    site_server: SiteServer, db_url: str
) -> None:
    """Ctrl-C in a terminal (or systemd's default KillMode) signals every process of the crawl at
    once: the workers and the writer must leave the stopping to the crawl, not die mid-batch."""
    add_fixture_sources(site_server.base_url, db_url)
    env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DB"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--db", db_url, "crawl", "--all", "--no-progress", *SLOW],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    wait_for(
        lambda: len(descendants(proc.pid)) >= CRAWL_PROCESSES or proc.poll() is not None,
        "the crawl's processes to start",
    )
    assert proc.poll() is None, "the crawl ended before its processes were all up"
    wait_for(lambda: pages_served(site_server) >= 5, "the crawl to fetch 5 pages")
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=90)
    stderr = err.decode()
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "could not store" not in stderr
    assert "KeyboardInterrupt" not in stderr
    partial = stored_urls(db_url)
    assert 0 < len(partial) < EXPECTED
    assert len(partial) == len(set(partial))
    assert run_cli("crawl", "-s", "AUTOTHROTTLE_ENABLED=False", db=db_url).code == 0
    final = stored_urls(db_url)
    assert len(final) == len(set(final)) == EXPECTED


@pytest.mark.slow
def test_ctrl_c_on_the_scheduler_stops_its_crawl_gracefully(site_server: SiteServer, db_url: str) -> None:
    """The crawl runs in a session of its own: Ctrl-C reaches the scheduler alone, which passes on
    one SIGTERM (two signals would make Scrapy stop uncleanly)."""
    add_fixture_sources(site_server.base_url, db_url)
    env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DB"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--db", db_url, "--log-format", "json", "schedule", *SLOW],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    wait_for(lambda: pages_served(site_server) >= 5, "the crawl to fetch 5 pages")
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err.decode()[-2000:]
    events = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    finished = [e for e in events if e.get("event") == "crawl_finished"]
    assert finished
    # Scrapy's graceful stop ran (signalled twice it stops uncleanly, with no finish reason).
    assert finished[-1]["summary"]["finish_reason"] == "shutdown"
    assert finished[-1]["exit_code"] == 1  # "crawl stopped early: shutdown"
    assert "Warning" not in err.decode()
    partial = stored_urls(db_url)
    assert len(partial) == len(set(partial))
