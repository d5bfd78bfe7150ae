from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser

from aggregator.feedwriter import atom, jsonfeed
from aggregator.model import Article

ARTICLES = [
    Article(
        url="https://p.example/1",
        canonical_url="https://p.example/1",
        title="Ports & rail <news>",
        authors=["Ana Ruiz"],
        tags=["ports"],
        text="Body one.",
        subtitle="Dek one",
        published=datetime(2026, 11, 1, tzinfo=UTC),
    ),
    Article(url="https://p.example/2", canonical_url="https://p.example/2", title="Second", text="Body two."),
]


def test_atom_is_valid_and_complete() -> None:
    doc = atom(
        ARTICLES,
        title="Industry news: tag ports",
        feed_id="urn:aggregator:tag:ports",
        now=datetime(2026, 11, 27, tzinfo=UTC),
    )
    parsed = feedparser.parse(doc)
    assert not parsed.bozo
    assert parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == ["Ports & rail <news>", "Second"]
    assert parsed.entries[0].author == "Ana Ruiz"
    assert parsed.entries[0].tags[0].term == "ports"


def test_jsonfeed_is_version_1_1() -> None:
    feed = json.loads(jsonfeed(ARTICLES, title="t", now=datetime(2026, 11, 27, tzinfo=UTC)))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["items"][0] == {
        "id": "https://p.example/1",
        "url": "https://p.example/1",
        "title": "Ports & rail <news>",
        "content_text": "Body one.",
        "date_published": "2026-11-01T00:00:00+00:00",
        "summary": "Dek one",
        "authors": [{"name": "Ana Ruiz"}],
        "tags": ["ports"],
    }
