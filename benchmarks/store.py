"""Store at scale: write ms per article (dedupe + insert), search latency and bytes per article.

Usage:
    python benchmarks/store.py                                   # SQLite, 10k / 100k / 200k
    python benchmarks/store.py --backend postgresql --sizes 10000,100000,1000000
    python benchmarks/store.py --sizes 2000,5000 --queries 20     # a quick look
    python benchmarks/store.py --writers --batches 24 --base 10000  # the writers' lock (PostgreSQL)

Articles are generated with realistic weight (400-800 words over a Zipf-distributed vocabulary
of 20,000 words, ~4 KB of text, three tags) and written through Store.write_batch in batches of
200, the path a crawl's writer takes: the stored-URL lookup, the story lookup in the band index,
the exact check, and every insert (article, tags, band keys, full-text index, change log). One
article in eight is a wire copy (a recent article with a line added), so stories form as they do
in a crawl. Band keys are real MinHash signatures for the articles that are copied and for their
copies, and random 64-bit keys for the rest: distinct texts have uniformly random keys, so the
index grows as it would, without hashing a million texts.

At each size it prints the write time per article over the last batches (median and p95), the
story lookup alone for 200 probes (half copies), two-word search p50/p95 over mid-frequency words,
and bytes per article (database files or PostgreSQL relations, text included). Targets
(issue #14): write and lookup at the largest size within 2x of the smallest; search p50 <= 2 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from bisect import bisect
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from multiprocessing.synchronize import Barrier
from pathlib import Path

from sqlalchemy import create_engine, text

from aggregator.dedupe import BAND_ROWS, NUM_PERM, story_signature
from aggregator.model import Article
from aggregator.search import SearchQuery, search
from aggregator.store import Store

BATCH = 200
NOW = datetime(2026, 11, 27, tzinfo=UTC)
POSTGRES_URL = os.environ.get("AGGREGATOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_SYLLABLES = ["ka", "to", "ri", "ne", "sa", "mo", "lu", "pe", "di", "va", "go", "shi"]
_SYLLABLES += ["ren", "tal", "bor", "quin", "ex", "ost", "ul", "im", "ber", "fra"]


class Corpus:
    """Deterministic synthetic news text with a Zipf-like vocabulary."""

    def __init__(self, seed: int = 7, vocabulary: int = 20_000) -> None:
        self.rng = random.Random(seed)
        words: list[str] = []
        seen: set[str] = set()
        while len(words) < vocabulary:
            w = "".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(1, 4)))
            if w not in seen:
                seen.add(w)
                words.append(w)
        self.words = words
        self.cum = list(accumulate(1 / (rank + 1) ** 1.05 for rank in range(vocabulary)))

    def text(self) -> str:
        rng, words, cum, total = self.rng, self.words, self.cum, self.cum[-1]
        paragraphs = []
        for _ in range(rng.randint(6, 12)):
            n = rng.randint(45, 75)
            picked = [words[bisect(cum, rng.random() * total)] for _ in range(n)]
            paragraphs.append(" ".join(picked).capitalize() + ".")
        return "\n\n".join(paragraphs)

    def mid_words(self, n: int) -> list[tuple[str, str]]:
        """Two-word queries of words neither rare nor everywhere (ranks 200-2,000)."""
        rng = random.Random(11)
        return [(self.words[rng.randint(200, 2000)], self.words[rng.randint(200, 2000)]) for _ in range(n)]


def make_article(i: int, body: str, bands: tuple[int, ...], rng: random.Random) -> Article:
    published = NOW - timedelta(minutes=i)
    return Article(
        url=f"https://outlet{i % 400}.example/news/{i}",
        canonical_url=f"https://outlet{i % 400}.example/news/{i}",
        source=None,
        title=" ".join(body.split()[:8]).capitalize(),
        subtitle=" ".join(body.split()[8:24]),
        authors=[f"Reporter {i % 997}"],
        published=published,
        section="Industry",
        tags=[f"topic{rng.randint(0, 300)}", f"region{rng.randint(0, 50)}", "news"],
        tag_origins={},
        language="en",
        text=body,
        word_count=len(body.split()),
        site_name=f"Outlet {i % 400}",
        content_hash=hashlib.sha256(" ".join(body.casefold().split()).encode()).hexdigest(),
        story_bands=bands,
    )


def random_bands(rng: random.Random) -> tuple[int, ...]:
    return tuple(rng.getrandbits(63) for _ in range(2 * (NUM_PERM // BAND_ROWS)))


def open_store(backend: str, folder: Path) -> tuple[Store, str]:
    if backend == "sqlite":
        return Store(f"sqlite:///{folder / 'store.db'}"), "sqlite"
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with create_engine(POSTGRES_URL).begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    return Store(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"), schema


def size_in_bytes(store: Store, backend: str, folder: Path, schema: str) -> int:
    if backend == "sqlite":
        with store.session() as s:
            s.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return sum(p.stat().st_size for p in folder.glob("store.db*"))
    with store.session() as s:
        total = s.execute(
            text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = :schema AND c.relkind IN ('r', 'm')"
            ),
            {"schema": schema},
        ).scalar_one()
    return int(total or 0)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--sizes", default="10000,100000,200000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--window", type=int, default=5000, help="articles whose write time is reported")
    ap.add_argument("--keep", type=Path, default=None, help="folder for the SQLite file (kept)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    folder = args.keep or Path(tempfile.mkdtemp(prefix="store-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    store, schema = open_store(args.backend, folder)
    corpus = Corpus()
    rng = random.Random(3)
    copyable: list[str] = []  # texts of recent articles that wire copies are made of
    written = 0
    rows: dict[int, dict[str, float]] = {}
    queries = corpus.mid_words(args.queries)
    print(f"{args.backend}: {folder if args.backend == 'sqlite' else schema}", flush=True)
    try:
        for size in sizes:
            started = time.perf_counter()
            per_article: list[tuple[int, float]] = []
            while written < size:
                batch = []
                for i in range(written, min(written + BATCH, size)):
                    if i % 8 == 4 and copyable:
                        body = rng.choice(copyable[-2000:]) + "\n\nFollow the reporter on social media."
                        bands = story_signature(body).bands
                    else:
                        body = corpus.text()
                        if i % 8 == 0:
                            copyable.append(body)
                            bands = story_signature(body).bands
                        else:
                            bands = random_bands(rng)
                    batch.append(make_article(i, body, bands, rng))
                t0 = time.perf_counter()
                store.write_batch(batch, now=NOW)
                per_article.append((written + len(batch), (time.perf_counter() - t0) * 1000 / len(batch)))
                written += len(batch)
                del copyable[:-4000]
            recent = [ms for n, ms in per_article if n > size - args.window]
            probes = []
            for k in range(args.probes):
                body = rng.choice(copyable) + "\n\nAdded line." if k % 2 == 0 else corpus.text()
                t0 = time.perf_counter()
                store.find_story(body)
                probes.append((time.perf_counter() - t0) * 1000)
            searched = []
            for a, b in queries:
                t0 = time.perf_counter()
                search(store, SearchQuery(text=f"{a} {b}", limit=10))
                searched.append((time.perf_counter() - t0) * 1000)
            nbytes = size_in_bytes(store, args.backend, folder, schema)
            rows[size] = {
                "write_p50": statistics.median(recent),
                "write_p95": pct(recent, 0.95),
                "lookup_p50": statistics.median(probes),
                "search_p50": statistics.median(searched),
                "search_p95": pct(searched, 0.95),
                "bytes": nbytes / size,
            }
            r = rows[size]
            print(
                f"{size:>9} articles (+{time.perf_counter() - started:.0f}s):"
                f" write {r['write_p50']:.2f} ms/article"
                f" (p95 {r['write_p95']:.2f}), story lookup {r['lookup_p50']:.2f} ms,"
                f" search p50 {r['search_p50']:.2f} ms p95 {r['search_p95']:.2f} ms,"
                f" {r['bytes'] / 1024:.1f} KB/article",
                flush=True,
            )
    finally:
        store.close()
        if args.backend == "postgresql":
            with create_engine(POSTGRES_URL).begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    small, large = rows[sizes[0]], rows[sizes[-1]]
    write, lookup = large["write_p50"] / small["write_p50"], large["lookup_p50"] / small["lookup_p50"]
    at = f"at {sizes[-1]} / at {sizes[0]}"
    checks = [
        (f"write {at}: {write:.2f}x (target <= 2x)", write <= 2),
        (f"story lookup {at}: {lookup:.2f}x (target <= 2x)", lookup <= 2),
        (
            f"search p50 at {sizes[-1]}: {large['search_p50']:.2f} ms (target <= 2 ms)",
            large["search_p50"] <= 2.0,
        ),
    ]
    for line, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {line}")
    return 1 if args.check and not all(ok for _, ok in checks) else 0


# --- --writers: the writers' lock ----------------------------------------------------------------
# What Store.lock_for_writes costs on PostgreSQL: batches written by one worker, by two at once
# with the lock, and by two at once without it (wrong under races: the figure is only what the
# lock's queueing costs). Each run writes into a fresh schema holding --base articles first
# (untimed); two workers are two processes, each with its own engine, released by a barrier.


def batches(count: int, start: int, seed: int) -> list[list[Article]]:
    corpus, rng = Corpus(seed=seed), random.Random(seed)
    out = []
    for b in range(count):
        first = start + b * BATCH
        out.append(
            [make_article(i, corpus.text(), random_bands(rng), rng) for i in range(first, first + BATCH)]
        )
    return out


@contextmanager
def schema() -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{name}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        engine.dispose()


def _worker(url: str, work: list[list[Article]], locked: bool, barrier: Barrier) -> None:
    store = Store(url, migrate_schema=False)
    if not locked:
        store.lock_for_writes = lambda session, name: None  # type: ignore[method-assign]
    barrier.wait()
    for batch in work:
        store.write_batch(batch, now=NOW)
    store.close()


def run(url: str, work: list[list[Article]], workers: int, *, locked: bool) -> float:
    """Seconds for ``workers`` processes to write ``work`` between them."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    shares = [work[i::workers] for i in range(workers)]
    procs = [ctx.Process(target=_worker, args=(url, share, locked, barrier)) for share in shares]
    for p in procs:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a worker failed (exit {p.exitcode})")
    return time.perf_counter() - started


def race_main(argv: list[str]) -> int:
    """``--writers``: what the writers' lock costs (see below)."""
    ap = argparse.ArgumentParser(description="What the writers' lock costs on PostgreSQL")
    ap.add_argument("--writers", action="store_true")
    ap.add_argument("--batches", type=int, default=24)
    ap.add_argument("--base", type=int, default=10_000, help="articles stored before the timed writes")
    args = ap.parse_args(argv)
    base = batches(args.base // BATCH, 0, seed=1)
    work = batches(args.batches, args.base, seed=2)
    articles = args.batches * BATCH
    figures = {}
    for label, workers, locked in (
        ("1 worker", 1, True),
        ("2 workers, locked", 2, True),
        ("2 workers, no lock", 2, False),
    ):
        with schema() as url:
            with Store(url) as store:
                for batch in base:
                    store.write_batch(batch, now=NOW)
                t0 = time.perf_counter()
                for _ in range(200):
                    with store.session() as s:
                        store.lock_for_writes(s, "articles")
                lock_ms = (time.perf_counter() - t0) * 1000 / 200
            seconds = run(url, work, workers, locked=locked)
            figures[label] = articles / seconds
            print(
                f"{label:>20}: {articles / seconds:7.0f} articles/s ({seconds:.1f} s);"
                f" an uncontended lock + empty transaction {lock_ms:.2f} ms",
                flush=True,
            )
    one = figures["1 worker"]
    print(
        f"  two locked writers: {figures['2 workers, locked'] / one:.2f}x one writer's throughput;"
        f" without the lock {figures['2 workers, no lock'] / one:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(race_main(sys.argv[1:]) if "--writers" in sys.argv else main())
