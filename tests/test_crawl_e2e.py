"""End to end: the CLI crawls the fixture site over loopback HTTP into a real SQLite file."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from aggregator.devserver import SiteServer
from tests.conftest import fixture_articles, published_text, run_cli

FURNITURE = (
    "Print this page",
    "Stories continue below",
    "Related Stories",
    "Share on",
    "Advertisement",
    "Sign up for our",
    "Read more",
    "We use cookies",
    "Most read",
    "Accept cookies",
    "Staff Writer",
)
NO_THROTTLE = ("-s", "AUTOTHROTTLE_ENABLED=False")


def expected_articles() -> dict[str, dict]:
    out = {}
    for a in fixture_articles():
        if a.get("private"):
            continue
        when = datetime.fromisoformat(a["published"])
        out[f"/{a['section'].lower()}/{when:%Y/%m}/{a['slug']}.html"] = a
    return out


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_crawl_fixture_site(site_server: SiteServer, backend: str, request: pytest.FixtureRequest) -> None:
    db_url = request.getfixturevalue("db_url" if backend == "sqlite" else "postgres_url")
    base = site_server.base_url
    for path in ("/feeds/rss.xml", "/feeds/atom.xml", "/sitemap_index.xml"):
        assert run_cli("sources", "add", base + path, db=db_url).code == 0

    first = run_cli("crawl", "--all", "--json", *NO_THROTTLE, db=db_url)
    assert first.code == 0, first.stderr
    summary = json.loads(first.stdout)
    expected = expected_articles()
    assert summary["new"] == len(expected) == 31
    assert summary["not_articles"] == 4  # the home page and three section listings
    assert summary["ignored"] == 1  # the robots.txt-disallowed page listed in the sitemap
    assert summary["page_errors"] == summary["source_errors"] == 0
    assert site_server.hits["/private/embargoed-earnings-preview.html"] == 0
    for path in expected:
        assert site_server.hits[path] == 1, path  # fetched once, though feed and sitemap both list most

    records = [json.loads(line) for line in run_cli("export", db=db_url).stdout.splitlines()]
    stored = {r["canonical_url"].removeprefix(base): r for r in records}
    assert set(stored) == set(expected)
    for path, article in expected.items():
        record = stored[path]
        assert record["url"] == base + path
        assert record["title"] == article["title"]
        assert record["text"] == published_text(article)
        for phrase in FURNITURE:
            assert phrase not in record["text"]
    assert stored["/aerospace/2020/06/japan-space-policy.html"]["tags"] == [
        "aerospace",
        "cooperation",
        "japan",
        "us",
    ]
    assert stored["/energy/2026/10/nuclear-uprate-approval.html"]["tags"] == [
        "energy",
        "nuclear",
        "regulation",
    ]
    assert stored["/manufacturing/2026/10/robot-welding-small-shops.html"]["tags"] == [
        "manufacturing",
        "robotics",
        "automation",
        "welding",
    ]
    assert {r["source"] for r in records} <= {
        base.removeprefix("http://") + p for p in ("/feeds-rss.xml", "/feeds-atom.xml", "/sitemap_index.xml")
    }

    sources = [
        json.loads(line) for line in run_cli("sources", "list", "--json", db=db_url).stdout.splitlines()
    ]
    assert sum(s["article_count"] for s in sources) == 31
    assert all(s["last_success_at"] and s["etag"] for s in sources)

    hits_before = sum(site_server.hits.values())
    second = run_cli("crawl", "--all", "--json", *NO_THROTTLE, db=db_url)
    assert second.code == 0, second.stderr
    again = json.loads(second.stdout)
    assert (again["new"], again["updated"], again["pages_fetched"]) == (0, 0, 0)
    assert again["not_modified"] == 3  # both feeds and the sitemap index answered 304
    # robots.txt and the three source documents; no page is downloaded again
    assert sum(site_server.hits.values()) - hits_before == 4
    assert len(run_cli("export", db=db_url).stdout.splitlines()) == 31


@pytest.mark.slow
def test_broken_source_does_not_stop_the_crawl(site_server: SiteServer, db_url: str) -> None:
    base = site_server.base_url
    run_cli("sources", "add", base + "/index.html", "--kind", "feed", "--name", "html-as-feed", db=db_url)
    refused = run_cli("sources", "add", base + "/feeds/missing.xml", "--name", "gone", db=db_url)
    assert refused.code == 1
    assert f"cannot fetch {base}/feeds/missing.xml: HTTP 404" in refused.stderr
    run_cli("sources", "add", base + "/feeds/missing.xml", "--name", "gone", "--kind", "feed", db=db_url)
    run_cli("sources", "add", base + "/feeds/atom.xml", "--name", "atom", db=db_url)
    result = run_cli("crawl", "--all", "--json", *NO_THROTTLE, db=db_url)
    assert result.code == 3
    summary = json.loads(result.stdout)
    assert summary["new"] == 10
    assert sorted(summary["failed_sources"]) == ["gone", "html-as-feed"]
    assert "2 source(s) failed" in result.stderr
    sources = {
        s["name"]: s
        for s in map(json.loads, run_cli("sources", "list", "--json", db=db_url).stdout.splitlines())
    }
    assert sources["html-as-feed"]["last_error"].startswith("not a feed")
    assert sources["gone"]["last_error"] == "HTTP 404 Not Found"
    assert sources["atom"]["last_error"] is None
