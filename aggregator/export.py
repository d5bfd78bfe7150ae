"""Exports of stored articles, full or incremental, for files and external search engines.

JSON lines: one object per article, every Article field plus ``aliases`` (other URLs that served
the same text), ``story_urls`` (other articles carrying the same story) and ``id`` (the stable
document id). Incremental exports (``since`` a cursor) write the documents changed after it and a
tombstone for each deleted one; the caller stores the returned cursor for next time.

Tombstones: jsonl ``{"id": ..., "deleted": true}``; OpenSearch/Elasticsearch a ``delete`` action in
the ``_bulk`` NDJSON; Meilisearch ``{"id": ..., "_delete": true}`` lines (``aggregator push``-style
clients send those to the documents/delete-batch route).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from aggregator.model import Article
from aggregator.store import Store
from aggregator.store.repository import doc_id

FORMATS = ("jsonl", "opensearch", "meilisearch")
INDEX_NAME = "articles"
BATCH = 500


def document(article_id: int, article: Article, aliases: list[str], story_urls: list[str]) -> dict[str, Any]:
    record = article.to_dict()
    record["id"] = doc_id(article_id)
    record["aliases"] = aliases
    record["story_urls"] = story_urls
    return record


#: One change to send: (action "upsert" or "delete", doc id, document or None, change seq).
Change = tuple[str, str, dict[str, Any] | None, int]


def changed_documents(store: Store, since: int) -> tuple[Iterator[Change], int]:
    """(iterator of changes after ``since``, in sequence order; next cursor)."""
    changes, cursor = store.changes_since(since)
    members = store.story_index()

    def generate() -> Iterator[Change]:
        for start in range(0, len(changes), BATCH):
            chunk = changes[start : start + BATCH]
            loaded = store.articles_by_id([i for action, i, _, _ in chunk if action == "upsert"])
            for action, article_id, did, seq in chunk:
                if action == "upsert" and article_id in loaded:
                    article, aliases = loaded[article_id]
                    others = [u for u in members.get(article.story_id or -1, []) if u != article.canonical_url]
                    yield "upsert", did, document(article_id, article, aliases, others), seq
                else:
                    yield "delete", did, None, seq

    return generate(), cursor


def write_changes(store: Store, out: IO[str], *, fmt: str = "jsonl", since: int = 0,
                  one_per_story: bool = False) -> tuple[int, int]:
    """Write what changed after ``since`` in ``fmt``; return (documents written, next cursor)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    docs, cursor = changed_documents(store, since)
    first_of_story = {urls[0] for urls in store.story_index().values()} if one_per_story else set()
    count = 0
    for action, did, doc, _ in docs:
        if one_per_story and doc is not None and doc["story_urls"] and doc["canonical_url"] not in first_of_story:
            continue
        out.write(_render(fmt, action, did, doc))
        count += 1
    return count, cursor


def render(fmt: str, action: str, did: str, doc: dict[str, Any] | None) -> str:
    """One change in an export format (two lines for an OpenSearch index action)."""
    return _render(fmt, action, did, doc)


def _render(fmt: str, action: str, did: str, doc: dict[str, Any] | None) -> str:
    def line(obj: dict[str, Any]) -> str:
        return json.dumps(obj, ensure_ascii=False) + "\n"

    if fmt == "opensearch":
        if doc is None:
            return line({"delete": {"_index": INDEX_NAME, "_id": did}})
        body = {k: v for k, v in doc.items() if k != "id"}
        return line({"index": {"_index": INDEX_NAME, "_id": did}}) + line(body)
    if doc is None:
        return line({"id": did, "deleted": True} if fmt == "jsonl" else {"id": did, "_delete": True})
    return line(doc)
