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
import threading
import time
import uuid
from bisect import bisect
from collections.abc import Callable, Iterator
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
from aggregator.textindex import TextIndex

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

    def paragraph(self) -> str:
        rng, words, cum, total = self.rng, self.words, self.cum, self.cum[-1]
        picked = [words[bisect(cum, rng.random() * total)] for _ in range(rng.randint(45, 75))]
        return " ".join(picked).capitalize() + "."

    def text(self) -> str:
        return "\n\n".join(self.paragraph() for _ in range(self.rng.randint(6, 12)))

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


# --- the base corpus, in bulk ------------------------------------------------------------------
#: Articles' columns as bulk_fill writes them (the shape Store.write_batch gives a row).
_COLUMNS = (
    "id, url, canonical_url, story_id, title, subtitle, authors, published, section, dateline,"
    " language, text, word_count, image_url, site_name, text_origin, text_stage, content_hash,"
    " tags_text, first_seen_at, changed_at"
)


class Paragraphs:
    """Texts made of paragraphs drawn from a pool of Corpus paragraphs: the same words at the
    same frequencies as Corpus.text, a hundred times faster (a million texts in minutes)."""

    def __init__(self, corpus: Corpus, pool: int = 50_000) -> None:
        self.rng = random.Random(5)
        self.pool = [corpus.paragraph() for _ in range(pool)]

    def text(self) -> str:
        return "\n\n".join(self.rng.choices(self.pool, k=self.rng.randint(6, 12)))


def _stamp(when: datetime, backend: str) -> object:
    """A UTC time as the column stores it (SQLite: naive text, as SQLAlchemy writes it)."""
    return when.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if backend == "sqlite" else when


def bulk_fill(
    store: Store, backend: str, start: int, stop: int, texts: Paragraphs, rng: random.Random
) -> None:
    """Articles ``start`` to ``stop`` (ids start+1...) straight into the tables, in the shape the
    writer gives them: a story each, three tags, 32 band keys, a change-log entry and the
    full-text index (SQLite's FTS5 rows; PostgreSQL computes its tsvector column on insert).
    COPY on PostgreSQL, the driver's executemany on SQLite: what the real path writes, minus
    the dedupe and the statement layer, which are measured on top of it."""
    with store.session() as s:
        tag_ids = {n: i for n, i in s.execute(text("SELECT name, id FROM tags"))}
    names = [f"topic{i}" for i in range(301)] + [f"region{i}" for i in range(51)] + ["news"]
    missing = [n for n in names if n not in tag_ids]
    if missing:
        with store.session() as s:
            s.execute(text("INSERT INTO tags (name) VALUES (:n)"), [{"n": n} for n in missing])
            tag_ids = {n: i for n, i in s.execute(text("SELECT name, id FROM tags"))}
    chunk = 5000
    for first in range(start, stop, chunk):
        ids = range(first + 1, min(stop, first + chunk) + 1)
        articles, tags, bands, changes, stories, fts = [], [], [], [], [], []
        now = _stamp(NOW, backend)
        for i in ids:
            body = texts.text()
            words = body.split()
            chosen = [f"topic{rng.randint(0, 300)}", f"region{rng.randint(0, 50)}", "news"]
            url = f"https://outlet{i % 400}.example/bulk/{i}"
            title = " ".join(words[:8]).capitalize()
            subtitle = " ".join(words[8:24])
            published = _stamp(NOW - timedelta(minutes=i), backend)
            digest = hashlib.sha256(str(i).encode()).hexdigest()
            articles.append(
                (
                    i,
                    url,
                    url,
                    i,
                    title,
                    subtitle,
                    "[]",
                    published,
                    "Industry",
                    "",
                    "en",
                    body,
                    len(words),
                    "",
                    f"Outlet {i % 400}",
                    "page",
                    "dom",
                    digest,
                    " ".join(chosen),
                    now,
                    now,
                )
            )
            tags += [(i, tag_ids[t], "feed", p) for p, t in enumerate(dict.fromkeys(chosen))]
            bands += [(k, i) for k in random_bands(rng)]
            changes.append((i, str(i), "upsert", now))
            stories.append((i, now))
            fts.append((i, title, subtitle, body, " ".join(chosen), "Industry"))
        bands.sort()
        raw = store.engine.raw_connection()
        try:
            cur = raw.cursor()
            if backend == "postgresql":
                copy = cur.copy
                for table, columns, rows in (
                    ("stories", "id, created_at", stories),
                    ("articles", _COLUMNS, articles),
                    ("article_tags", "article_id, tag_id, origin, position", tags),
                    ("story_bands", "key, article_id", bands),
                    ("change_log", "article_id, doc_id, action, at", changes),
                ):
                    with copy(f"COPY {table} ({columns}) FROM STDIN") as out:
                        for row in rows:
                            out.write_row(row)
            else:
                marks = ", ".join("?" * len(articles[0]))
                cur.executemany("INSERT INTO stories (id, created_at) VALUES (?, ?)", stories)
                cur.executemany(f"INSERT INTO articles ({_COLUMNS}) VALUES ({marks})", articles)
                cur.executemany("INSERT INTO article_tags VALUES (?, ?, ?, ?)", tags)
                cur.executemany("INSERT INTO story_bands (key, article_id) VALUES (?, ?)", bands)
                cur.executemany(
                    "INSERT INTO change_log (article_id, doc_id, action, at) VALUES (?, ?, ?, ?)", changes
                )
                cur.executemany(
                    "INSERT INTO articles_fts (rowid, title, subtitle, text, tags_text, section)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    fts,
                )
            raw.commit()
        finally:
            raw.close()
        print(f"  bulk: {ids[-1]} articles", file=sys.stderr, end="\r", flush=True)
    if backend == "postgresql":
        with store.session() as s:
            for table in ("articles", "stories"):
                s.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT max(id) FROM {table}))"
                    )
                )
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with store.session() as s:
            s.connection().exec_driver_sql("ANALYZE")
    print(file=sys.stderr)


def index_figures(
    store: Store, index: TextIndex, queries: list[tuple[str, str]], size: int
) -> dict[str, float]:
    """Bring the search index up to date (the first time: every article), then the same
    two-word searches through it as a server runs them (a follower thread keeps the index in
    step, aggregator serve's way) and as a one-off command does (each search first asks the
    change log how far behind it is): sync ms per article synced, search p50/p95, the search
    page, index bytes. Only these searches go through it: the rest of the run measures the
    database's own."""
    from aggregator.web.pages import Filters, results

    before = index.cursor
    t0 = time.perf_counter()
    synced = index.sync(store)
    seconds = time.perf_counter() - t0

    def timed(run: Callable[[str], object], texts: list[str]) -> list[float]:
        out = []
        for text_ in texts:
            t0 = time.perf_counter()
            run(text_)
            out.append((time.perf_counter() - t0) * 1000)
        return out

    two_words = [f"{a} {b}" for a, b in queries]
    store.text_index = index
    stop = threading.Event()
    follower = threading.Thread(target=index.follow, args=(store, stop), daemon=True)
    try:
        follower.start()
        deadline = time.monotonic() + 60
        while not index.following and time.monotonic() < deadline:
            time.sleep(0.01)
        served = timed(lambda q: search(store, SearchQuery(text=q, limit=10)), two_words)
        paged = timed(lambda q: results(store, Filters(q=q)), two_words[:20] + Corpus().words[5:15])
        stop.set()
        follower.join()
        once = timed(lambda q: search(store, SearchQuery(text=q, limit=10)), two_words)
    finally:
        stop.set()
        store.text_index = None
    nbytes = sum(p.stat().st_size for p in index.path.iterdir() if p.is_file())
    return {
        "index_ms": seconds * 1000 / max(1, synced.cursor - before),
        "index_s": seconds,
        "index_p50": statistics.median(served),
        "index_p95": pct(served, 0.95),
        "index_once_p50": statistics.median(once),
        "index_page_p50": statistics.median(paged),
        "index_page_p95": pct(paged, 0.95),
        "index_bytes": nbytes / size,
    }


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
    ap.add_argument(
        "--keep-schema",
        action="store_true",
        help="postgresql: keep the schema (its name is printed first) to query it afterwards",
    )
    ap.add_argument(
        "--bulk",
        action="store_true",
        help="fill each size but its last --window articles in bulk (bulk_fill), then time the real path",
    )
    ap.add_argument(
        "--index",
        action="store_true",
        help="also build the search index beside the store (aggregator.textindex) and search through it",
    )
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
    paragraphs: Paragraphs | None = None
    text_index: TextIndex | None = None
    print(f"{args.backend}: {folder if args.backend == 'sqlite' else schema}", flush=True)
    try:
        for size in sizes:
            started = time.perf_counter()
            per_article: list[tuple[int, float]] = []
            if args.bulk and written < size - args.window:
                paragraphs = paragraphs or Paragraphs(corpus)
                bulk_fill(store, args.backend, written, size - args.window, paragraphs, rng)
                written = size - args.window
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
            indexed: dict[str, float] = {}
            if args.index:
                text_index = text_index or TextIndex(folder / "index", store.url)
                indexed = index_figures(store, text_index, queries, size)
            # The web app's search page without HTTP (search, copies, facets), for a two-word
            # query and for a word in most articles (#15: p95 under 100 ms).
            from aggregator.web.pages import Filters, results

            paged = []
            for text_ in [f"{a} {b}" for a, b in queries[:20]] + corpus.words[5:15]:
                t0 = time.perf_counter()
                results(store, Filters(q=text_))
                paged.append((time.perf_counter() - t0) * 1000)
            nbytes = size_in_bytes(store, args.backend, folder, schema)
            rows[size] = {
                "write_p50": statistics.median(recent),
                "write_p95": pct(recent, 0.95),
                "lookup_p50": statistics.median(probes),
                "search_p50": statistics.median(searched),
                "search_p95": pct(searched, 0.95),
                "page_p50": statistics.median(paged),
                "page_p95": pct(paged, 0.95),
                "bytes": nbytes / size,
            }
            rows[size].update(indexed)
            r = rows[size]
            print(
                f"{size:>9} articles (+{time.perf_counter() - started:.0f}s):"
                f" write {r['write_p50']:.2f} ms/article"
                f" (p95 {r['write_p95']:.2f}), story lookup {r['lookup_p50']:.2f} ms,"
                f" search p50 {r['search_p50']:.2f} ms p95 {r['search_p95']:.2f} ms,"
                f" search page p50 {r['page_p50']:.0f} ms p95 {r['page_p95']:.0f} ms,"
                f" {r['bytes'] / 1024:.1f} KB/article",
                flush=True,
            )
            if args.index:
                print(
                    f"{'':>9} with the search index: sync {r['index_ms']:.2f} ms/article"
                    f" ({r['index_s']:.0f} s for all), search p50 {r['index_p50']:.2f} ms"
                    f" p95 {r['index_p95']:.2f} ms (one-off command: p50 {r['index_once_p50']:.2f} ms),"
                    f" search page p50 {r['index_page_p50']:.0f} ms"
                    f" p95 {r['index_page_p95']:.0f} ms, {r['index_bytes'] / 1024:.1f} KB/article more",
                    flush=True,
                )
    finally:
        store.close()
        if args.backend == "postgresql" and not args.keep_schema:
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
    if args.index:
        checks.append(
            (
                (
                    f"search p50 with the search index at {sizes[-1]}: {large['index_p50']:.2f} ms"
                    " (target <= 2 ms)"
                ),
                large["index_p50"] <= 2.0,
            )
        )
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
