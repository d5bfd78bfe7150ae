"""Story-dedupe benchmark: per-article dedupe time with 10k and with 100k articles indexed.

Usage: python benchmarks/dedupe.py [--sizes 10000,100000] [--probes 300] [--db PATH] [--check]

Articles are generated text (distinct stories from a word list, plus wire copies among the probes)
and stored through Store.write_batch, the path a crawl takes, into an SQLite file. At each index
size it times what dedupe adds for one new article — its LSH signature, the candidate lookup in
the band index and the exact check — and prints median and p95 per article, the ratio of the
largest to the smallest size (target: at most 2x, i.e. it must not grow with the index) and the
space the index takes (database bytes and process memory per 100k articles).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text as sql

from aggregator.model import Article
from aggregator.normalize import normalize_article
from aggregator.store import Store

NOW = datetime(2026, 11, 27, tzinfo=UTC)
WORDS = (  # noqa: SIM905 -- a paragraph of words reads better than a list literal
    "port rail freight steel energy grid battery turbine refinery hydrogen pipeline supplier factory "
    "contract order backlog engine aircraft satellite launch permit regulator tariff export import "
    "shipment container truck warehouse labour union wage plant closure investment loan subsidy "
    "forecast quarter revenue profit loss shareholder merger acquisition chip wafer foundry lithium "
    "nickel copper mine drilling offshore onshore solar wind nuclear reactor uprate license court "
    "ruling appeal inspector safety recall defect warranty customer airline carrier fleet delivery"
).split()


def story(rng: random.Random, words: int = 220) -> str:
    paragraphs = []
    while words > 0:
        n = min(words, rng.randint(30, 60))
        paragraphs.append(" ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + ".")
        words -= n
    return "\n\n".join(paragraphs)


def article(i: int, text: str) -> Article:
    return normalize_article(
        Article(url=f"https://outlet{i % 50}.example/a/{i}", title=f"Story {i}", text=text), now=NOW
    )


def fill(store: Store, start: int, stop: int, rng: random.Random) -> None:
    batch: list[Article] = []
    for i in range(start, stop):
        batch.append(article(i, story(rng)))
        if len(batch) == 1000:
            store.write_batch(batch, now=NOW)
            batch = []
    if batch:
        store.write_batch(batch, now=NOW)


def probe(store: Store, rng: random.Random, n: int, base: int) -> list[float]:
    """Time the dedupe work for n new articles; every third is a wire copy of a stored one."""
    times = []
    with store.session() as s:
        stored = [
            t for (t,) in s.execute(sql("SELECT text FROM articles ORDER BY random() LIMIT :n"), {"n": n})
        ]
    for k in range(n):
        text = stored[k] + "\n\nFollow the reporter on Twitter." if k % 3 == 0 else story(rng)
        start = time.perf_counter()
        store.find_story(text)
        times.append((time.perf_counter() - start) * 1000)
    return times


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--probes", type=int, default=300)
    ap.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    ap.add_argument("--db", type=Path, default=None, help="SQLite file (default: a temporary one)")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    folder = tempfile.mkdtemp(prefix="dedupe-bench-")
    path = args.db or Path(folder) / "bench.db"
    store = Store(f"sqlite:///{path}")
    rng = random.Random(42)
    results = {}
    indexed = 0
    print(f"database: {path}")
    for size in sizes:
        started = time.perf_counter()
        fill(store, indexed, size, rng)
        print(
            f"indexed {size} articles (+{size - indexed} in {time.perf_counter() - started:.0f}s)", flush=True
        )
        indexed = size
        times = sorted(probe(store, rng, args.probes, size))
        results[size] = (statistics.median(times), times[int(0.95 * (len(times) - 1))])
        db_bytes = sum(os.path.getsize(p) for p in Path(path).parent.glob(Path(path).name + "*"))
        print(
            f"  {size:>7} indexed: dedupe per article median {results[size][0]:.2f} ms,"
            f" p95 {results[size][1]:.2f} ms;"
            f" database {db_bytes / 1e6:.0f} MB ({db_bytes / size * 1e5 / 1e6:.0f} MB per 100k articles,"
            f" text included); process max RSS {rss_mb():.0f} MB",
            flush=True,
        )
    small, large = sizes[0], sizes[-1]
    ratio = results[large][0] / results[small][0]
    print(f"median at {large} / median at {small}: {ratio:.2f}x (target <= 2.00x)")
    with store.session() as s:
        bands = s.execute(sql("SELECT count(*) FROM story_bands")).scalar_one()
    print(f"band index rows: {bands} ({bands / large:.0f} per article)")
    return 1 if args.check and ratio > 2.0 else 0


if __name__ == "__main__":
    sys.exit(main())
