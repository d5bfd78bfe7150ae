"""A crawl against a server that misbehaves in every way publishers' servers do (issue #12).

One crawl over loopback reads a feed whose pages each fail differently, sources whose own
documents fail, and an endless calendar of sitemaps. Every fault is survived: the crawl
finishes, the rest is stored (exact records), each fault is one line in the log and shows on its
source's health, and nothing half-written is left (the database checks out, no empty record).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from aggregator import settings as crawl_settings
from aggregator.devserver import HUGE_SIZE, Fault, SiteServer, serve
from tests.conftest import invoke, run_cli

#: Fast failures for the test: a 2 s timeout and one retry (the defaults are tested below).
FAST = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_TIMEOUT=2", "-s", "RETRY_TIMES=1")

#: Article pages that fail, each its own way: none of them may be stored.
PAGE_FAULTS = {
    f"/faults/{fault.value}.html": fault
    for fault in (
        Fault.SERVER_ERROR,
        Fault.UNAVAILABLE,
        Fault.TIMEOUT,
        Fault.RESET,
        Fault.TRUNCATED,
        Fault.DRIP,
        Fault.REDIRECT_LOOP,
        Fault.HUGE,
        Fault.HUGE_UNANNOUNCED,
        Fault.GZIP_BOMB,
        Fault.BINARY,
    )
}
#: Real articles served with a wrong or no charset: both must be stored, their text intact.
CHARSET_FAULTS = {
    "/energy/2026/10/grid-battery-fire-code.html": Fault.WRONG_CHARSET,
    "/energy/2026/10/heat-pump-installer-training.html": Fault.MISSING_CHARSET,
}
#: Pages served as they should be.
GOOD_PAGES = [
    "/energy/2026/10/transmission-line-permitting.html",
    "/manufacturing/2026/10/machine-tool-orders-decline.html",
    "/aerospace/2026/10/engine-overhaul-shop-expansion.html",
]
#: Sources whose own document fails, with the reason their health must show.
SOURCE_FAULTS = {
    "src-500": (Fault.SERVER_ERROR, "HTTP 500 Internal Server Error"),
    "src-503": (Fault.UNAVAILABLE, "HTTP 503 Service Unavailable"),
    "src-timeout": (
        Fault.TIMEOUT,
        "DownloadTimeoutError: Getting {base}/faults/src-timeout.xml took longer than 2.0 seconds.",
    ),
    "src-reset": (
        Fault.RESET,
        "DownloadFailedError: the connection closed before the response was complete (ConnectionDone)",
    ),
    "src-truncated": (
        Fault.TRUNCATED,
        "ResponseDataLossError: the body was shorter than its Content-Length (truncated)",
    ),
    "src-loop": (Fault.REDIRECT_LOOP, "IgnoreRequest: max redirections reached"),
    "src-huge": (
        Fault.HUGE,
        (
            "DownloadCancelledError: Expected to receive 52428800 bytes which is larger than download max"
            " size (16777216) in request <GET {base}/faults/src-huge.xml>."
        ),
    ),
    "src-bomb": (
        Fault.GZIP_BOMB,
        (
            "IgnoreRequest: Ignored response <200 {base}/faults/src-bomb.xml> because its body (65301 B"
            " compressed, 16842752 B decompressed so far) exceeded DOWNLOAD_MAXSIZE (16777216 B) during"
            " decompression."
        ),
    ),
    "src-binary": (
        Fault.BINARY,
        "not a feed (SAXParseException: <unknown>:2:4: not well-formed (invalid token))",
    ),
}
REAL_SUMMARY = (
    "The port authority approved a second container terminal on the reclaimed land north of the "
    "harbour, with berths for the largest ships and a rail link to the inland depot."
)


def feed(base: str) -> bytes:
    items = [
        f"<item><title>Fault {fault.value}</title><link>{base}{path}</link></item>"
        for path, fault in PAGE_FAULTS.items()
    ]
    items += [
        f"<item><title>Page</title><link>{base}{path}</link></item>"
        for path in [*CHARSET_FAULTS, *GOOD_PAGES]
    ]
    # Pages that are missing (404): one entry has no real text, the other a paragraph of it.
    items.append(
        f"<item><title>&amp;lol9;</title><link>{base}/faults/missing-1.html</link>"
        "<description>&amp;lol9 &amp;lol9;</description></item>"
    )
    items.append(
        f"<item><title>Second terminal approved</title><link>{base}/faults/missing-2.html</link>"
        f"<description>{REAL_SUMMARY}</description></item>"
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Faults</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def sources(db: str) -> dict[str, dict[str, Any]]:
    return {
        s["name"]: s for s in map(json.loads, invoke("sources", "list", "--json", db=db).stdout.splitlines())
    }


@pytest.fixture
def faulty_site(site_server: SiteServer) -> SiteServer:
    site_server.faults.update(PAGE_FAULTS)
    site_server.faults.update(CHARSET_FAULTS)
    site_server.faults.update({f"/faults/{name}.xml": fault for name, (fault, _) in SOURCE_FAULTS.items()})
    site_server.faults["/faults/calendar.xml"] = Fault.CALENDAR
    site_server.routes["/feeds/faults.xml"] = (
        200,
        {"Content-Type": "application/rss+xml"},
        feed(site_server.base_url),
    )
    return site_server


@pytest.mark.slow
def test_every_fault_is_survived_and_the_rest_is_stored(faulty_site: SiteServer, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'faults.db'}"
    base = faulty_site.base_url
    invoke("sources", "add", base + "/feeds/faults.xml", "--kind", "feed", "--name", "faults", db=db)
    for name in SOURCE_FAULTS:
        invoke("sources", "add", f"{base}/faults/{name}.xml", "--kind", "feed", "--name", name, db=db)
    invoke("sources", "add", base + "/faults/calendar.xml", "--kind", "sitemap", "--name", "calendar", db=db)

    result = run_cli("crawl", "--all", "--json", "--no-progress", *FAST, db=db)
    assert result.code == 3, result.stderr  # finished, some sources failed
    report = json.loads(result.stdout)
    assert report["finish_reason"] == "finished"
    assert sorted(report["failed_sources"]) == sorted(SOURCE_FAULTS)

    records = [json.loads(line) for line in invoke("export", db=db).stdout.splitlines()]
    stored = {r["canonical_url"].removeprefix(base): r for r in records}
    assert sorted(stored) == sorted([*CHARSET_FAULTS, *GOOD_PAGES, "/faults/missing-2.html"])
    assert report["new"] == len(stored) == 6
    assert stored["/faults/missing-2.html"]["text"] == REAL_SUMMARY
    assert stored["/faults/missing-2.html"]["text_origin"] == "feed"

    health = sources(db)
    for name, (_, reason) in SOURCE_FAULTS.items():
        assert health[name]["last_error"] == reason.format(base=base)
    failed_pages = [*PAGE_FAULTS, "/faults/missing-1.html", "/faults/missing-2.html"]
    assert report["page_errors"] == len(failed_pages) == 13
    assert health["faults"]["last_error"].startswith("13 problem(s) in the last crawl: ")
    assert health["faults"]["error_count"] == 0  # the feed itself is healthy: no backoff
    # The calendar trap is cut at the sitemap depth limit: one line, and on its health.
    trap = f"{base}/faults/calendar.xml?month=4: sitemap indexes nested more than 4 deep"
    assert health["calendar"]["last_error"] == f"1 problem(s) in the last crawl: {trap}"
    assert f"source calendar: not following {trap}" in result.stderr
    assert faulty_site.hits["/faults/calendar.xml"] == 5

    # One line in the log for each fault (a page over DOWNLOAD_WARNSIZE also gets Scrapy's warning).
    # The garbage entry's skip is a line of its own, checked below.
    lines = [
        line
        for line in result.stderr.splitlines()
        if "download warn size" not in line and "skipped the feed entry" not in line
    ]
    for path in failed_pages:
        assert len([line for line in lines if base + path + ":" in line]) == 1, path
    for name in SOURCE_FAULTS:
        assert len([line for line in lines if f"source {name} failed: " in line]) == 1, name
    assert (
        "skipped the feed entry for " + base + "/faults/missing-1.html: no page and no usable text"
        in result.stderr
    )

    # Nothing half-written: the file checks out and every record is whole.
    with sqlite3.connect(tmp_path / "faults.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert all(r["title"] and r["word_count"] >= 10 for r in records)


def test_the_bounds_on_hostile_responses_are_sensible_defaults() -> None:
    """The settings that bound these faults: a 50 MB page and a 64 MB gzip bomb are cut."""
    assert crawl_settings.DOWNLOAD_MAXSIZE == 16 * 1024 * 1024 < HUGE_SIZE
    assert crawl_settings.DOWNLOAD_WARNSIZE == 4 * 1024 * 1024
    assert crawl_settings.DOWNLOAD_TIMEOUT == 30
    assert crawl_settings.RETRY_TIMES == 2
    assert crawl_settings.REDIRECT_MAX_TIMES == 5


#: Pages on a host whose robots.txt fails: two articles and one page its robots.txt forbids.
ELSEWHERE = [
    "/energy/2026/10/transmission-line-permitting.html",
    "/manufacturing/2026/10/machine-tool-orders-decline.html",
]
FORBIDDEN = "/private/embargoed-earnings-preview.html"


def add_wire_feed(site_server: SiteServer, links: list[str], db: str) -> None:
    """A feed source "wire" on ``site_server`` listing ``links`` (a scripted route: no ETag, so
    every crawl reads it whole)."""
    items = "".join(f"<item><title>Story</title><link>{link}</link></item>" for link in links)
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>'
    site_server.routes["/feeds/elsewhere.xml"] = (200, {"Content-Type": "application/rss+xml"}, body.encode())
    feed = site_server.base_url + "/feeds/elsewhere.xml"
    added = invoke("sources", "add", feed, "--kind", "feed", "--name", "wire", db=db)
    assert added.code == 0, added.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (
            Fault.SERVER_ERROR,
            (
                "RobotsUnreachable: robots.txt of {host} could not be read (HTTP 500);"
                " not fetching until it can be"
            ),
        ),
        # No answer at all: the pages fail as their own download would have.
        (
            Fault.RESET,
            "DownloadFailedError: the connection closed before the response was complete (ConnectionDone)",
        ),
    ],
    ids=["500", "reset"],
)
def test_a_robots_txt_that_cannot_be_read_allows_nothing(
    site_server: SiteServer, tmp_path: Path, fault: Fault, reason: str
) -> None:
    """RFC 9309: while a host's robots.txt answers 5xx or cannot be reached, nothing is fetched
    from it (Scrapy alone fetched everything, the forbidden page too). Its pages are page errors,
    on their source's health; once robots.txt reads again, the articles are stored and the
    forbidden page is still skipped."""
    db = f"sqlite:///{tmp_path / 'robots.db'}"
    with serve(site_server.root) as publisher:  # another port: another host for robots.txt
        publisher.faults["/robots.txt"] = fault
        links = [publisher.base_url + path for path in [*ELSEWHERE, FORBIDDEN]]
        add_wire_feed(site_server, links, db)

        first = run_cli("crawl", "--all", "--json", "--no-progress", *FAST, db=db)
        assert first.code == 0, first.stderr
        assert "Traceback" not in first.stderr
        report = json.loads(first.stdout)
        counts = (report["new"], report["page_errors"], report["ignored"])
        assert counts == (0, 3, 0), first.stderr
        assert publisher.hits["/robots.txt"] == 2  # one request and its one retry, for all three pages
        assert [publisher.hits[path] for path in [*ELSEWHERE, FORBIDDEN]] == [0, 0, 0]
        host = publisher.base_url.removeprefix("http://")
        reason = reason.format(host=host)
        for link in links:
            line = f"WARNING aggregator.session: could not fetch {link}: {reason}"
            assert first.stderr.splitlines().count(line) == 1, first.stderr
        health = sources(db)["wire"]["last_error"]
        assert health.startswith("3 problem(s) in the last crawl: http://"), health
        assert health.endswith(f": {reason} (and 2 more)")
        assert invoke("export", db=db).stdout == ""

        del publisher.faults["/robots.txt"]
        second = run_cli("crawl", "--all", "--json", "--no-progress", *FAST, db=db)
        assert second.code == 0, second.stderr
        report = json.loads(second.stdout)
        assert (report["new"], report["page_errors"], report["ignored"]) == (2, 0, 1)
        stored = sorted(
            json.loads(line)["canonical_url"] for line in invoke("export", db=db).stdout.splitlines()
        )
        assert stored == sorted(links[:2])
        assert publisher.hits[FORBIDDEN] == 0


@pytest.mark.slow
def test_every_request_waiting_for_robots_txt_gets_its_rules(site_server: SiteServer, tmp_path: Path) -> None:
    """Requests to a host queue up while its robots.txt is on its way; each must be judged by
    it. Scrapy 2.13+ hands the rules to the first waiter only and lets the others through (a
    three-worker test once stored a forbidden page)."""
    db = f"sqlite:///{tmp_path / 'robots.db'}"
    forbidden = [FORBIDDEN] + [f"/private/draft-{n}.html" for n in range(5)]
    with serve(site_server.root) as publisher:
        links = [publisher.base_url + path for path in [*ELSEWHERE, *forbidden]]
        add_wire_feed(site_server, links, db)
        result = run_cli("crawl", "--all", "--json", "--no-progress", *FAST, db=db)
        assert result.code == 0, result.stderr
        report = json.loads(result.stdout)
        assert (report["new"], report["ignored"], report["page_errors"]) == (2, 6, 0), result.stderr
        assert [publisher.hits[path] for path in forbidden] == [0] * 6
        assert publisher.hits["/robots.txt"] == 1


@pytest.mark.slow
def test_robots_txt_is_read_again_once_its_copy_is_too_old(site_server: SiteServer, tmp_path: Path) -> None:
    """A worker runs for months: robots.txt is read again after AGGREGATOR_ROBOTS_MAX_AGE (a day;
    here 0), and still obeyed. Scrapy kept its first copy for the life of the process."""
    db = f"sqlite:///{tmp_path / 'robots.db'}"
    links = [site_server.base_url + path for path in [*ELSEWHERE, FORBIDDEN]]
    add_wire_feed(site_server, links, db)
    once = ("-s", "AGGREGATOR_ROBOTS_MAX_AGE=0")
    result = run_cli("crawl", "--all", "--json", "--no-progress", *FAST, *once, db=db)
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["new"], report["ignored"], report["page_errors"]) == (2, 1, 0), result.stderr
    assert site_server.hits[FORBIDDEN] == 0
    # The feed's request read it, and the pages' requests, which came after, read it again.
    assert site_server.hits["/robots.txt"] >= 2


def stored_urls(db: str) -> set[str]:
    return {json.loads(line)["canonical_url"] for line in invoke("export", db=db).stdout.splitlines()}


def crawl_all(db: str) -> dict[str, Any]:
    """``crawl --all`` (the fast settings); its JSON report once it exits 0."""
    result = run_cli("crawl", "--all", "--json", "--no-progress", *FAST, db=db)
    assert result.code == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.mark.slow
def test_a_page_that_failed_for_now_is_fetched_again_though_its_feed_did_not_change(
    site_server: SiteServer, tmp_path: Path
) -> None:
    """A crawl that runs for months must not lose an article to one bad minute of a publisher.
    A feed's page answered 500; kept, the feed's ETag would make every later read a 304 while
    the feed is unchanged, and the page would never be asked for again. The feed is done without
    its validators instead: the next crawl reads it whole, fetches that page alone and stores
    it; after that clean read the ETag is kept and the feed answers 304."""
    db = f"sqlite:///{tmp_path / 'again.db'}"
    base = site_server.base_url
    # A file of the site, so it is served with an ETag; its entries have no text of their own
    # (the page is the only copy of the article).
    items = "".join(f"<item><title>Story</title><link>{{base}}{path}</link></item>" for path in GOOD_PAGES)
    (site_server.root / "feeds" / "links.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Links</title>{items}</channel></rss>'
    )
    invoke("sources", "add", base + "/feeds/links.xml", "--kind", "feed", "--name", "rss", db=db)
    flaky = GOOD_PAGES[0]
    site_server.faults[flaky] = Fault.SERVER_ERROR

    report = crawl_all(db)
    assert (report["page_errors"], report["not_modified"]) == (1, 0), report
    before = stored_urls(db)
    assert before == {base + path for path in GOOD_PAGES[1:]}
    health = sources(db)["rss"]
    # Not a complete read: no validators, and no time from which a sitemap's entries would be
    # skipped as unchanged.
    assert (health["etag"], health["last_modified"], health["last_success_at"]) == (None, None, None)
    assert health["error_count"] == 0
    reason = f"{base}{flaky}: HTTP 500 Internal Server Error"
    assert health["last_error"] == f"1 problem(s) in the last crawl: {reason}"

    del site_server.faults[flaky]
    hits = sum(site_server.hits.values())
    report = crawl_all(db)
    assert (report["new"], report["page_errors"], report["not_modified"]) == (1, 0, 0), report
    assert stored_urls(db) == before | {base + flaky}
    # robots.txt, the feed and the page: no page stored before is downloaded again.
    assert sum(site_server.hits.values()) - hits == 3
    health = sources(db)["rss"]
    assert health["etag"]
    assert health["last_success_at"]
    assert health["last_error"] is None

    report = crawl_all(db)
    assert (report["new"], report["not_modified"], report["pages_fetched"]) == (0, 1, 0)


@pytest.mark.slow
def test_a_child_sitemap_that_failed_for_now_is_read_again_though_its_index_did_not_change(
    site_server: SiteServer, tmp_path: Path
) -> None:
    """The same for a sitemap index whose child answered 503: the index is done without its
    validators, so the next crawl reads it whole, the child too, and stores the child's page."""
    db = f"sqlite:///{tmp_path / 'again.db'}"
    base = site_server.base_url
    invoke("sources", "add", base + "/sitemap_index.xml", "--kind", "sitemap", "--name", "map", db=db)
    child, page = "/sitemaps/articles-archive.xml", "/aerospace/2020/06/japan-space-policy.html"
    site_server.faults[child] = Fault.UNAVAILABLE

    report = crawl_all(db)
    assert (report["source_errors"], report["not_modified"]) == (1, 0), report
    before = stored_urls(db)
    assert base + page not in before
    assert len(before) == report["new"] > 10
    assert (sources(db)["map"]["etag"], sources(db)["map"]["last_success_at"]) == (None, None)

    del site_server.faults[child]
    report = crawl_all(db)
    assert (report["new"], report["source_errors"], report["not_modified"]) == (1, 0, 0), report
    assert stored_urls(db) == before | {base + page}
    assert sources(db)["map"]["etag"]
