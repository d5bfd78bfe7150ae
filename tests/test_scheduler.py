"""The scheduler and crash safety, as a user runs them: real processes, real signals, loopback HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.devserver import SiteServer
from aggregator.scheduler import LOCK_NAME, STALE_AFTER
from aggregator.store import Store
from tests.conftest import ROOT, fixture_articles, run_cli

SLOW = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0.1", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
        "-s", "AGGREGATOR_BATCH_SIZE=3")
EXPECTED = 31


def add_fixture_sources(base: str, db: str) -> None:
    run_cli("sources", "add", base + "/feeds/rss.xml", "--kind", "feed", "--name", "rss", db=db)
    run_cli("sources", "add", base + "/sitemap_index.xml", "--kind", "sitemap", "--name", "sitemap", db=db)


def stored_urls(db: str) -> list[str]:
    return [json.loads(line)["canonical_url"] for line in run_cli("export", db=db).stdout.splitlines()]


def start(*args: str, db: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DB"}
    return subprocess.Popen([sys.executable, "-m", "aggregator.cli", "--db", db, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_schedule_once_crawls_what_is_due(site_server: SiteServer, db_url: str) -> None:
    add_fixture_sources(site_server.base_url, db_url)
    result = run_cli("schedule", "--once", "-s", "AUTOTHROTTLE_ENABLED=False", db=db_url)
    assert result.code == 0, result.stderr
    assert len(stored_urls(db_url)) == EXPECTED
    store = Store(db_url)
    assert store.due_sources(datetime.now(UTC)) == []
    assert store.lock_holder(LOCK_NAME) is None
    status = json.loads(run_cli("status", "--json", db=db_url).stdout)
    assert status["runs"][0]["new"] == EXPECTED
    assert status["runs"][0]["status"] == "finished"
    assert [s["name"] for s in status["next_due"]] in (["rss", "sitemap"], ["sitemap", "rss"])


def test_second_scheduler_refuses_and_stale_lock_is_taken_over(db_url: str) -> None:
    store = Store(db_url)
    store.acquire_lock(LOCK_NAME, "otherhost:123", now=datetime.now(UTC), stale_after=STALE_AFTER)
    refused = run_cli("schedule", "--once", db=db_url)
    assert refused.code == 1
    assert "another scheduler (otherhost:123) is running on this database" in refused.stderr
    assert "Traceback" not in refused.stderr
    store.release_lock(LOCK_NAME, "otherhost:123")
    store.acquire_lock(LOCK_NAME, "crashed:1", now=datetime.now(UTC) - STALE_AFTER - timedelta(seconds=5),
                       stale_after=STALE_AFTER)
    assert run_cli("schedule", "--once", db=db_url).code == 0
    assert store.lock_holder(LOCK_NAME) is None


@pytest.mark.slow
def test_sigterm_finishes_in_flight_and_exits_zero(site_server: SiteServer, db_url: str) -> None:
    add_fixture_sources(site_server.base_url, db_url)
    proc = start("--log-format", "json", "schedule", *SLOW, db=db_url)
    time.sleep(4)
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


def descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *descendants(int(child))]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [1.5, 3.5])
def test_kill_9_loses_nothing_and_duplicates_nothing(site_server: SiteServer, db_url: str, kill_after: float) -> None:
    add_fixture_sources(site_server.base_url, db_url)
    proc = start("crawl", "--all", "--no-progress", *SLOW, db=db_url)
    time.sleep(kill_after)
    started = descendants(proc.pid)  # its fork server, extraction workers and writer, once up
    assert started
    proc.kill()  # SIGKILL: no cleanup of any kind
    proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in started):
        time.sleep(0.2)
    # None is left behind: a scheduler killing its crawls would otherwise collect them.
    assert [p for p in started if Path(f"/proc/{p}").exists()] == []
    partial = stored_urls(db_url)
    assert len(partial) < EXPECTED
    result = run_cli("crawl", "-s", "AUTOTHROTTLE_ENABLED=False", db=db_url)
    assert result.code == 0, result.stderr
    final = stored_urls(db_url)
    assert len(final) == len(set(final)) == EXPECTED
    expected_paths = {f"/{a['section'].lower()}/{a['published'][:4]}/{a['published'][5:7]}/{a['slug']}.html"
                      for a in fixture_articles() if not a.get("private")}
    assert {u.removeprefix(site_server.base_url) for u in final} == expected_paths


@pytest.mark.slow
def test_ctrl_c_reaches_the_whole_process_group_and_the_crawl_still_stops_cleanly(
        site_server: SiteServer, db_url: str) -> None:
    """Ctrl-C in a terminal (or systemd's default KillMode) signals every process of the crawl at
    once: the workers and the writer must leave the stopping to the crawl, not die mid-batch."""
    add_fixture_sources(site_server.base_url, db_url)
    env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DB"}
    proc = subprocess.Popen([sys.executable, "-m", "aggregator.cli", "--db", db_url, "crawl", "--all",
                             "--no-progress", *SLOW], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 30
    while len(descendants(proc.pid)) < 4 and time.monotonic() < deadline:  # fork server, 2 workers, writer
        time.sleep(0.1)
    time.sleep(1.0)
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
    proc = subprocess.Popen([sys.executable, "-m", "aggregator.cli", "--db", db_url, "--log-format", "json",
                             "schedule", *SLOW], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    time.sleep(4)
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
