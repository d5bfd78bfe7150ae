"""Web app benchmark: p50/p95 of the search, story and article pages on a 100k-article store.

Usage: python benchmarks/web.py [--articles 100000] [--requests 300] [--fresh] [--check]

The store is generated once and cached under the temp directory (keyed by its size and this
script's generator version): text made of the fixture publisher's real sentences with a third of
their words drawn from a Zipf-distributed 20,000-word vocabulary (the long tail); a fifth of the
articles are wire copies of another (a few words changed, a local paragraph), stored in that
article's story; 50 sources, 60 tags, a year of publication dates.
Rows go into the tables directly and the full-text index is rebuilt once (what a crawl would
write, without the crawl's cost, which is not what this measures).

It then serves the store with ``aggregator serve`` on 127.0.0.1 and requests, one at a time:
search pages (two-word queries drawn as the text was, some with a word of the trade, a fifth with
a tag filter),
story pages of stories with 2-5 copies, and article pages; it prints p50 and p95 per page, and
the ratio of the search page to the bare in-process search it wraps (what the web layer costs).
Target: p95 under 100 ms for the search and story pages.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from aggregator.search import SearchQuery, search
from aggregator.store import Store
from aggregator.store.models import ArticleRow, ArticleTag, ChangeLog, Source, Story, Tag

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = 2  # bump when the generated store changes shape
NOW = datetime(2026, 12, 1, tzinfo=UTC)
BATCH = 2000
SOURCES = 50
TARGET_P95_MS = 100.0


def corpus() -> list[str]:
    """The fixture publisher's sentences: real industry-news English."""
    data = tomllib.loads((ROOT / "fixtures" / "articles.toml").read_text("utf-8"))
    sentences: list[str] = []
    for article in data["article"]:
        for paragraph in article["paragraphs"]:
            sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", paragraph) if len(s.split()) > 4]
    return sentences


def tags_of_fixture() -> list[str]:
    data = tomllib.loads((ROOT / "fixtures" / "articles.toml").read_text("utf-8"))
    names = sorted({t.lower() for a in data["article"] for t in a["tags"]})
    return (names + [f"topic-{i}" for i in range(60)])[:60]


class Vocabulary:
    """The long tail real text has and 31 fixture articles lack: 20,000 made-up words drawn with
    Zipf's law (as benchmarks/search.py does). Without it every fixture word is in a third of
    the store, and every query matches tens of thousands of articles, as no real query does."""

    def __init__(self, rng: random.Random, size: int = 20_000) -> None:
        letters = "abcdefghijklmnopqrstuvwxyz"
        self.words = sorted(
            {"".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)}
        )
        self.cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(self.words))))
        self.rng = rng

    def draw(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cumulative, k=k)


def vary(sentence: str, rng: random.Random, vocab: Vocabulary) -> str:
    """The sentence with about a third of its words drawn from the long tail."""
    tokens = sentence.split()
    for position, word in zip(
        rng.sample(range(len(tokens)), len(tokens) // 3), vocab.draw(len(tokens) // 3), strict=True
    ):
        tokens[position] = word
    return " ".join(tokens)


def generate(path: Path, n: int, seed: int = 15) -> None:
    rng = random.Random(seed)
    sentences = corpus()
    words = Vocabulary(random.Random(seed + 1))
    tags = tags_of_fixture()
    url = f"sqlite:///{path}"
    with Store(url) as store:
        with store.session() as s:
            s.execute(
                insert(Source),
                [
                    {
                        "id": i + 1,
                        "name": f"outlet-{i:02d}",
                        "kind": "feed",
                        "url": f"https://outlet{i:02d}.example/feed.xml",
                        "interval_seconds": 3600,
                        "enabled": True,
                        "tags": [],
                        "error_count": 0,
                        "created_at": NOW - timedelta(days=400),
                        "last_success_at": NOW - timedelta(minutes=i),
                        "next_due_at": NOW + timedelta(minutes=60 - i),
                    }
                    for i in range(SOURCES)
                ],
            )
            s.execute(insert(Tag), [{"id": i + 1, "name": t} for i, t in enumerate(tags)])
        texts: dict[int, str] = {}
        story_of: dict[int, int] = {}
        next_story = 1
        for start in range(0, n, BATCH):
            articles, links, stories, changes = [], [], [], []
            for i in range(start, min(n, start + BATCH)):
                article_id = i + 1
                source = rng.randrange(SOURCES)
                original = rng.randrange(1, article_id) if article_id > 10 and rng.random() < 0.2 else None
                if original is not None and original in texts:
                    paragraphs = texts[original].split("\n\n")
                    paragraphs = [vary(p, rng, words) if rng.random() < 0.3 else p for p in paragraphs]
                    if rng.random() < 0.5:
                        paragraphs.insert(rng.randrange(len(paragraphs)), " ".join(rng.sample(sentences, 2)))
                    story = story_of[original]
                else:
                    paragraphs = [
                        " ".join(vary(x, rng, words) for x in rng.sample(sentences, rng.randint(2, 4)))
                        for _ in range(rng.randint(4, 8))
                    ]
                    story = next_story
                    next_story += 1
                    stories.append({"id": story, "created_at": NOW})
                text = "\n\n".join(paragraphs)
                texts[article_id] = text
                story_of[article_id] = story
                title = vary(rng.choice(sentences), rng, words)[:120]
                chosen = rng.sample(range(len(tags)), rng.randint(2, 4))
                published = NOW - timedelta(minutes=rng.randrange(365 * 24 * 60))
                seen = NOW - timedelta(minutes=rng.randrange(60 * 24 * 60))
                articles.append(
                    {
                        "id": article_id,
                        "url": f"https://outlet{source:02d}.example/news/{article_id}",
                        "canonical_url": f"https://outlet{source:02d}.example/news/{article_id}",
                        "source_id": source + 1,
                        "story_id": story,
                        "title": title,
                        "subtitle": vary(rng.choice(sentences), rng, words),
                        "authors": [],
                        "published": published,
                        "section": rng.choice(["Energy", "Aerospace", "Manufacturing"]),
                        "dateline": "",
                        "language": "en" if rng.random() < 0.9 else "fr",
                        "text": text,
                        "word_count": len(text.split()),
                        "image_url": "",
                        "site_name": f"Outlet {source:02d}",
                        "text_origin": "page",
                        "text_stage": "dom",
                        "content_hash": f"{article_id:064x}",
                        "tags_text": " ".join(tags[t] for t in chosen),
                        "first_seen_at": seen,
                        "changed_at": seen,
                    }
                )
                links += [
                    {"article_id": article_id, "tag_id": t + 1, "origin": "page", "position": p}
                    for p, t in enumerate(chosen)
                ]
                changes.append(
                    {"article_id": article_id, "doc_id": str(article_id), "action": "upsert", "at": seen}
                )
            with store.session() as s:
                if stories:
                    s.execute(insert(Story), stories)
                s.execute(insert(ArticleRow), articles)
                s.execute(insert(ArticleTag), links)
                s.execute(insert(ChangeLog), changes)
            print(f"  generated {min(n, start + BATCH)} articles", file=sys.stderr, end="\r")
        print(file=sys.stderr)
        store.reindex()
        with store.session() as s:
            s.connection().exec_driver_sql("ANALYZE")


def cached_store(n: int, fresh: bool) -> Path:
    path = Path(tempfile.gettempdir()) / f"aggregator-web-bench-{n}-v{GENERATOR}.db"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    if not path.exists():
        print(f"generating a {n}-article store at {path} (cached for later runs)...", file=sys.stderr)
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        generate(partial, n)
        partial.rename(path)
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def serve(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AGGREGATOR_DB", "AGGREGATOR_WEB_TOKEN")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--db", f"sqlite:///{db}", "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()
    if " at http://" not in line:
        proc.kill()
        sys.exit(f"aggregator serve did not start: {line}")
    base = line.split(" at ", 1)[1].split("/ ", 1)[0]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("aggregator serve was not ready in 60 s")


def timed(client: httpx.Client, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{path}: HTTP {response.status_code}")
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="requests per page kind")
    parser.add_argument("--fresh", action="store_true", help="generate the store again")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    db = cached_store(args.articles, args.fresh)
    rng = random.Random(7)
    with Store(f"sqlite:///{db}") as store:
        vocab = Vocabulary(random.Random(15 + 1))  # the generator's own words
        fixture = [w for w in re.findall(r"[a-z]{6,}", " ".join(corpus()).lower())]
        rare = sorted({w for w in fixture if fixture.count(w) == 1})
        tags = [t for t, _ in store.top_tags(20)]
        stories = [s.story_id for s in store.story_summaries(offset=0, limit=5000, min_size=2)]
        bare: list[float] = []
        queries = []
        for i in range(args.requests):
            # Two words as people search: mostly from the long tail, some with a word of the trade.
            picks = vocab.draw(2) if rng.random() < 0.7 else [rng.choice(rare), *vocab.draw(1)]
            query = {"q": " ".join(picks)}
            if i % 5 == 0:
                query["tag"] = rng.choice(tags)
            queries.append(query)
            started = time.perf_counter()
            search(store, SearchQuery(query["q"], tag=query.get("tag"), limit=21))
            bare.append((time.perf_counter() - started) * 1000)
    proc, base = serve(db)
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            timed(client, ["/", "/?q=wind", f"/stories/{stories[0]}", "/articles/1"] * 5)  # warm up
            results = {
                "search": timed(client, ["/?" + httpx.QueryParams(q).__str__() for q in queries]),
                "story": timed(client, [f"/stories/{rng.choice(stories)}" for _ in range(args.requests)]),
                "article": timed(
                    client, [f"/articles/{rng.randint(1, args.articles)}" for _ in range(args.requests)]
                ),
                "api search": timed(
                    client, ["/api/search?" + httpx.QueryParams(q).__str__() for q in queries]
                ),
            }
    finally:
        proc.terminate()
        proc.wait(20)
    print(
        f"web app on a {args.articles}-article SQLite store, {args.requests} requests per page, one at a time"
    )
    missed = False
    for name, values in results.items():
        target = name in ("search", "story")
        ok = p95(values) < TARGET_P95_MS
        missed |= target and not ok
        mark = (" (target p95 < 100 ms: " + ("met" if ok else "MISSED") + ")") if target else ""
        print(f"  {name:<10} p50 {statistics.median(values):6.1f} ms   p95 {p95(values):6.1f} ms{mark}")
    ratio = statistics.median(results["search"]) / statistics.median(bare)
    print(
        f"  bare in-process search (what the page wraps): p50 {statistics.median(bare):.1f} ms;"
        f" search page / bare search = {ratio:.1f}x (facets, outlets, rendering and HTTP)"
    )
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
