"""Feed parsing benchmark: our reader (aggregator.feeds.parse_feed) against bare feedparser.parse.

Usage: python benchmarks/feeds.py [--rounds 30] [--check]

Both parse the same bytes in one run: the fixture site's RSS 2.0 and Atom feeds, the format
samples in fixtures/feeds (RSS 0.91/1.0, Atom 0.3, ill-formed RSS), and a generated 200-entry RSS
feed with content:encoded. Prints feeds/s for each and our overhead (target: at most 1.3x
feedparser's time). JSON Feed is left out: feedparser cannot read it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import feedparser

from aggregator.feeds import parse_feed

ROOT = Path(__file__).resolve().parent.parent
BASE = b"http://127.0.0.1:8000"


def generated(entries: int = 200) -> bytes:
    items = "".join(
        f"<item><title>Story {i} about freight &amp; rail</title><link>https://p.example/{i}</link>"
        f"<pubDate>Tue, 17 Nov 2026 10:{i % 60:02d}:00 GMT</pubDate><category>freight</category>"
        f"<content:encoded><![CDATA[<p>Paragraph one of story {i}.</p><p>Paragraph two.</p>]]>"
        "</content:encoded>"
        "</item>"
        for i in range(entries)
    )
    return (
        b'<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        b"<channel><title>Generated</title>" + items.encode() + b"</channel></rss>"
    )


def documents() -> list[tuple[str, bytes]]:
    docs = [
        (p.name, p.read_bytes().replace(b"{base}", BASE))
        for p in sorted((ROOT / "fixtures" / "site" / "feeds").glob("*.xml"))
    ]
    docs += [
        (p.name, p.read_bytes())
        for p in sorted((ROOT / "fixtures" / "feeds").iterdir())
        if p.suffix in (".xml", ".rdf") and "bomb" not in p.name
    ]
    docs.append(("generated-200.xml", generated()))
    return docs


def timed(fn: object, docs: list[tuple[str, bytes]], rounds: int) -> list[float]:
    per_round = []
    for _ in range(rounds):
        start = time.perf_counter()
        for name, data in docs:
            fn(name, data)  # type: ignore[operator]
        per_round.append(time.perf_counter() - start)
    return per_round


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    args = ap.parse_args()
    docs = documents()

    def bare(name: str, data: bytes) -> object:
        return feedparser.parse(data, response_headers={"content-location": "https://feeds.example/" + name})

    def ours(name: str, data: bytes) -> object:
        return parse_feed(data, "https://feeds.example/" + name)

    timed(bare, docs, 2)
    timed(ours, docs, 2)
    bare_times, our_times = [], []
    for _ in range(args.rounds):  # interleaved, so load changes hit both alike
        bare_times += timed(bare, docs, 1)
        our_times += timed(ours, docs, 1)
    b, o = statistics.median(bare_times), statistics.median(our_times)
    print(f"{len(docs)} feeds per round, {args.rounds} rounds (median round)")
    print(
        f"feedparser.parse: {len(docs) / b:,.1f} feeds/s;"
        f" aggregator.feeds.parse_feed: {len(docs) / o:,.1f} feeds/s"
    )
    print(f"our time / feedparser's: {o / b:.2f}x (target <= 1.30x)")
    return 1 if args.check and o / b > 1.3 else 0


if __name__ == "__main__":
    sys.exit(main())
