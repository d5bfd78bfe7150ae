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
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from aggregator.model import Article
from aggregator.store.records import ChangeAction, doc_id

if TYPE_CHECKING:
    from aggregator.store import Store


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    #: OpenSearch/Elasticsearch ``_bulk`` NDJSON.
    OPENSEARCH = "opensearch"
    #: Meilisearch NDJSON documents (tombstones for its delete-batch route).
    MEILISEARCH = "meilisearch"


INDEX_NAME = "articles"
#: Articles loaded per query while exporting.
BATCH = 500


def document(article_id: int, article: Article, aliases: list[str], story_urls: list[str]) -> dict[str, Any]:
    record = article.to_dict()
    record["id"] = doc_id(article_id)
    record["aliases"] = aliases
    record["story_urls"] = story_urls
    return record


class Document(NamedTuple):
    """One change to send: an upsert with its document, or a delete (document None)."""

    action: ChangeAction
    doc_id: str
    document: dict[str, Any] | None
    seq: int


def changed_documents(store: Store, since: int) -> tuple[Iterator[Document], int]:
    """(iterator of changes after ``since``, in sequence order; next cursor)."""
    changes, cursor = store.changes_since(since)
    members = store.story_index()

    def generate() -> Iterator[Document]:
        for start in range(0, len(changes), BATCH):
            chunk = changes[start : start + BATCH]
            loaded = store.articles_by_id([c.article_id for c in chunk if c.action == ChangeAction.UPSERT])
            for change in chunk:
                if change.action == ChangeAction.UPSERT and change.article_id in loaded:
                    article, aliases = loaded[change.article_id]
                    others = [
                        u for u in members.get(article.story_id or -1, []) if u != article.canonical_url
                    ]
                    yield Document(
                        ChangeAction.UPSERT,
                        change.doc_id,
                        document(change.article_id, article, aliases, others),
                        change.seq,
                    )
                else:
                    yield Document(ChangeAction.DELETE, change.doc_id, None, change.seq)

    return generate(), cursor


def write_changes(
    store: Store,
    out: IO[str],
    *,
    fmt: ExportFormat = ExportFormat.JSONL,
    since: int = 0,
    one_per_story: bool = False,
) -> tuple[int, int]:
    """Write what changed after ``since`` in ``fmt``; return (documents written, next cursor)."""
    docs, cursor = changed_documents(store, since)
    first_of_story = {urls[0] for urls in store.story_index().values()} if one_per_story else set()
    count = 0
    for doc in docs:
        body = doc.document
        if (
            one_per_story
            and body is not None
            and body["story_urls"]
            and body["canonical_url"] not in first_of_story
        ):
            continue
        out.write(render(fmt, doc))
        count += 1
    return count, cursor


def render(fmt: ExportFormat, doc: Document, *, index: str = INDEX_NAME) -> str:
    """One change in an export format (two lines for an OpenSearch index action)."""

    def line(obj: dict[str, Any]) -> str:
        return json.dumps(obj, ensure_ascii=False) + "\n"

    if fmt == ExportFormat.OPENSEARCH:
        if doc.document is None:
            return line({"delete": {"_index": index, "_id": doc.doc_id}})
        body = {k: v for k, v in doc.document.items() if k != "id"}
        return line({"index": {"_index": index, "_id": doc.doc_id}}) + line(body)
    if doc.document is None:
        return line(
            {"id": doc.doc_id, "deleted": True}
            if fmt == ExportFormat.JSONL
            else {"id": doc.doc_id, "_delete": True}
        )
    return line(doc.document)
