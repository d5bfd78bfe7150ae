"""The SSRF guard: private, loopback and link-local addresses and other schemes are refused
unless allowed. The session allows private addresses (tests/conftest.py); these tests turn that
off explicitly, in the guard's configuration or in the child process's environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.devserver import SiteServer
from aggregator.errors import BlockedURL
from aggregator.netguard import Guard
from tests.conftest import ROOT, Result, invoke

ARTICLE = "/energy/2026/10/lithium-refinery-permit.html"
HINT = "(--allow-private or AGGREGATOR_ALLOW_PRIVATE=1 allows it)"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8611/feed.xml", "127.0.0.1 is a loopback address"),
        ("http://10.1.2.3/", "10.1.2.3 is a private address"),
        ("http://192.168.0.10/", "192.168.0.10 is a private address"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is a link-local (cloud metadata) address",
        ),
        ("http://[::1]:8080/", "::1 is a loopback address"),
        ("http://[::ffff:10.0.0.1]/", "10.0.0.1 is a private address"),
        ("http://0.0.0.0/", "0.0.0.0 is a private address"),
        ("http://100.64.0.1/", "100.64.0.1 is not a public address"),
        ("http://localhost:8611/", "localhost resolves to 127.0.0.1, 127.0.0.1 is a loopback address"),
    ],
)
def test_private_addresses_are_refused(url: str, reason: str) -> None:
    guard = Guard(allow_private=False)
    with pytest.raises(BlockedURL) as blocked:
        guard.check(url)
    assert str(blocked.value) == f"blocked {url}: {reason} {HINT}"
    Guard(allow_private=True).check(url)  # --allow-private lets them through


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://a.example/x", "data:text/html,hi", "gopher://x/"]
)
def test_only_http_and_https_are_fetched_even_when_private_is_allowed(url: str) -> None:
    for allow in (False, True):
        with pytest.raises(BlockedURL, match="is not fetched \\(http and https only\\)"):
            Guard(allow_private=allow).check(url)


def test_public_addresses_and_allowed_hosts_pass() -> None:
    guard = Guard(allow_private=False, allowed_hosts=frozenset({"127.0.0.1:8611"}))
    guard.check("http://93.184.216.34/story.html")
    guard.check("https://[2606:2800:220:1:248:1893:25c8:1946]/")
    guard.check("http://127.0.0.1:8611/feed.xml")  # the one server allowed (the demo's)
    with pytest.raises(BlockedURL):
        guard.check("http://127.0.0.1:8612/feed.xml")  # its neighbour is not
    names = Guard(resolver=lambda host: ["93.184.216.34"] if host == "news.example" else ["10.0.0.5"])
    names.check("https://news.example/feed.xml")
    with pytest.raises(BlockedURL, match=r"intranet\.example resolves to 10\.0\.0\.5"):
        names.check("https://intranet.example/")


def run_guarded(*args: str, db: str, env: dict[str, str] | None = None) -> Result:
    """``aggregator`` in a subprocess with the guard on (the session's allowance removed)."""
    child = {k: v for k, v in os.environ.items() if k not in ("AGGREGATOR_DB", "AGGREGATOR_ALLOW_PRIVATE")}
    child.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "aggregator", "--db", db, *args],
        capture_output=True,
        timeout=120,
        cwd=ROOT,
        env=child,
        check=False,
    )
    return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.mark.slow
def test_fetch_of_loopback_is_refused_unless_allowed(fixture_site: SiteServer, db_url: str) -> None:
    url = fixture_site.base_url + ARTICLE
    refused = run_guarded("fetch", url, db=db_url)
    assert (refused.code, refused.stdout) == (1, "")
    assert refused.stderr.splitlines() == [
        (
            f"WARNING aggregator.session: could not fetch {url}: BlockedRequest: blocked {url}: "
            f"127.0.0.1 is a loopback address {HINT}"
        ),
        "aggregator: error: 1 of 1 URLs could not be fetched or read (1 download errors)",
    ]
    allowed = run_guarded("--allow-private", "fetch", url, db=db_url)
    assert allowed.code == 0, allowed.stderr
    assert json.loads(allowed.stdout)["title"] == "Lithium hydroxide refinery wins final permit"
    by_env = run_guarded("fetch", url, db=db_url, env={"AGGREGATOR_ALLOW_PRIVATE": "1"})
    assert by_env.code == 0, by_env.stderr


@pytest.mark.slow
def test_a_redirect_to_loopback_is_refused(site_server: SiteServer, db_url: str) -> None:
    port = site_server.base_url.rsplit(":", 1)[1]
    target = f"http://localhost:{port}{ARTICLE}"
    site_server.routes["/go"] = (302, {"Location": target}, b"")
    start = f"{site_server.base_url}/go"
    # Only the site's own 127.0.0.1:PORT is allowed (as the demo does): the redirect's hop to
    # localhost is another host, resolved, and refused.
    result = run_guarded(
        "fetch", start, db=db_url, env={"AGGREGATOR_ALLOW_HOSTS": site_server.base_url.split("://")[1]}
    )
    assert result.code == 1
    assert f"BlockedRequest: blocked {target}: localhost resolves to " in result.stderr
    assert site_server.hits["/go"] == 1
    assert site_server.hits[ARTICLE] == 0


@pytest.mark.slow
def test_a_blocked_source_says_why_in_its_health(site_server: SiteServer, db_url: str) -> None:
    feed = f"{site_server.base_url}/feeds/rss.xml"
    assert invoke("sources", "add", feed, "--kind", "feed", "--name", "local", db=db_url).code == 0
    result = run_guarded("crawl", "--all", "--no-progress", db=db_url)
    assert result.code == 3
    reason = f"BlockedRequest: blocked {feed}: 127.0.0.1 is a loopback address {HINT}"
    assert result.stderr.splitlines() == [
        f"ERROR aggregator.session: source local failed: {reason}",
        f"aggregator: 1 source(s) failed: local: {reason} (see: aggregator sources list)",
    ]
    [source] = map(json.loads, invoke("sources", "list", "--json", db=db_url).stdout.splitlines())
    assert source["last_error"] == reason
    assert sum(site_server.hits.values()) == 0  # not even robots.txt was asked for


@pytest.mark.slow
def test_the_demo_allows_its_own_server_alone(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    result = run_guarded("demo", "--site", str(ROOT / "fixtures" / "site"), "--port", "0", db=db)
    assert result.code == 0, result.stderr
    assert "articles new                  │    31 │" in result.stdout


EVIL_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Evil</title><link>{base}/</link><description>x</description>
<item><title>Passwords</title><link>file:///etc/passwd</link><guid>a</guid></item>
<item><title>Metadata</title><link>http://169.254.169.254/latest/meta-data/</link><guid>b</guid></item>
</channel></rss>
"""


@pytest.mark.slow
def test_a_feed_cannot_point_the_crawler_at_files_or_metadata(site_server: SiteServer, db_url: str) -> None:
    (site_server.root / "feeds" / "evil.xml").write_text(EVIL_FEED, "utf-8")
    feed = f"{site_server.base_url}/feeds/evil.xml"
    assert invoke("sources", "add", feed, "--kind", "feed", "--name", "evil", db=db_url).code == 0
    own = {"AGGREGATOR_ALLOW_HOSTS": site_server.base_url.split("://")[1]}  # the feed's server only
    result = run_guarded("crawl", "--all", "--json", "--no-progress", db=db_url, env=own)
    report = json.loads(result.stdout)
    assert (report["new"], report["page_errors"]) == (0, 2), result.stderr
    # (the feed's link comes out of URL normalization as file://etc/passwd)
    passwd = (
        "WARNING aggregator.session: could not fetch file://etc/passwd: BlockedRequest: blocked "
        "file://etc/passwd: scheme 'file' is not fetched (http and https only)"
    )
    metadata = (
        "WARNING aggregator.session: could not fetch http://169.254.169.254/latest/meta-data/: "
        "BlockedRequest: blocked http://169.254.169.254/latest/meta-data/: 169.254.169.254 is a "
        f"link-local (cloud metadata) address {HINT}"
    )
    assert sorted(result.stderr.splitlines()) == [passwd, metadata]  # they come back in either order
