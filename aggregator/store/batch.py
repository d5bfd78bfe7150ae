"""Writing a batch of articles with set-based SQL: the ingestion hot path.

A crawl stores every article through here, so the statement count per batch is what matters: one
query finds which URLs are stored already, one finds every story candidate of the batch, and each
table gets one executemany, whatever the batch size. A loop of per-article statements cost about
3 ms an article in SQLAlchemy's statement layer alone, as much as the extraction of the page
(benchmarks/crawl.py). The whole batch is one transaction: stored whole or not at all.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, literal, select, update

from aggregator.dedupe import same_story, story_shingles, story_signature
from aggregator.model import Article
from aggregator.store.base import IN_CHUNK, qmark
from aggregator.store.models import (
    ArticleAlias,
    ArticleRow,
    ArticleTag,
    ChangeLog,
    Source,
    Story,
    StoryBand,
    Tag,
    UTCDateTime,
)
from aggregator.store.records import Alias, BatchResult, ChangeAction, doc_id

#: Candidates checked exactly per new article, the most band matches first.
MAX_STORY_CANDIDATES = 5
#: A real copy (Jaccard >= 0.5) shares about 5 of the 42 bands of a signature; one shared band
#: is a chance collision (a common lead sentence) and is not worth an exact check.
MIN_BAND_HITS = 2
#: What the full-text index holds of an article: (id, title, subtitle, text, tags, section).
IndexRow = tuple[int, str, str, str, str, str]

_ARTICLES = cast(Table, ArticleRow.__table__)
_BANDS = cast(Table, StoryBand.__table__)
_TAGS = cast(Table, ArticleTag.__table__)
_CHANGES = cast(Table, ChangeLog.__table__)
_ALIASES = cast(Table, ArticleAlias.__table__)


@dataclass
class _New:
    article: Article
    bands: tuple[int, ...]
    #: A stored story, or the position in the batch of the new article whose story this joins.
    story_id: int | None = None
    joins: int | None = None


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def _bands_of(article: Article) -> tuple[int, ...]:
    return article.story_bands if article.story_bands is not None else story_signature(article.text).bands


def find_story(conn: Connection, text: str, bands: tuple[int, ...]) -> int | None:
    """The story of a stored article that carries the same story as ``text``: the lookup each new
    article of a batch gets (band index, then the exact check), on its own."""
    item = _New(Article(url="", text=text), bands)
    BatchTransaction(conn, datetime.now(UTC))._assign_stories([item])
    return item.story_id


class BatchTransaction:
    """One batch, planned in Python from a few set queries, then written table by table."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.result = BatchResult()
        #: Rows for the full-text index (SQLite), new and updated.
        self.index_rows: list[IndexRow] = []

    def write(self, articles: list[Article], aliases: Iterable[Alias]) -> BatchResult:
        new, updates = self._plan(articles)
        source_ids = self._source_ids({a.source for a in articles if a.source is not None})
        tag_ids = self._tag_ids(
            {t for a in [n.article for n in new] + [a for _, a in updates] for t in a.tags}
        )
        self._assign_stories(new)
        story_ids = self._new_stories(new)
        ids = self._insert(new, story_ids, source_ids)
        self._update(updates, source_ids)
        written = [(i, n.article, n.bands) for i, n in zip(ids, new, strict=True)]
        written += [(i, a, _bands_of(a)) for i, a in updates]
        # In the batch's order: the change log (and so every export) lists changes as they came.
        order = {url: p for p, url in enumerate(dict.fromkeys(a.canonical_url for a in articles))}
        written.sort(key=lambda w: order[w[1].canonical_url])
        self._children(written, tag_ids)
        self._aliases(list(aliases))
        return self.result

    def _plan(self, articles: list[Article]) -> tuple[list[_New], list[tuple[int, Article]]]:
        """Split the batch into new articles and updates of stored ones; count the unchanged.

        A URL met twice in one batch keeps its last version, as two batches in a row would.
        """
        urls = list(dict.fromkeys(a.canonical_url for a in articles))
        stored: dict[str, tuple[int, str]] = {}
        for part in _chunks(urls):
            rows = self.conn.execute(
                select(_ARTICLES.c.canonical_url, _ARTICLES.c.id, _ARTICLES.c.content_hash).where(
                    _ARTICLES.c.canonical_url.in_(part)
                )
            )
            stored.update((url, (id_, digest)) for url, id_, digest in rows)
        new: dict[str, _New] = {}
        updates: dict[str, tuple[int, Article]] = {}
        for article in articles:
            url = article.canonical_url
            if url in stored:
                id_, digest = stored[url]
                latest = updates[url][1].content_hash if url in updates else digest
                if latest == article.content_hash:
                    self.result.unchanged += 1
                else:
                    updates[url] = (id_, article)
            elif url in new:
                if new[url].article.content_hash == article.content_hash:
                    self.result.unchanged += 1
                else:
                    new[url] = _New(article, _bands_of(article))
                    self.result.updated += 1
            else:
                new[url] = _New(article, _bands_of(article))
        self.result.updated += len(updates)
        return list(new.values()), list(updates.values())

    def _source_ids(self, names: set[str]) -> dict[str, int]:
        if not names:
            return {}
        rows = self.conn.execute(select(Source.name, Source.id).where(Source.name.in_(list(names))))
        return {name: id_ for name, id_ in rows}

    def _tag_ids(self, names: set[str]) -> dict[str, int]:
        """Ids of every tag the batch names, creating the missing ones (ON CONFLICT: another
        process may create the same tag at the same time)."""
        if not names:
            return {}
        query = select(Tag.name, Tag.id).where(Tag.name.in_(list(names)))
        ids: dict[str, int] = {name: id_ for name, id_ in self.conn.execute(query)}
        missing = sorted(names - ids.keys())
        if missing:
            self.conn.exec_driver_sql(
                self._sql("INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO NOTHING"),
                [(name,) for name in missing],
            )
            ids.update({name: id_ for name, id_ in self.conn.execute(query)})
        return ids

    def _sql(self, statement: str) -> str:
        return qmark(statement, self.conn.dialect.paramstyle)

    def _assign_stories(self, new: list[_New]) -> None:
        """Find the story of every new article: a stored one, an earlier one in this batch, or none.

        One query fetches every stored article sharing a band key with the batch; the candidates
        with the most shared bands are then checked on exact shingle sets (same_story).
        """
        own = [set(n.bands) for n in new]
        keys = sorted(set().union(*own))
        stored_by_key: dict[int, list[int]] = defaultdict(list)
        for part in _chunks(keys):
            sql = f"SELECT key, article_id FROM story_bands WHERE key IN ({', '.join('?' * len(part))})"
            for key, article_id in self.conn.exec_driver_sql(self._sql(sql), tuple(part)):
                stored_by_key[key].append(article_id)
        # Only keys met twice can make a candidate: most articles have none, and skip the loop.
        in_batch = Counter(chain.from_iterable(own))
        shared = {k for k, n in in_batch.items() if n > 1} | stored_by_key.keys()
        batch_by_key: dict[int, list[int]] = defaultdict(list)
        candidates: list[list[tuple[str, int]]] = []
        for position, keys_of_item in enumerate(own):
            hits: dict[tuple[str, int], int] = defaultdict(int)
            for key in keys_of_item & shared:
                for article_id in stored_by_key.get(key, ()):
                    hits["stored", article_id] += 1
                for earlier in batch_by_key.get(key, ()):
                    hits["batch", earlier] += 1
                batch_by_key[key].append(position)
            # Most shared bands first; stored before batch, older before newer on a tie.
            ranked = sorted(
                (c for c, n in hits.items() if n >= MIN_BAND_HITS),
                key=lambda c: (-hits[c], c[0] != "stored", c[1]),
            )
            candidates.append(ranked[:MAX_STORY_CANDIDATES])
        wanted = sorted({i for ranked in candidates for kind, i in ranked if kind == "stored"})
        stored: dict[int, tuple[int | None, str]] = {}
        for part in _chunks(wanted):
            rows = self.conn.execute(
                select(_ARTICLES.c.id, _ARTICLES.c.story_id, _ARTICLES.c.text).where(_ARTICLES.c.id.in_(part))
            )
            stored.update((id_, (story_id, text)) for id_, story_id, text in rows)
        for item, ranked in zip(new, candidates, strict=True):
            if not ranked:
                continue
            mine = story_shingles(item.article.text)
            for kind, i in ranked:
                if kind == "stored":
                    story_id, text = stored.get(i, (None, ""))
                    if story_id is not None and same_story(mine, text):
                        item.story_id = story_id
                        break
                elif same_story(mine, new[i].article.text):
                    item.story_id, item.joins = (
                        new[i].story_id,
                        new[i].joins if new[i].joins is not None else i,
                    )
                    break

    def _new_stories(self, new: list[_New]) -> list[int]:
        """Create a story for every new article that joined none; story id per new article."""
        starters = [p for p, n in enumerate(new) if n.story_id is None and n.joins is None]
        created: dict[int, int] = {}
        if starters:
            rows = self.conn.execute(
                insert(Story).returning(Story.id, sort_by_parameter_order=True),
                [{"created_at": self.now}] * len(starters),
            )
            created = dict(zip(starters, rows.scalars(), strict=True))
        joined_stored: set[int] = set()
        out: list[int] = []
        for position, item in enumerate(new):
            if position in created:
                out.append(created[position])
                continue
            self.result.joined_story += 1
            if item.story_id is not None and item.joins is None:
                joined_stored.add(item.story_id)
                out.append(item.story_id)
            else:
                out.append(item.story_id if item.story_id is not None else created[item.joins or 0])
        for story_id in sorted(joined_stored):
            # The story's stored articles gain a copy (their story_urls change): a change each.
            self.conn.execute(
                insert(_CHANGES).from_select(
                    ["article_id", "doc_id", "action", "at"],
                    select(
                        _ARTICLES.c.id,
                        _ARTICLES.c.id.cast(_CHANGES.c.doc_id.type),
                        literal(str(ChangeAction.UPSERT)),
                        literal(self.now, UTCDateTime()),
                    )
                    .where(_ARTICLES.c.story_id == story_id)
                    .order_by(_ARTICLES.c.id),
                )
            )
        return out

    def _values(self, article: Article, source_ids: dict[str, int]) -> dict[str, Any]:
        return {
            "url": article.url,
            "title": article.title,
            "subtitle": article.subtitle,
            "authors": list(article.authors),
            "published": article.published,
            "updated": article.updated,
            "section": article.section,
            "dateline": article.dateline,
            "language": article.language,
            "text": article.text,
            "word_count": article.word_count,
            "image_url": article.image_url,
            "site_name": article.site_name,
            "text_origin": article.text_origin,
            "text_stage": article.text_stage,
            "content_hash": article.content_hash,
            "tags_text": " ".join(article.tags),
            "changed_at": self.now,
            "source_id": source_ids.get(article.source) if article.source is not None else None,
        }

    def _insert(self, new: list[_New], story_ids: list[int], source_ids: dict[str, int]) -> list[int]:
        if not new:
            return []
        rows = [
            {
                **self._values(n.article, source_ids),
                "canonical_url": n.article.canonical_url,
                "first_seen_at": self.now,
                "story_id": story_id,
            }
            for n, story_id in zip(new, story_ids, strict=True)
        ]
        ids = list(
            self.conn.execute(
                insert(_ARTICLES).returning(_ARTICLES.c.id, sort_by_parameter_order=True), rows
            ).scalars()
        )
        self.result.new += len(new)
        self.result.new_urls += [n.article.canonical_url for n in new]
        return ids

    def _update(self, updates: list[tuple[int, Article]], source_ids: dict[str, int]) -> None:
        """Changed text at a stored URL: the row keeps its id, first-seen time and story."""
        if not updates:
            return
        rows = []
        for id_, article in updates:
            values = self._values(article, source_ids)
            if values["source_id"] is None:
                del values["source_id"]
            rows.append({"row_id": id_, **values})
        ids = [id_ for id_, _ in updates]
        if self.conn.dialect.name == "sqlite":
            # Out of the full-text index first: it reads the text it removes from the row.
            self.conn.exec_driver_sql(
                "DELETE FROM articles_fts WHERE rowid IN (SELECT value FROM json_each(?))",
                (json.dumps(ids),),
            )
        # Rows without a source keep theirs: group by the columns each row sets.
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_shape[tuple(sorted(row))].append(row)
        for shape, group in by_shape.items():
            columns = [c for c in shape if c != "row_id"]
            statement = (
                update(_ARTICLES)
                .where(_ARTICLES.c.id == bindparam("row_id"))
                .values({c: bindparam(c) for c in columns})
            )
            self.conn.execute(statement, group)
        self.conn.execute(delete(_BANDS).where(_BANDS.c.article_id.in_(ids)))
        self.conn.execute(delete(_TAGS).where(_TAGS.c.article_id.in_(ids)))

    def _children(self, written: list[tuple[int, Article, tuple[int, ...]]], tag_ids: dict[str, int]) -> None:
        """Tags, band keys, change-log entries and index rows of the written articles: one
        executemany per table, on the driver's cursor (SQLAlchemy's per-row layer would cost more
        than the inserts)."""
        tags = [
            (id_, tag_ids[tag.name], str(tag.origin), position)
            for id_, a, _ in written
            for position, tag in enumerate(a.tag_list())
        ]
        # In key order: the key index takes them in one pass over its pages, not 32 random ones each.
        bands = sorted({(key, id_) for id_, _, keys in written for key in keys})
        if tags:
            self.conn.exec_driver_sql(
                self._sql(
                    "INSERT INTO article_tags (article_id, tag_id, origin, position) VALUES (?, ?, ?, ?)"
                ),
                tags,
            )
        if bands:
            self.conn.exec_driver_sql(
                self._sql("INSERT INTO story_bands (key, article_id) VALUES (?, ?)"), bands
            )
        if written:
            upsert = str(ChangeAction.UPSERT)
            self.conn.execute(
                insert(_CHANGES),
                [
                    {"article_id": id_, "doc_id": doc_id(id_), "action": upsert, "at": self.now}
                    for id_, _, _ in written
                ],
            )
        self.index_rows += [
            (id_, a.title, a.subtitle, a.text, " ".join(a.tags), a.section) for id_, a, _ in written
        ]

    def _aliases(self, aliases: list[Alias]) -> None:
        """Record alias URLs (the same text elsewhere) of articles stored now or before."""
        # The last target an alias URL was seen with wins, as two batches in a row would have it.
        aliases = [Alias(alias, target) for alias, target in dict(aliases).items() if alias != target]
        if not aliases:
            return
        targets = sorted({t for _, t in aliases})
        ids: dict[str, int] = {}
        for part in _chunks(targets):
            found = self.conn.execute(
                select(_ARTICLES.c.canonical_url, _ARTICLES.c.id).where(_ARTICLES.c.canonical_url.in_(part))
            )
            ids.update((url, id_) for url, id_ in found)
        urls = [alias for alias, _ in aliases]
        known: set[str] = set()
        for part in _chunks(urls):
            known.update(
                self.conn.execute(select(ArticleAlias.url).where(ArticleAlias.url.in_(part))).scalars()
            )
        rows = [
            {"url": alias, "article_id": ids[target], "first_seen_at": self.now}
            for alias, target in aliases
            if target in ids and alias not in known
        ]
        if rows:
            self.conn.execute(insert(_ALIASES), rows)
            self.result.aliases += len(rows)
