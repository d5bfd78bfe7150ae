"""Incremental exports: cursors, tombstones, formats."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

from aggregator.export import ExportFormat, write_changes
from aggregator.model import Article
from aggregator.normalize import normalize_article
from aggregator.store import Store

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def art(n: int, body: str | None = None) -> Article:
    return normalize_article(
        Article(
            url=f"https://p.example/{n}",
            title=f"T{n}",
            text=body or f"Story number {n} about ports and rail.",
        ),
        now=NOW,
    )


def export(store: Store, fmt: ExportFormat, since: int) -> tuple[list[dict[str, Any]], int]:
    out = io.StringIO()
    _, cursor = write_changes(store, out, fmt=fmt, since=since)
    return [json.loads(line) for line in out.getvalue().splitlines()], cursor


def test_cursor_exports_exactly_what_changed(db_url: str) -> None:
    store = Store(db_url)
    store.write_batch([art(1), art(2), art(3)], now=NOW)
    full, cursor = export(store, ExportFormat.JSONL, 0)
    assert [d["title"] for d in full] == ["T1", "T2", "T3"]
    assert [d["id"] for d in full] == ["1", "2", "3"]
    assert export(store, ExportFormat.JSONL, cursor) == ([], cursor)

    store.write_batch([art(2, "Story two, corrected."), art(4)], now=NOW)
    store.write_batch([art(1)], now=NOW)  # unchanged: not a change
    store.delete_article("https://p.example/3", now=NOW)
    changed, cursor2 = export(store, ExportFormat.JSONL, cursor)
    assert changed == [
        {**changed[0], "id": "2", "text": "Story two, corrected."},
        {**changed[1], "id": "4"},
        {"id": "3", "deleted": True},
    ]
    assert cursor2 > cursor
    assert export(store, ExportFormat.JSONL, cursor2)[0] == []


def test_opensearch_bulk_and_meilisearch_formats(db_url: str) -> None:
    store = Store(db_url)
    store.write_batch([art(1), art(2)], now=NOW)
    store.delete_article("https://p.example/2", now=NOW)
    bulk, _ = export(store, ExportFormat.OPENSEARCH, 0)
    assert bulk[0] == {"index": {"_index": "articles", "_id": "1"}}
    assert bulk[1]["title"] == "T1"
    assert "id" not in bulk[1]
    assert bulk[2] == {"delete": {"_index": "articles", "_id": "2"}}
    meili, _ = export(store, ExportFormat.MEILISEARCH, 0)
    assert meili[0]["id"] == "1"
    assert meili[1] == {"id": "2", "_delete": True}


def test_shipped_index_settings_are_valid_json() -> None:
    from importlib import resources

    template = json.loads(
        resources.files("aggregator").joinpath("data", "opensearch-index-template.json").read_text()
    )
    assert template["template"]["mappings"]["properties"]["tags"] == {"type": "keyword"}
    settings = json.loads(
        resources.files("aggregator").joinpath("data", "meilisearch-settings.json").read_text()
    )
    assert "tags" in settings["filterableAttributes"]


def test_a_new_copy_of_a_story_re_exports_its_other_articles(db_url: str) -> None:
    from tests.conftest import fixture_articles

    paras = next(a for a in fixture_articles() if a["slug"] == "paper-mill-closure")["paragraphs"]
    store = Store(db_url)
    store.write_batch(
        [normalize_article(Article(url="https://a.example/mill", text="\n\n".join(paras)), now=NOW), art(9)],
        now=NOW,
    )
    _, cursor = export(store, ExportFormat.JSONL, 0)
    store.write_batch(
        [
            normalize_article(
                Article(
                    url="https://b.example/mill-copy", text="\n\n".join([*paras, "Local reaction followed."])
                ),
                now=NOW,
            )
        ],
        now=NOW,
    )
    changed, _ = export(store, ExportFormat.JSONL, cursor)
    assert [(d["canonical_url"], d["story_urls"]) for d in changed] == [
        ("https://a.example/mill", ["https://b.example/mill-copy"]),
        ("https://b.example/mill-copy", ["https://a.example/mill"]),
    ]
