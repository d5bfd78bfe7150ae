"""The CLI as a user runs it: exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aggregator.devserver import SiteServer
from tests.conftest import PAGES, Result, run_cli

COMMANDS = [[], ["extract"], ["fetch"], ["sources"], ["sources", "add"], ["sources", "list"],
            ["sources", "import"], ["sources", "export"],
            ["sources", "remove"], ["crawl"], ["export"], ["stories"], ["search"], ["feed"], ["push"], ["demo"]]


def one_line_error(result: Result, needle: str) -> None:
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aggregator: error: ")
    assert needle in lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "aggregator")
def test_every_command_has_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.code == 0
    assert "Usage:" in result.stdout


def test_extract_saved_page() -> None:
    result = run_cli("extract", str(PAGES / "industrywire-japan-space-policy.html"), "--url",
                     "https://www.industrywire.example/aerospace/2020/06/japan-space-policy.html")
    assert result.code == 0
    record = json.loads(result.stdout)
    assert record["title"] == "Japan to boost space co-operation with U.S. in revised policy"
    assert record["dateline"] == "TOKYO"


def test_extract_from_stdin() -> None:
    result = run_cli("extract", "-", "--compact", stdin=(PAGES / "cp1252-retail.html").read_bytes())
    assert result.code == 0
    assert json.loads(result.stdout)["authors"] == ["Renée Dubois"]


def test_extract_missing_file(tmp_path: Path) -> None:
    result = run_cli("extract", str(tmp_path / "nope.html"))
    assert result.code == 1
    one_line_error(result, "nope.html: No such file or directory")


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00binary", b""], ids=["binary", "empty"])
def test_extract_without_text_exits_4(tmp_path: Path, data: bytes) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(data)
    result = run_cli("extract", str(page))
    assert result.code == 4
    assert json.loads(result.stdout)["text"] == ""
    assert "no article text found" in result.stderr
    assert "Traceback" not in result.stderr


def test_sources_add_list_remove(db_url: str) -> None:
    # --kind: no discovery fetch (which would leave 127.0.0.1)
    added = run_cli("sources", "add", "https://pub.example/feed.xml", "--kind", "feed", db=db_url)
    assert added.code == 0
    assert "added feed source 'pub.example/feed.xml'" in added.stdout
    assert run_cli("sources", "add", "https://pub.example/sitemap.xml", "--name", "sm", "--kind", "sitemap",
                   db=db_url).code == 0
    listed = run_cli("sources", "list", "--json", db=db_url)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["name"], r["kind"], r["article_count"]) for r in rows] == [("pub.example/feed.xml", "feed", 0),
                                                                          ("sm", "sitemap", 0)]
    duplicate = run_cli("sources", "add", "https://pub.example/other.xml", "--name", "sm", "--kind", "sitemap",
                        db=db_url)
    assert duplicate.code == 1
    one_line_error(duplicate, "a source named 'sm' exists already")
    assert run_cli("sources", "remove", "sm", db=db_url).code == 0
    missing = run_cli("sources", "remove", "sm", db=db_url)
    assert missing.code == 1
    one_line_error(missing, "no source named 'sm'")


def test_sources_add_rejects_non_http(db_url: str) -> None:
    result = run_cli("sources", "add", "ftp://pub.example/feed", db=db_url)
    assert result.code == 1
    one_line_error(result, "not an http(s) URL")


def test_crawl_unknown_source(db_url: str) -> None:
    result = run_cli("crawl", "--source", "ghost", db=db_url)
    assert result.code == 1
    one_line_error(result, "no source named 'ghost'")


def test_bad_setting_override(db_url: str) -> None:
    result = run_cli("crawl", "--all", "-s", "NOEQUALS", db=db_url)
    assert result.code == 1
    one_line_error(result, "-s expects NAME=VALUE")


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
    assert "1 of 1 URLs could not be fetched" in result.stderr


def test_export_to_file_on_empty_database(db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    result = run_cli("export", "-o", str(target), db=db_url)
    assert result.code == 0
    assert target.read_text() == ""
    assert "wrote 0 documents to " in result.stderr
    assert "next cursor: 0" in result.stderr
