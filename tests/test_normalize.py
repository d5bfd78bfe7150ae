from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aggregator.model import Article
from aggregator.normalize import canonical_url, clean_text, normalize_article, to_utc
from aggregator.tags import fold_tag

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://Example.com:443/a/b?utm_source=rss&b=2&a=1&fbclid=x#top",
            "https://example.com/a/b?a=1&b=2",
        ),
        ("http://example.com:80/story", "http://example.com/story"),
        ("http://127.0.0.1:8123/a.html?utm_medium=feed&utm_campaign=daily", "http://127.0.0.1:8123/a.html"),
        ("https://m.example.com/news/story/", "https://example.com/news/story/"),
        ("https://example.com/news/story/amp/", "https://example.com/news/story/"),
        ("https://example.com/news/story.amp.html", "https://example.com/news/story.html"),
        ("https://example.com/news/story?amp=1", "https://example.com/news/story"),
        ("https://example.com/amplify/x", "https://example.com/amplify/x"),
        ("https://example.com/search?q=ports&page=2", "https://example.com/search?page=2&q=ports"),
        ("mailto:x@example.com", "mailto:x@example.com"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("U.S.", "us"),
        ("United States", "us"),
        (" Japan ", "japan"),
        ("co-operation", "cooperation"),
        ("Cooperation", "cooperation"),
        ("Supply   Chain", "supply chain"),
        ("#AI", "artificial intelligence"),
    ],
)
def test_fold_tag(tag: str, expected: str) -> None:
    assert fold_tag(tag) == expected


def test_clean_text_repairs_mojibake_and_keeps_typography() -> None:
    assert (
        clean_text("Caf\u00c3\u00a9 \u201cquoted\u201d\u00a0text\r\n\r\n\r\n\nNext   para")
        == "Café “quoted” text\n\nNext para"
    )


def test_clean_text_is_nfc() -> None:
    assert clean_text("e\u0301") == "\u00e9"


def test_to_utc() -> None:
    assert to_utc(datetime(2026, 1, 1, 9, tzinfo=timezone(timedelta(hours=9))), now=NOW) == datetime(
        2026, 1, 1, tzinfo=UTC
    )
    assert to_utc(datetime(2026, 1, 1, 9), now=NOW) == datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert to_utc(NOW + timedelta(hours=2), now=NOW) == NOW + timedelta(hours=2)
    assert to_utc(NOW + timedelta(days=30), now=NOW) is None


def test_normalize_article() -> None:
    article = Article(
        url="https://www.example.com/a?utm_source=x",
        canonical_url="https://www.example.com/a?utm_source=x",
        title="  Title\u00a0here ",
        tags=["U.S.", "United States", "Ports"],
        tag_origins={"U.S.": "page", "United States": "feed", "Ports": "feed"},
        published=datetime(2026, 3, 1, 10, tzinfo=timezone(timedelta(hours=-5))),
        updated=datetime(2026, 2, 1, tzinfo=UTC),
        text="One  two\n\n\n\nthree",
    )
    got = normalize_article(article, now=NOW)
    assert got.canonical_url == "https://www.example.com/a"
    assert got.url == "https://www.example.com/a?utm_source=x"
    assert got.title == "Title here"
    assert got.tags == ["us", "ports"]
    assert got.tag_origins == {"us": "page", "ports": "feed"}
    assert got.published == datetime(2026, 3, 1, 15, tzinfo=UTC)
    assert got.updated is None  # before the publication date: not an update
    assert got.text == "One two\n\nthree"
    assert got.word_count == 3
    assert len(got.content_hash) == 64
    assert normalize_article(got, now=NOW) == got  # idempotent


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example:99999/x", "https://a.example:99999/x"),
        ("https://a.example:abc/x", "https://a.example:abc/x"),
        ("http://a.example:/x?utm_source=1&", "http://a.example/x"),
    ],
)
def test_an_address_with_an_impossible_port_is_kept_as_given(url: str, expected: str) -> None:
    # Found by tests/test_fuzz.py: w3lib and urllib raise ValueError on such ports.
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://amp.m.a.example/story", "https://a.example/story"),
        ("https://a.example/story/amp/amp", "https://a.example/story"),
        ("https://m.m.a.example/amp/amp?b=1&a=2", "https://a.example/?a=2&b=1"),
    ],
)
def test_nested_mobile_and_amp_variants_canonicalize_in_one_step(url: str, expected: str) -> None:
    # Found by tests/test_fuzz.py: one pass left "m.a.example" and ".../amp", which the next
    # crawl's canonicalization changed again.
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected
