"""The CLI as a user runs it: exit codes, one-line errors, JSON output. In-process with click's
runner; only what fetches through Scrapy runs in a subprocess (one reactor per process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aggregator.devserver import SiteServer
from aggregator.subscriptions import parse_sources_toml
from tests.conftest import PAGES, Result, invoke, run_cli


def one_line_error(result: Result, needle: str) -> None:
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aggregator: error: ")
    assert needle in lines[0]


def test_extract_saved_page() -> None:
    result = invoke(
        "extract",
        str(PAGES / "industrywire-japan-space-policy.html"),
        "--url",
        "https://www.industrywire.example/aerospace/2020/06/japan-space-policy.html",
    )
    assert result.code == 0
    record = json.loads(result.stdout)
    assert record["title"] == "Japan to boost space co-operation with U.S. in revised policy"
    assert record["dateline"] == "TOKYO"


def test_extract_text_is_the_dek_then_the_body() -> None:
    page = str(PAGES / "tradejournal-site-rules.html")
    record = json.loads(invoke("extract", page).stdout)
    result = invoke("extract", page, "--text")
    assert result.code == 0
    assert record["subtitle"] == "The spur doubles the number of trains the terminal can load each day"
    assert result.stdout == f"{record['subtitle']}\n\n{record['text']}\n"


def test_extract_text_leaves_out_a_dek_the_body_holds() -> None:
    page = str(PAGES / "industrywire-japan-space-policy.html")
    record = json.loads(invoke("extract", page).stdout)
    assert record["subtitle"]
    assert record["subtitle"] in record["text"]
    assert invoke("extract", page, "--text").stdout == record["text"] + "\n"


def test_extract_from_stdin() -> None:
    result = invoke("extract", "-", "--compact", stdin=(PAGES / "cp1252-retail.html").read_bytes())
    assert result.code == 0
    assert json.loads(result.stdout)["authors"] == ["Renée Dubois"]


def test_extract_missing_file(tmp_path: Path) -> None:
    result = invoke("extract", str(tmp_path / "nope.html"))
    assert result.code == 1
    one_line_error(result, "nope.html: No such file or directory")


def test_extract_a_directory(tmp_path: Path) -> None:
    result = invoke("extract", str(tmp_path))
    assert result.code == 1
    one_line_error(result, f"cannot read {tmp_path}: it is a directory")


def test_extract_of_an_empty_page_exits_4(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(b"")
    result = invoke("extract", str(page))
    assert result.code == 4
    assert json.loads(result.stdout)["text"] == ""
    assert result.stderr == f"aggregator: {page}: no article text found (empty page)\n"
    as_text = invoke("extract", str(page), "--text")
    assert (as_text.code, as_text.stdout) == (4, "")


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "PNG image"),
        (b'{"title": "Ports reopen", "body": "Ships sail."}', "JSON"),
        (b"body { margin: 0 } .byline { color: #333 }", "CSS"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "RSS feed"),
    ],
    ids=["png", "json", "css", "rss"],
)
def test_extract_of_something_not_html_is_one_line(tmp_path: Path, data: bytes, detected: str) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(data)
    result = invoke("extract", str(page))
    assert result.code == 1
    assert result.stdout == ""
    one_line_error(result, f"{page}: not an HTML page (it looks like {detected})")


def test_sources_add_list_remove(db_url: str) -> None:
    # --kind: no discovery fetch (which would leave 127.0.0.1)
    added = invoke("sources", "add", "https://pub.example/feed.xml", "--kind", "feed", db=db_url)
    assert added.code == 0
    assert added.stdout == "added feed source 'pub.example/feed.xml': https://pub.example/feed.xml\n"
    assert (
        invoke(
            "sources",
            "add",
            "https://pub.example/sitemap.xml",
            "--name",
            "sm",
            "--kind",
            "sitemap",
            db=db_url,
        ).code
        == 0
    )
    listed = invoke("sources", "list", "--json", db=db_url)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["name"], r["kind"], r["article_count"]) for r in rows] == [
        ("pub.example/feed.xml", "feed", 0),
        ("sm", "sitemap", 0),
    ]
    table = invoke("sources", "list", db=db_url)
    assert "pub.example/feed.xml" in table.stdout
    assert "sitemap" in table.stdout
    duplicate = invoke(
        "sources", "add", "https://pub.example/other.xml", "--name", "sm", "--kind", "sitemap", db=db_url
    )
    assert duplicate.code == 1
    one_line_error(duplicate, "a source named 'sm' exists already")
    again = invoke("sources", "add", "https://pub.example/sitemap.xml", "--kind", "sitemap", db=db_url)
    assert (again.code, again.stdout) == (0, "already a source: https://pub.example/sitemap.xml\n")
    assert invoke("sources", "remove", "sm", db=db_url).stdout == "removed source 'sm'\n"
    missing = invoke("sources", "remove", "sm", db=db_url)
    assert missing.code == 1
    one_line_error(missing, "no source named 'sm'")


def test_sources_list_when_empty(db_url: str) -> None:
    assert (
        invoke("sources", "list", db=db_url).stdout
        == "no sources yet; add one with: aggregator sources add URL\n"
    )


def test_sources_add_rejects_non_http(db_url: str) -> None:
    result = invoke("sources", "add", "ftp://pub.example/feed", db=db_url)
    assert result.code == 1
    one_line_error(result, "not an http(s) URL: 'ftp://pub.example/feed'")


def test_sources_export_toml_reads_back(db_url: str, tmp_path: Path) -> None:
    invoke(
        "sources",
        "add",
        "https://pub.example/feed.xml",
        "--kind",
        "feed",
        "--name",
        'Quote "and" ünïcode',
        "--tag",
        "Energy",
        "--tag",
        "grid",
        "--interval",
        "1800",
        db=db_url,
    )
    invoke("sources", "add", "https://pub.example/sitemap.xml", "--kind", "sitemap", db=db_url)
    target = tmp_path / "sources.toml"
    assert invoke("sources", "export", "--format", "toml", "-o", str(target), db=db_url).code == 0
    specs = parse_sources_toml(target.read_text("utf-8"), str(target))
    assert [(s.name, s.kind, s.url, s.tags, s.interval_seconds) for s in specs] == [
        ('Quote "and" ünïcode', "feed", "https://pub.example/feed.xml", ["Energy", "grid"], 1800),
        ("pub.example/sitemap.xml", "sitemap", "https://pub.example/sitemap.xml", [], 3600),
    ]
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert (
        invoke("sources", "import", str(target), db=other).stdout
        == f"imported {target}: 2 added, 0 already known\n"
    )


@pytest.mark.parametrize("fmt", ["toml", "opml"])
def test_per_source_politeness_survives_export_and_import(db_url: str, tmp_path: Path, fmt: str) -> None:
    feed, sitemap = "https://pub.example/feed.xml", "https://pub.example/sitemap.xml"
    add = ("sources", "add", "--delay", "2.5", "--concurrency", "1")
    assert invoke(*add, feed, "--kind", "feed", "--name", "slow", db=db_url).code == 0
    assert invoke("sources", "add", sitemap, "--kind", "sitemap", "--name", "plain", db=db_url).code == 0
    target = tmp_path / f"sources.{fmt}"
    assert invoke("sources", "export", "--format", fmt, "-o", str(target), db=db_url).code == 0
    if fmt == "opml":  # namespaced attributes, which other readers ignore
        assert 'xmlns:aggregator="https://github.com/industry-news-aggregator/aggregator/opml"' in (
            target.read_text("utf-8")
        )
        assert 'aggregator:delay="2.5" aggregator:concurrency="1"' in target.read_text("utf-8")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert invoke("sources", "import", str(target), db=other).code == 0
    listed = [json.loads(line) for line in invoke("sources", "list", "--json", db=other).stdout.splitlines()]
    assert {s["url"]: (s["delay"], s["concurrency"]) for s in listed} == {
        feed: (2.5, 1),
        sitemap: (None, None),
    }


def test_a_bad_politeness_in_a_sources_file_names_itself(db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "bad.toml"
    target.write_text('[[source]]\nurl = "https://a.example/feed.xml"\nconcurrency = 0\n')
    one_line_error(
        invoke("sources", "import", str(target), db=db_url),
        f"{target}: [[source]] number 1: concurrency must be at least 1",
    )


def test_crawl_unknown_source(db_url: str) -> None:
    result = invoke("crawl", "--source", "ghost", db=db_url)
    assert result.code == 1
    one_line_error(result, "no source named 'ghost'")


def test_bad_setting_override(db_url: str) -> None:
    result = invoke("crawl", "--all", "-s", "NOEQUALS", db=db_url)
    assert result.code == 2
    one_line_error(result, "-s expects NAME=VALUE, got 'NOEQUALS'")


@pytest.mark.parametrize(
    "command", [("crawl", "--all"), ("schedule", "--once"), ("fetch", "http://a.example/")]
)
def test_a_bad_setting_is_a_usage_error_before_anything_starts(db_url: str, command: tuple[str, ...]) -> None:
    for pair, reason in (
        ("CONCURRENT_REQUESTS=abc", "expected an integer"),
        ("DOWNLOAD_DELAY=-5", "must not be negative"),
    ):
        result = invoke(*command, "-s", pair, db=db_url)
        assert (result.code, result.stdout, result.stderr) == (
            2,
            "",
            f"aggregator: error: -s {pair}: {reason}\n",
        )


def test_crawl_with_nothing_due(db_url: str) -> None:
    result = invoke("crawl", db=db_url)
    assert (result.code, result.stderr) == (
        0,
        "nothing to crawl: no source is due (use --all or --source NAME)\n",
    )


def test_search_rejects_a_bad_date_and_a_bad_query(db_url: str) -> None:
    one_line_error(
        invoke("search", "ports", "--since", "last week", db=db_url),
        "not an ISO date: 'last week' (use YYYY-MM-DD)",
    )
    nothing = invoke("search", "--", "-- -wind", db=db_url)
    assert nothing.code == 2
    one_line_error(nothing, "search: cannot read the query '-- -wind' (it only excludes words")
    assert invoke("search", 'U.S. "ports', db=db_url).stdout == "no match for 'U.S. \"ports'\n"
    usage = invoke("search", db=db_url)
    assert usage.code == 2
    assert "a QUERY is needed (or --reindex)" in usage.stderr


def test_search_table_keeps_the_matched_words(db_url: str) -> None:
    from aggregator.search import SearchQuery, search
    from aggregator.store import Store
    from tests.test_search import load

    with Store(db_url) as store:
        load(store)
        snippet = search(store, SearchQuery("floating foundations"))[0].snippet
    result = invoke("search", "floating foundations", db=db_url)
    assert result.code == 0
    assert "[floating]" in snippet
    shown = " ".join(result.stdout.replace("│", " ").split())
    assert "floating foundations" in shown
    assert "[" not in shown.split("snippet", 1)[1]


def test_status_of_an_empty_database(db_url: str) -> None:
    status = json.loads(invoke("status", "--json", db=db_url).stdout)
    assert status == {"scheduler": None, "runs": [], "failing": [], "next_due": [], "articles": 0}
    assert invoke("status", db=db_url).stdout.startswith("scheduler: not running; 0 articles stored\n")


def test_export_to_file_on_empty_database(db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    result = invoke("export", "-o", str(target), db=db_url)
    assert result.code == 0
    assert target.read_text() == ""
    assert result.stderr == f"wrote 0 documents to {target}; next cursor: 0\n"


def test_debug_shows_the_traceback(db_url: str) -> None:
    from aggregator.errors import SourceNotFound

    with pytest.raises(SourceNotFound):
        invoke("--debug", "sources", "remove", "ghost", db=db_url)


def test_fetch_prints_json_lines(fixture_site: SiteServer) -> None:
    url = f"{fixture_site.base_url}/energy/2026/10/lithium-refinery-permit.html"
    result = run_cli("fetch", url, f"{fixture_site.base_url}/energy/", "-s", "AUTOTHROTTLE_ENABLED=False")
    assert result.code == 0, result.stderr
    records = {r["url"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert records[url]["title"] == "Lithium hydroxide refinery wins final permit"
    assert records[url]["tags"] == ["energy", "lithium", "batteries", "mining"]
    assert records[f"{fixture_site.base_url}/energy/"]["page_type"] == "listing"


def test_fetch_unreachable_fails(tmp_path: Path) -> None:
    result = run_cli("fetch", "http://127.0.0.1:9/nothing-listens-here", "-s", "RETRY_ENABLED=False")
    assert result.code == 1
    assert "1 of 1 URLs could not be fetched or read (1 download errors)" in result.stderr
