"""Search benchmark: index upkeep against bare FTS5, query latency and export throughput at 100k.

Usage: python benchmarks/search.py [--articles 100000] [--queries 300] [--check]

Generated articles are put in an SQLite store's tables directly (a crawl's other costs are not
what this measures). In one run it then times, on the same rows:
  * bare FTS5: ``INSERT INTO fts(...)`` executemany into a fresh FTS5 table of the same columns;
  * ours: aggregator.store.search.index_rows, the batch path every article write takes, in batches of 1000;
and prints docs/s for both and the ratio (target: ours at least 0.8x bare). Then two-word
queries through aggregator.search (median and p95 ms; goal median <= 2 ms), and full and
incremental exports (documents/s).
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

from aggregator.export import ExportFormat, write_changes
from aggregator.search import SearchQuery, search
from aggregator.store import Store
from aggregator.store.batch import IndexRow
from aggregator.store.models import ArticleRow, ChangeLog, Story
from aggregator.store.search import index_rows

NOW = datetime(2026, 11, 27, tzinfo=UTC)
VOCAB_SIZE = 20000
BATCH = 1000


def vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = {"".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(VOCAB_SIZE)}
    return sorted(words)


def zipf_text(rng: random.Random, vocab: list[str], cumulative: list[float], n: int) -> str:
    # Cumulative weights, summed once: given plain weights, choices() sums all 20,000 per call
    # (the same draws, and most of the 226 s that generating 100k articles took).
    return " ".join(rng.choices(vocab, cum_weights=cumulative, k=n))


def populate(store: Store, n: int, rng: random.Random, vocab: list[str], cumulative: list[float]) -> None:
    with store.session() as s:
        for start in range(0, n, BATCH):
            rows = []
            for i in range(start, min(n, start + BATCH)):
                rows.append(
                    {
                        "id": i + 1,
                        "url": f"https://p{i % 100}.example/{i}",
                        "canonical_url": f"https://p{i % 100}.example/{i}",
                        "title": zipf_text(rng, vocab, cumulative, 9),
                        "subtitle": zipf_text(rng, vocab, cumulative, 15),
                        "authors": [],
                        "published": NOW - timedelta(minutes=i),
                        "section": rng.choice(["Energy", "Aerospace"]),
                        "dateline": "",
                        "language": "en",
                        "text": zipf_text(rng, vocab, cumulative, 250),
                        "word_count": 250,
                        "image_url": "",
                        "site_name": "",
                        "text_origin": "page",
                        "content_hash": f"{i:064x}",
                        "tags_text": " ".join(rng.sample(vocab[:200], 3)),
                        "first_seen_at": NOW,
                        "changed_at": NOW,
                        "story_id": i + 1,
                    }
                )
            s.execute(insert(Story), [{"id": r["id"], "created_at": NOW} for r in rows])
            s.execute(insert(ArticleRow), rows)
            s.execute(
                insert(ChangeLog),
                [
                    {"article_id": r["id"], "doc_id": str(r["id"]), "action": "upsert", "at": NOW}
                    for r in rows
                ],
            )


def bare_fts(db: Path, rows: list[tuple[int, str, str, str, str, str]]) -> float:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE VIRTUAL TABLE bare USING fts5(title, subtitle, text, tags, section,"
        " tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        with conn:
            conn.executemany(
                "INSERT INTO bare (rowid, title, subtitle, text, tags, section) VALUES (?, ?, ?, ?, ?, ?)",
                rows[i : i + BATCH],
            )
    elapsed = time.perf_counter() - start
    conn.close()
    return len(rows) / elapsed


def ours(store: Store, n: int) -> float:
    with store.session() as s:
        # An external-content index (migration 0011) is emptied with FTS5's own command: a
        # DELETE would ask it to remove entries by reading text it does not hold.
        s.execute(text("INSERT INTO articles_fts(articles_fts) VALUES ('delete-all')"))
    elapsed = 0.0
    for start in range(0, n, BATCH):
        with store.session() as s:
            batch: list[IndexRow] = [
                (i, title, subtitle, body, tags, section)
                for i, title, subtitle, body, tags, section in s.execute(
                    select(
                        ArticleRow.id,
                        ArticleRow.title,
                        ArticleRow.subtitle,
                        ArticleRow.text,
                        ArticleRow.tags_text,
                        ArticleRow.section,
                    ).where(ArticleRow.id > start, ArticleRow.id <= start + BATCH)
                )
            ]
            began = time.perf_counter()
            index_rows(s.connection(), batch)
            s.flush()
        elapsed += time.perf_counter() - began
    return n / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    args = ap.parse_args()
    rng = random.Random(7)
    vocab = vocabulary(rng)
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocab))))
    folder = Path(tempfile.mkdtemp(prefix="search-bench-"))
    store = Store(f"sqlite:///{folder / 'store.db'}")
    started = time.perf_counter()
    populate(store, args.articles, rng, vocab, cumulative)
    print(f"{args.articles} generated articles stored in {time.perf_counter() - started:.0f}s ({folder})")
    with store.session() as s:
        rows = [
            tuple(r)
            for r in s.execute(
                text("SELECT id, title, subtitle, text, tags_text, section FROM articles ORDER BY id")
            )
        ]
    bare = bare_fts(folder / "bare.db", rows)
    our = ours(store, args.articles)
    print(
        f"indexing: bare FTS5 {bare:,.0f} docs/s; ours {our:,.0f} docs/s;"
        f" ratio {our / bare:.2f}x (target >= 0.80x)"
    )

    mid = vocab[200:3000]
    times = []
    for _ in range(args.queries):
        query = f"{rng.choice(mid)} {rng.choice(mid)}"
        began = time.perf_counter()
        search(store, SearchQuery(query, limit=10))
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    print(
        f"two-word queries at {args.articles}: median {statistics.median(times):.2f} ms, "
        f"p95 {times[int(0.95 * (len(times) - 1))]:.2f} ms (goal: median <= 2 ms)"
    )

    began = time.perf_counter()
    full, cursor = write_changes(store, io.StringIO(), fmt=ExportFormat.OPENSEARCH, since=0)
    full_rate = full / (time.perf_counter() - began)
    with store.session() as s:
        s.execute(
            insert(ChangeLog),
            [
                {"article_id": i, "doc_id": str(i), "action": "upsert", "at": NOW}
                for i in range(1, args.articles // 100 + 1)
            ],
        )
    began = time.perf_counter()
    inc, _ = write_changes(store, io.StringIO(), fmt=ExportFormat.OPENSEARCH, since=cursor)
    inc_rate = inc / (time.perf_counter() - began)
    print(
        f"export (opensearch bulk): full {full} docs at {full_rate:,.0f} docs/s; "
        f"incremental {inc} docs at {inc_rate:,.0f} docs/s"
    )
    return 1 if args.check and our / bare < 0.8 else 0


if __name__ == "__main__":
    sys.exit(main())
