"""Main-text extraction benchmark: ours against trafilatura and readability-lxml, in one run.

Usage: python benchmarks/extraction.py [--data DIR] [--limit N] [--json]

Implements the metric of ../shared/benchmarks/extraction/dev/README.md (4-token shingles,
multiset overlap; precision averaged over non-empty outputs, recall over all pages; F1 from the
two means; bootstrap standard deviations) and times each extractor one page at a time after one
untimed warm-up call, with the network blocked. It also reports metadata accuracy (title,
published date, authors) on the dev pages whose ground truth carries those fields.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import signal
import socket
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "benchmarks" / "extraction" / "dev"
PAGE_TIMEOUT_S = 10
_TOKEN = re.compile(r"\w+")


def shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if not tokens:
        return Counter()
    if len(tokens) < 4:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3))


def page_scores(pred: str, truth: str) -> tuple[float | None, float, bool]:
    """(precision or None when the output is empty, recall, exact token match)."""
    p, t = shingles(pred), shingles(truth)
    tp = sum((p & t).values())
    fp = sum(p.values()) - tp
    fn = sum(t.values()) - tp
    precision = tp / (tp + fp) if (tp + fp) else None
    recall = tp / (tp + fn) if (tp + fn) else 1.0
    exact = _TOKEN.findall(pred or "") == _TOKEN.findall(truth or "")
    return precision, recall, exact


def aggregate(rows: list[tuple[float | None, float, bool]]) -> tuple[float, float, float, float]:
    precisions = [r[0] for r in rows if r[0] is not None]
    p = statistics.fmean(precisions) if precisions else 0.0
    r = statistics.fmean(row[1] for row in rows) if rows else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    acc = sum(row[2] for row in rows) / len(rows) if rows else 0.0
    return p, r, f1, acc


def bootstrap(rows: list[tuple[float | None, float, bool]], n: int = 1000) -> tuple[float, float, float]:
    rng = random.Random(0)
    ps, rs, fs = [], [], []
    for _ in range(n):
        sample = [rows[rng.randrange(len(rows))] for _ in rows]
        p, r, f1, _ = aggregate(sample)
        ps.append(p)
        rs.append(r)
        fs.append(f1)
    return statistics.pstdev(ps), statistics.pstdev(rs), statistics.pstdev(fs)


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def block_network() -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network blocked in the benchmark")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]


def extractors() -> dict[str, Callable[[bytes, str], str]]:
    import html_text
    import trafilatura
    from readability import Document

    from aggregator import extract_article

    def ours(html: bytes, url: str) -> str:
        return extract_article(html, url).text

    def traf(html: bytes, url: str) -> str:
        return trafilatura.extract(html.decode("utf-8"), url=url) or ""

    def readability(html: bytes, url: str) -> str:
        return str(html_text.extract_text(Document(html.decode("utf-8")).summary(html_partial=True)))

    return {"aggregator": ours, "trafilatura": traf, "readability-lxml": readability}


def load(data: Path, limit: int | None) -> list[tuple[str, bytes, dict[str, Any]]]:
    truth = json.loads((data / "ground-truth.json").read_text("utf-8"))
    pages = []
    for key in sorted(truth)[:limit]:
        html = gzip.decompress((data / "html" / f"{key}.html.gz").read_bytes())
        pages.append((key, html, truth[key]))
    return pages


def metadata_accuracy(pages: list[tuple[str, bytes, dict[str, Any]]]) -> dict[str, str]:
    """Title/date/author accuracy of our extractor where the ground truth has those fields."""
    from aggregator import extract_article

    checks: dict[str, list[bool]] = {"title": [], "published": [], "authors": []}
    for _, html, truth in pages:
        article = extract_article(html, truth.get("url", ""))
        if truth.get("headline"):
            checks["title"].append(" ".join(article.title.split()) == " ".join(truth["headline"].split()))
        if truth.get("datePublished"):
            got = article.published.date().isoformat() if article.published else ""
            checks["published"].append(got == str(truth["datePublished"])[:10])
        if truth.get("author"):
            checks["authors"].append(truth["author"] in article.authors)
    return {
        k: (f"{sum(v)}/{len(v)} = {sum(v) / len(v):.3f}" if v else "no ground truth for this field")
        for k, v in checks.items()
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ap.add_argument("--only", default="", help="comma-separated extractor names to run")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless ours beats trafilatura by the issue's targets in this run")
    args = ap.parse_args()
    if not (args.data / "ground-truth.json").exists():
        print(f"benchmark data not found: {args.data}", file=sys.stderr)
        return 2
    block_network()
    signal.signal(signal.SIGALRM, _alarm)
    pages = load(args.data, args.limit)
    results: dict[str, dict[str, Any]] = {}
    chosen = extractors()
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    for name, fn in chosen.items():
        fn(pages[0][1], pages[0][2].get("url", ""))  # untimed warm-up
        rows, times, failures, empty = [], [], 0, 0
        for _key, html, truth in pages:
            signal.alarm(PAGE_TIMEOUT_S)
            start = time.perf_counter()
            try:
                pred = fn(html, truth.get("url", ""))
            except _Timeout:
                pred, failures = "", failures + 1
            except Exception:  # noqa: BLE001 -- any extractor failure counts as an empty output
                pred, failures = "", failures + 1
            finally:
                elapsed = time.perf_counter() - start
                signal.alarm(0)
            times.append(elapsed * 1000)
            if not pred.strip():
                empty += 1
            rows.append(page_scores(pred, truth["articleBody"]))
        p, r, f1, acc = aggregate(rows)
        sp, sr, sf = bootstrap(rows)
        times.sort()
        results[name] = {
            "precision": p, "precision_std": sp, "recall": r, "recall_std": sr, "f1": f1,
            "f1_std": sf, "accuracy": acc, "failures": failures, "empty": empty,
            "median_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))],
            "mean_ms": statistics.fmean(times),
        }
    meta = metadata_accuracy(pages)
    if args.json:
        print(json.dumps({"pages": len(pages), "extractors": results, "metadata": meta}, indent=2))
        return 0
    print(f"{len(pages)} pages from {args.data}")
    print(f"{'extractor':<18} {'P':>12} {'R':>12} {'F1':>12} {'acc':>6} {'fail':>5} {'empty':>5}"
          f" {'med ms':>7} {'p95 ms':>7} {'mean ms':>7}")
    for name, s in results.items():
        print(f"{name:<18} {s['precision']:.3f}±{s['precision_std']:.3f}  {s['recall']:.3f}±{s['recall_std']:.3f}"
              f"  {s['f1']:.3f}±{s['f1_std']:.3f} {s['accuracy']:6.3f} {s['failures']:5d} {s['empty']:5d}"
              f" {s['median_ms']:7.1f} {s['p95_ms']:7.1f} {s['mean_ms']:7.1f}")
    if "aggregator" in results and "trafilatura" in results:
        ours, theirs = results["aggregator"], results["trafilatura"]
        print(f"F1 difference vs trafilatura: {ours['f1'] - theirs['f1']:+.3f} (target >= +0.020); "
              f"precision difference: {ours['precision'] - theirs['precision']:+.3f} (target > 0); "
              f"median time ratio: {ours['median_ms'] / theirs['median_ms']:.2f}x (target <= 1.00x)")
    print("metadata accuracy (aggregator):", ", ".join(f"{k} {v}" for k, v in meta.items()))
    if args.check and "aggregator" in results and "trafilatura" in results:
        ours, theirs = results["aggregator"], results["trafilatura"]
        ok = (ours["f1"] - theirs["f1"] >= 0.02 and ours["precision"] > theirs["precision"]
              and ours["median_ms"] <= theirs["median_ms"])
        print("targets met" if ok else "TARGETS NOT MET")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
