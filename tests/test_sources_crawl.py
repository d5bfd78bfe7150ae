"""Sources over loopback HTTP: discovery, OPML, JSON Feed, redirects, 410, 429, ill-formed feeds."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.devserver import SiteServer
from tests.conftest import FIXTURES, invoke, run_cli

NO_THROTTLE = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "RETRY_ENABLED=False")


def sources(db: str) -> dict[str, dict[str, Any]]:
    return {
        s["name"]: s for s in map(json.loads, invoke("sources", "list", "--json", db=db).stdout.splitlines())
    }


@pytest.mark.slow
def test_add_site_page_discovers_feeds_and_sitemaps(site_server: SiteServer, db_url: str) -> None:
    base = site_server.base_url
    result = run_cli("sources", "add", base + "/energy/2026/10/lithium-refinery-permit.html", db=db_url)
    assert result.code == 0, result.stderr
    found = {(s["kind"], s["url"]) for s in sources(db_url).values()}
    assert found == {
        ("feed", base + "/feeds/rss.xml"),
        ("feed", base + "/feeds/atom.xml"),
        ("sitemap", base + "/sitemap_index.xml"),
    }
    again = run_cli("sources", "add", base + "/", db=db_url)
    assert again.stdout.count("already a source") == 3


@pytest.mark.slow
def test_a_broken_feed_the_page_announces_is_reported(site_server: SiteServer, db_url: str) -> None:
    base = site_server.base_url
    site_server.routes["/announces.html"] = (
        200,
        {"Content-Type": "text/html"},
        (
            b'<html><head><link rel="alternate" type="application/rss+xml" href="/broken-feed.xml">'
            b"</head><body><p>Hello</p></body></html>"
        ),
    )
    site_server.routes["/broken-feed.xml"] = (
        200,
        {"Content-Type": "application/rss+xml"},
        b"<html>oops</html>",
    )
    result = run_cli("sources", "add", base + "/announces.html", db=db_url)
    assert result.code == 0, result.stderr
    assert (
        f"aggregator: {base}/broken-feed.xml is announced as a feed, but not a feed (no feed elements);"
        " not added"
    ) in result.stderr
    assert {(s["kind"], s["url"]) for s in sources(db_url).values()} == {
        ("sitemap", base + "/sitemap_index.xml")
    }


@pytest.mark.slow
def test_add_feed_url_detects_json_feed(site_server: SiteServer, db_url: str) -> None:
    url = site_server.base_url + "/feeds/manufacturing.json"
    assert run_cli("sources", "add", url, "--name", "mfg", db=db_url).code == 0
    assert sources(db_url)["mfg"]["kind"] == "feed"
    result = run_cli("crawl", "--all", "--json", *NO_THROTTLE, db=db_url)
    assert json.loads(result.stdout)["new"] == 10


def test_opml_import_export_round_trip(db_url: str, tmp_path: Path) -> None:
    opml = FIXTURES / "feeds" / "subscriptions.opml"
    first = invoke("sources", "import", str(opml), db=db_url)
    assert first.stdout.strip() == f"imported {opml}: 4 added, 0 already known"
    assert (
        invoke("sources", "import", str(opml), db=db_url).stdout.strip()
        == f"imported {opml}: 0 added, 4 already known"
    )
    got = {s["name"]: (s["kind"], s["url"], s["tags"]) for s in sources(db_url).values()}
    assert got == {
        "Grid Notes": ("feed", "https://gridnotes.example/feed.json", ["Energy", "power", "grid"]),
        "Utility Dive": ("feed", "https://utilities.example/rss.xml", ["Energy", "Utilities"]),
        "Mining Wire": ("feed", "https://miningwire.example/atom.xml", ["mining", "metals"]),
        "Chem sitemap": ("sitemap", "https://chemreport.example/sitemap.xml", []),
    }
    exported = tmp_path / "out.opml"
    assert invoke("sources", "export", "-o", str(exported), db=db_url).code == 0
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert "4 added" in invoke("sources", "import", str(exported), db=other).stdout
    assert {s["url"] for s in sources(other).values()} == {u for _, u, _ in got.values()}
    toml = invoke("sources", "import", str(FIXTURES / "feeds" / "sources.toml"), db=other)
    assert "2 added" in toml.stdout
    assert sources(other)["Plant Weekly"]["interval_seconds"] == 1800


def test_hostile_opml_is_refused(db_url: str, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.opml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]><opml version="2.0"><body>'
        '<outline text="&a;" xmlUrl="https://x.example/rss"/></body></opml>'
    )
    result = invoke("sources", "import", str(bomb), db=db_url)
    assert result.code == 1
    assert result.stderr.startswith(f"aggregator: error: {bomb}: refused: the OPML declares entities")
    assert "Traceback" not in result.stderr


def test_opml_in_an_unknown_encoding_is_one_line(db_url: str, tmp_path: Path) -> None:
    # Found by tests/test_fuzz.py: expat's LookupError escaped as a traceback.
    odd = tmp_path / "odd.opml"
    odd.write_bytes(b'<?xml version="1.0" encoding="T"?><opml version="2.0"><body/></opml>')
    result = invoke("sources", "import", str(odd), db=db_url)
    assert result.code == 1
    assert result.stderr.startswith(
        f"aggregator: error: {odd}: OPML in an unknown encoding (unknown encoding: T)"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_moved_gone_and_throttled_sources(site_server: SiteServer, db_url: str) -> None:
    base = site_server.base_url
    site_server.routes["/old/rss.xml"] = (301, {"Location": "{base}/feeds/rss.xml"}, b"")
    site_server.routes["/gone.xml"] = (410, {}, b"gone")
    site_server.routes["/busy.xml"] = (429, {"Retry-After": "7200"}, b"slow down")
    for name, path in (("moved", "/old/rss.xml"), ("gone", "/gone.xml"), ("busy", "/busy.xml")):
        invoke(
            "sources", "add", base + path, "--kind", "feed", "--name", name, "--interval", "600", db=db_url
        )
    started = datetime.now(UTC)
    result = run_cli("crawl", "--all", "--json", *NO_THROTTLE, db=db_url)
    assert result.code == 3
    report = json.loads(result.stdout)
    assert report["new"] == 20
    assert report["failed_sources"] == ["busy", "gone"]
    moved = report["sources"]["moved"]
    assert (moved["outcome"], moved["url"], moved["last_modified"]) == (
        "moved",
        base + "/feeds/rss.xml",
        "Thu, 01 Jan 2026 00:00:00 GMT",
    )
    assert report["sources"]["busy"] == {
        "outcome": "failed",
        "reason": "HTTP 429 Too Many Requests",
        "retry_after": 7200,
    }
    # The run row keeps each failed source's reason.
    [run] = json.loads(invoke("status", "--json", db=db_url).stdout)["runs"]
    assert run["failures"] == {
        "busy": "HTTP 429 Too Many Requests",
        "gone": "HTTP 410 Gone: the publisher removed it",
    }
    state = sources(db_url)
    assert state["moved"]["url"] == base + "/feeds/rss.xml"
    assert state["gone"]["enabled"] is False
    assert state["gone"]["disabled_reason"] == "HTTP 410 Gone: the publisher removed it"
    assert state["busy"]["last_error"] == "HTTP 429 Too Many Requests"
    # Retry-After's 7200 s, not the backoff from the 600 s interval (1200 s after one error)
    wait = (datetime.fromisoformat(state["busy"]["next_due_at"]) - started).total_seconds()
    assert 7200 - 5 <= wait <= 7200 + 120


@pytest.mark.slow
def test_ill_formed_feed_still_yields(site_server: SiteServer, db_url: str) -> None:
    feeds = Path(site_server.root) / "feeds"
    text = (
        (FIXTURES / "feeds" / "illformed.xml")
        .read_text()
        .replace(
            "https://logistics.example/2026/11/freight-volumes",
            "{base}/energy/2026/10/grid-battery-fire-code.html",
        )
    )
    (feeds / "broken.xml").write_text(text)
    shutil.copy(FIXTURES / "feeds" / "entity-bomb.xml", feeds / "bomb.xml")
    invoke("sources", "add", site_server.base_url + "/feeds/broken.xml", "--kind", "feed", db=db_url)
    invoke("sources", "add", site_server.base_url + "/feeds/bomb.xml", "--kind", "feed", db=db_url)
    result = run_cli("crawl", "--all", "--json", *NO_THROTTLE, db=db_url)
    summary = json.loads(result.stdout)
    assert summary["new"] == 1
    assert summary["source_errors"] == 0


@pytest.mark.slow
def test_entry_whose_page_fails_is_stored_from_the_feed(site_server: SiteServer, db_url: str) -> None:
    body = " ".join(["The substation upgrade will add two transformers and a new control building."] * 3)
    feed = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        "<channel><title>Grid</title>"
        "<item><title>Substation upgrade approved</title><link>{base}/gone/substation.html</link>"
        "<category>Grid</category><content:encoded><![CDATA[<p>" + body + "</p><p>Share this article</p>"
        "<p>Work starts in March.</p>]]></content:encoded></item>"
        "<item><title>Page that works</title>"
        "<link>{base}/energy/2026/10/grid-battery-fire-code.html</link></item>"
        "</channel></rss>"
    )
    (Path(site_server.root) / "feeds" / "grid.xml").write_text(feed)
    invoke("sources", "add", site_server.base_url + "/feeds/grid.xml", "--kind", "feed", db=db_url)
    result = run_cli("crawl", "--all", "--json", *NO_THROTTLE, db=db_url)
    assert json.loads(result.stdout)["new"] == 2
    records = {r["title"]: r for r in map(json.loads, invoke("export", db=db_url).stdout.splitlines())}
    fallback = records["Substation upgrade approved"]
    assert fallback["text_origin"] == "feed"
    assert fallback["text"] == body + "\n\nWork starts in March."
    assert fallback["tag_origins"] == {"grid": "feed"}
    assert fallback["text_stage"] == ""  # no extraction stage gave it: the feed did
    page = records["Fire code update sets new spacing rules for grid batteries"]
    assert page["text_origin"] == "page"
    assert page["text_stage"] == "dom"


@pytest.mark.slow
def test_per_source_politeness_is_stored_and_used(site_server: SiteServer, db_url: str) -> None:
    url = site_server.base_url + "/feeds/atom.xml"
    added = invoke(
        "sources",
        "add",
        url,
        "--kind",
        "feed",
        "--name",
        "slow",
        "--delay",
        "0.2",
        "--concurrency",
        "1",
        db=db_url,
    )
    assert added.code == 0, added.stderr
    state = sources(db_url)["slow"]
    assert (state["delay"], state["concurrency"]) == (0.2, 1)
    started = datetime.now(UTC)
    result = run_cli("crawl", "--all", "--json", "-s", "AUTOTHROTTLE_ENABLED=False", db=db_url)
    assert json.loads(result.stdout)["new"] == 10
    # 11 requests one at a time, 0.2 s apart (Scrapy randomizes delays between 0.5x and 1.5x)
    assert (datetime.now(UTC) - started).total_seconds() >= 1.0
