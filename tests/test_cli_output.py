"""What the command line shows when things go wrong: one line per failure, JSON only in JSON
mode, each line once with --debug; files written with -o; --db values that cannot be meant."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
from pathlib import Path

import pytest

from aggregator.devserver import SiteServer
from tests.conftest import invoke, run_cli


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed: connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


REFUSED = "DownloadConnectionRefusedError: Connection was refused by other side: 111: Connection refused."


def test_an_unreachable_host_is_one_line_in_sources_add(db_url: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/feed.xml"
    result = run_cli("sources", "add", url, db=db_url)
    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == (
        f"aggregator: error: cannot fetch {url}: {REFUSED} (add it with --kind to skip discovery)\n"
    )


def test_an_unreachable_host_is_one_line_in_fetch(db_url: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/story.html"
    result = run_cli("fetch", url, db=db_url)
    assert (result.code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"WARNING aggregator.session: could not fetch {url}: {REFUSED}",
        "aggregator: error: 1 of 1 URLs could not be fetched or read (1 download errors)",
    ]


def test_an_unreachable_source_in_crawl_is_its_failure_and_exit_3(db_url: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/feed.xml"
    assert invoke("sources", "add", url, "--kind", "feed", "--name", "dead", db=db_url).code == 0
    result = run_cli("crawl", "--all", "--no-progress", db=db_url)
    assert result.code == 3
    assert result.stderr.splitlines() == [
        f"ERROR aggregator.session: source dead failed: {REFUSED}",
        f"aggregator: 1 source(s) failed: dead: {REFUSED} (see: aggregator sources list)",
    ]


def test_json_log_format_writes_only_json_lines(db_url: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/story.html"
    result = run_cli("--log-format", "json", "--verbose", "fetch", url, db=db_url)
    assert result.code == 1
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON
    assert len(records) > 10  # --verbose: Scrapy's informational lines too
    assert records[-1]["message"] == (
        "aggregator: error: 1 of 1 URLs could not be fetched or read (1 download errors)"
    )
    assert records[-1]["level"] == "ERROR"
    # A usage error, before the options are read, is JSON too.
    usage = run_cli("--log-format", "json", "crawl", "--no-such-option", db=db_url)
    assert usage.code == 2
    assert [json.loads(line)["message"] for line in usage.stderr.splitlines()] == [
        "aggregator: error: No such option '--no-such-option'."
    ]


def test_debug_prints_each_line_once(db_url: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/story.html"
    result = run_cli("--debug", "fetch", url, "-s", "RETRY_ENABLED=False", db=db_url)
    assert result.code == 1
    logged = [line for line in result.stderr.splitlines() if line.startswith(("DEBUG ", "INFO ", "WARNING "))]
    assert len(logged) > 10
    assert len(logged) == len(set(logged))
    assert "Traceback (most recent call last):" in result.stderr  # --debug keeps the tracebacks


@pytest.mark.slow
def test_fetch_store_of_a_stored_page_prints_it_and_says_unchanged(
    site_server: SiteServer, db_url: str
) -> None:
    page = site_server.root / "energy/2026/10/lithium-refinery-permit.html"
    html = page.read_text("utf-8")
    # The same text under another URL, without a rel=canonical that would name the first.
    (site_server.root / "energy/copy.html").write_text(
        re.sub(r'<link rel="canonical"[^>]*>', "", html), "utf-8"
    )
    url = f"{site_server.base_url}/energy/2026/10/lithium-refinery-permit.html"
    first = run_cli("fetch", url, "--store", db=db_url)
    assert (first.code, first.stderr) == (0, "")
    again = run_cli("fetch", url, "--store", db=db_url)
    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["url"] == url
    assert again.stderr == f"aggregator: {url}: unchanged (stored already)\n"
    other = f"{site_server.base_url}/energy/copy.html"
    alias = run_cli("fetch", other, "--store", db=db_url)
    assert alias.code == 0, alias.stderr
    assert json.loads(alias.stdout)["url"] == other
    assert alias.stderr == f"aggregator: {other}: a duplicate of {url} (not stored again)\n"


def test_output_files_keep_the_replaced_mode_else_follow_the_umask(db_url: str, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.jsonl"
    old = os.umask(0o027)
    try:
        assert invoke("export", "-o", str(fresh), db=db_url).code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    shared = tmp_path / "shared.jsonl"
    shared.write_text("old")
    shared.chmod(0o644)
    assert invoke("export", "-o", str(shared), db=db_url).code == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644
    assert shared.read_text() == ""


def test_an_output_error_names_the_users_path(db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.jsonl"
    result = invoke("export", "-o", str(target), db=db_url)
    assert (result.code, result.stderr) == (
        1,
        f"aggregator: error: cannot write {target}: No such file or directory\n",
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("/no/such/dir/x.db", "no such folder: /no/such/dir"),
        ("sqlite:////no/such/dir/x.db", "no such folder: /no/such/dir"),
        (":::", "neither a database URL (SCHEME://...) nor an existing file's path"),
        ("bad scheme://x", "not a database URL: bad scheme 'bad scheme'"),
    ],
)
def test_a_db_that_cannot_be_meant_is_a_usage_error(
    value: str, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("sources", "list", db=value)
    assert (result.code, result.stdout, result.stderr) == (
        2,
        "",
        f"aggregator: error: --db {value}: {reason}\n",
    )
    assert list(tmp_path.iterdir()) == []  # nothing created
    assert not Path("/no/such/dir").exists()


def test_postgres_urls_mean_psycopg() -> None:
    from aggregator.config import as_db_url

    assert as_db_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert as_db_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert as_db_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_a_crawl_that_cannot_run_is_one_line_and_exit_1_in_crawl_and_schedule(db_url: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/feed.xml"
    assert invoke("sources", "add", url, "--kind", "feed", "--name", "dead", db=db_url).code == 0
    broken = ("-s", 'DOWNLOADER_MIDDLEWARES={"no_such_module.Middleware": 1}')
    reason = "the crawl could not run: ModuleNotFoundError: No module named 'no_such_module'"
    crawl = run_cli("crawl", "--all", "--no-progress", *broken, db=db_url)
    assert (crawl.code, crawl.stdout, crawl.stderr) == (1, "", f"aggregator: error: {reason}\n")
    once = run_cli("--log-format", "json", "schedule", "--once", *broken, db=db_url)
    assert once.code == 1
    events = [json.loads(line) for line in once.stderr.splitlines()]
    assert [e["message"] for e in events if e["logger"] == "aggregator"] == [f"aggregator: error: {reason}"]
    [finished] = [e for e in events if e.get("event") == "crawl_finished"]
    assert (finished["level"], finished["exit_code"]) == ("ERROR", 1)
    assert finished["message"].startswith("crawl failed (exit 1) in ")
