from __future__ import annotations

import gzip
from datetime import datetime

import pytest

from aggregator.errors import SourceError
from aggregator.sitemaps import parse_sitemap
from tests.conftest import SITE

BASE = "http://127.0.0.1:8000"


def test_sitemap_index() -> None:
    data = (SITE / "sitemap_index.xml").read_bytes().replace(b"{base}", BASE.encode())
    sitemap = parse_sitemap(data, BASE + "/sitemap_index.xml")
    assert sitemap.kind == "sitemapindex"
    assert [e.loc for e in sitemap.entries] == [
        f"{BASE}/sitemaps/articles-2026.xml",
        f"{BASE}/sitemaps/articles-archive.xml",
        f"{BASE}/sitemaps/sections.xml",
    ]


def test_urlset_gzipped_with_lastmod() -> None:
    data = (SITE / "sitemaps" / "articles-2026.xml").read_bytes().replace(b"{base}", BASE.encode())
    sitemap = parse_sitemap(gzip.compress(data), BASE + "/sitemaps/articles-2026.xml.gz")
    assert sitemap.kind == "urlset"
    assert len(sitemap.entries) == 31  # 30 articles of 2026 and the robots-disallowed one
    assert sitemap.entries[0].lastmod == datetime(2026, 10, 2)


def test_google_news_sitemap_fields() -> None:
    data = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
      xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://n.example/a</loc>
      <news:news><news:publication><news:name>N</news:name></news:publication>
      <news:publication_date>2026-11-01T10:00:00Z</news:publication_date><news:title>A title</news:title>
      <news:keywords>ports, rail freight</news:keywords></news:news></url></urlset>"""
    entry = parse_sitemap(data, "https://n.example/news.xml").entries[0]
    assert entry.loc == "https://n.example/a"
    assert entry.news_title == "A title"
    assert entry.keywords == ["ports", "rail freight"]
    assert entry.news_published is not None


def test_entities_are_not_expanded() -> None:
    bomb = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">
    <!ENTITY ext SYSTEM "file:///etc/passwd">]><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <url><loc>https://x.example/&lol2;&ext;</loc></url></urlset>"""
    sitemap = parse_sitemap(bomb, "https://x.example/s.xml")
    assert all("lollol" not in e.loc and "root:" not in e.loc for e in sitemap.entries)


@pytest.mark.parametrize("data", [b"<html><body>not a sitemap</body></html>", b"", b"\x1f\x8bnot gzip"])
def test_not_a_sitemap(data: bytes) -> None:
    with pytest.raises(SourceError):
        parse_sitemap(data, "https://x.example/s.xml")
