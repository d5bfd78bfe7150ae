from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.errors import SourceError
from aggregator.feeds import (
    MAX_FEED_BYTES,
    MIN_ENTRY_WORDS,
    FeedEntry,
    article_from_entry,
    merge_entry,
    parse_feed,
    usable_words,
)
from aggregator.model import Article
from tests.conftest import FIXTURES, SITE

BASE = "http://127.0.0.1:8000"


def site_file(path: str) -> bytes:
    return (SITE / path).read_bytes().replace(b"{base}", BASE.encode())


def test_rss_entries() -> None:
    feed = parse_feed(site_file("feeds/rss.xml"), f"{BASE}/feeds/rss.xml")
    assert feed.version == "rss20"
    assert len(feed.entries) == 20
    first = feed.entries[0]
    assert first.link == f"{BASE}/manufacturing/2026/10/packaging-plant-fiber-bottles.html"
    assert first.published == datetime(2026, 10, 30, 8, tzinfo=UTC)
    assert first.updated is None
    assert first.authors == ["Luc Tremblay"]
    assert first.tags == ["manufacturing", "packaging", "recycling"]
    tracked = [e.link for e in feed.entries if "utm_source" in e.link]
    assert tracked == [
        f"{BASE}/energy/2026/10/nuclear-uprate-approval.html?utm_source=rss&utm_medium=feed&utm_campaign=daily"
    ]


def test_atom_entries_resolve_relative_links() -> None:
    feed = parse_feed(site_file("feeds/atom.xml"), f"{BASE}/feeds/atom.xml")
    assert feed.version == "atom10"
    assert len(feed.entries) == 10
    assert all(e.link.startswith(f"{BASE}/energy/2026/10/") for e in feed.entries)
    assert feed.entries[0].authors == ["Daniel Osei"]


def test_html_is_not_a_feed() -> None:
    with pytest.raises(SourceError, match="not a feed"):
        parse_feed(site_file("index.html"), f"{BASE}/")


def test_ill_formed_feed_still_yields_entries() -> None:
    data = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T &amp broken</title>'
        b"<item><title>One</title><link>http://x.example/1</link></item>"
        b"<item><title>Two</title><link>http://x.example/2</link></item>"
    )
    feed = parse_feed(data, "http://x.example/feed")
    assert [e.link for e in feed.entries] == ["http://x.example/1", "http://x.example/2"]
    assert feed.problem


def test_oversized_feed_is_refused() -> None:
    with pytest.raises(SourceError, match="over the"):
        parse_feed(b" " * (MAX_FEED_BYTES + 1), "http://x.example/feed")


def test_merge_rule_page_wins_feed_fills() -> None:
    feed = parse_feed(site_file("feeds/rss.xml"), f"{BASE}/feeds/rss.xml")
    entry = feed.entries[0]
    page = Article(
        url=entry.link,
        title="Page title",
        tags=["Packaging", "bottles"],
        tag_origins={"Packaging": "page", "bottles": "page"},
    )
    merged = merge_entry(page, entry)
    assert merged.title == "Page title"
    assert merged.authors == ["Luc Tremblay"]
    assert merged.published == entry.published
    assert merged.tags == ["Packaging", "bottles", "manufacturing", "recycling"]
    assert merged.tag_origins["manufacturing"] == "feed"
    assert merged.tag_origins["Packaging"] == "page"


def test_article_from_entry_content() -> None:
    data = (
        b'<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        b"<channel><title>T</title><item><title>Only in the feed</title><link>http://x.example/1</link>"
        b"<category>Ports</category><content:encoded><![CDATA[<p>First paragraph of the story.</p>"
        b"<p>Share this article</p><p>Second paragraph of the story.</p>]]></content:encoded>"
        b"</item></channel></rss>"
    )
    entry = parse_feed(data, "http://x.example/feed").entries[0]
    article = article_from_entry(entry)
    assert article.text == "First paragraph of the story.\n\nSecond paragraph of the story."
    assert article.text_origin == "feed"
    assert article.tags == ["Ports"]
    assert article.tag_origins == {"Ports": "feed"}


# --- every format, golden pairs ---------------------------------------------------------------

FEED_FILES = sorted(
    p for p in (FIXTURES / "feeds").iterdir() if p.with_name(p.name + ".expected.json").exists()
)


@pytest.mark.parametrize("path", FEED_FILES, ids=lambda p: p.name)
def test_feed_formats(path: Path) -> None:
    expected = json.loads(path.with_name(path.name + ".expected.json").read_text("utf-8"))
    feed = parse_feed(path.read_bytes(), "https://feeds.example/" + path.name)
    got = {
        "version": feed.version,
        "title": feed.title,
        "ill_formed": bool(feed.problem),
        "entries": [
            {
                "link": e.link,
                "title": e.title,
                "published": e.published.isoformat() if e.published else None,
                "updated": e.updated.isoformat() if e.updated else None,
                "authors": e.authors,
                "tags": e.tags,
            }
            for e in feed.entries
        ],
    }
    assert got == expected


def test_entity_bomb_is_not_expanded() -> None:
    feed = parse_feed((FIXTURES / "feeds" / "entity-bomb.xml").read_bytes(), "https://bomb.example/feed")
    assert len(feed.title) < 10
    assert "root:" not in feed.entries[0].title


def test_json_feed_requires_version() -> None:
    with pytest.raises(SourceError, match=r"jsonfeed\.org version"):
        parse_feed(b'{"items": []}', "https://x.example/feed.json")


def test_an_entry_without_real_text_is_not_an_article() -> None:
    """The billion-laughs feed, correctly not expanded, leaves ``&lol9;`` as the title and
    ``&lol9`` as the text: one "word" that is an entity reference. With its page missing it
    must not become an article (issue #12)."""
    feed = parse_feed((FIXTURES / "feeds" / "billion-laughs.xml").read_bytes(), "https://laughs.example/")
    article = article_from_entry(feed.entries[0])
    assert (article.title, article.text) == ("&lol9;", "&lol9")
    assert article.page_type == "empty"
    assert not article.is_article


@pytest.mark.parametrize(
    ("text", "words", "is_article"),
    [
        ("&lol9; &lol9; &#x41; &amp" * 5, 0, False),
        ("Warehouses fill up as the deadline approaches", 7, False),
        ("Warehouses fill up as the deadline for the cheap modules approaches &lol9;", 11, True),
    ],
)
def test_feed_entries_need_ten_real_words(text: str, words: int, is_article: bool) -> None:
    assert usable_words(text) == words
    entry = FeedEntry(link="https://x.example/1", title="T", id="1", summary=f"<p>{text}</p>")
    assert article_from_entry(entry).is_article is is_article
    assert MIN_ENTRY_WORDS == 10


def test_a_reference_to_a_surrogate_is_read_as_a_replacement_character() -> None:
    """&#xD800; names no character; feedparser raised UnicodeEncodeError on it (found by
    tests/test_fuzz.py)."""
    data = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T &#xD800;&#55296;&#1114112;</title>'
        b"<item><title>A &#xdfff; b</title><link>https://x.example/1</link></item></channel></rss>"
    )
    feed = parse_feed(data, "https://x.example/feed")
    assert feed.title == "T \ufffd\ufffd\ufffd"
    assert feed.entries[0].title == "A \ufffd b"
