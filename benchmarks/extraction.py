"""Extraction benchmark: ours against trafilatura on the three DEV sets, every figure in one run.

Usage:
    python benchmarks/extraction.py                 # all three sets, ours and trafilatura, tables
    python benchmarks/extraction.py --check         # exit 1 unless every target of issue #11 holds
    python benchmarks/extraction.py --floors        # ours only, fast: exit 1 below benchmarks/floors.json
    python benchmarks/extraction.py --floors --raise-floors   # write the higher figures back
    python benchmarks/extraction.py --sets zyte --peers trafilatura,readability --limit 20

The sets live in ../shared/benchmarks/extraction/ (each README states its metric):
  zyte      dev/          body text, 4-token shingles (P averaged over non-empty pages, R over all)
  fundus    fundus-dev/   body bag-of-words F1, title, authors, date (scored by its score.py)
  snippets  snippets-dev/ must-have / must-not snippets (scored by its score.py)
Every set scores our Article.text, the body, as the sets' READMEs define their metrics (a dek
kept as Article.subtitle counts as missed on snippets-dev). The snippets table's R+dek and F+dek
columns are for information only: the same snippets against the dek then the body, what
`aggregator extract --text` prints (on Zyte the dek cost precision, .966 -> .916).
fundus and snippets are scored by their own score.py modules, imported from the data folder, so
a figure here equals that script's figure. Each page runs through every extractor in turn, one
page at a time, after one untimed warm-up call per extractor, with the network blocked and a
per-page time limit; a call that raises or times out counts as empty output. For ours the table
also counts which stage of the extraction cascade (aggregator.extract.cascade) gave the text.

Floors (benchmarks/floors.json) are the CI quality gate: DEV figures of our extractor that
`make test` checks (tests/test_extraction_quality.py). --raise-floors only ever raises them;
lowering one is a hand edit that shows in review.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import math
import multiprocessing
import random
import re
import signal
import socket
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "benchmarks" / "extraction"
FLOORS = HERE / "floors.json"
PAGE_TIMEOUT_S = 30
SETS = ("zyte", "fundus", "snippets")
_TOKEN = re.compile(r"\w+")
_OURS = "ours"


# --------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Page:
    set: str
    key: str
    url: str
    html: bytes
    content_type: str | None
    truth: Any


def _load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def scorers() -> tuple[ModuleType, ModuleType]:
    """The fundus-dev and snippets-dev score.py modules, as the data folders ship them."""
    return (
        _load_module("fundus_score", DATA / "fundus-dev" / "score.py"),
        _load_module("snippets_score", DATA / "snippets-dev" / "score.py"),
    )


def load_pages(sets: Sequence[str], limit: int | None) -> list[Page]:
    fundus, snippets = scorers()
    pages: list[Page] = []
    if "zyte" in sets:
        truth = json.loads((DATA / "dev" / "ground-truth.json").read_text("utf-8"))
        for key in sorted(truth)[:limit]:
            html = gzip.decompress((DATA / "dev" / "html" / f"{key}.html.gz").read_bytes())
            pages.append(Page("zyte", key, truth[key].get("url", ""), html, None, truth[key]))
    if "fundus" in sets:
        for p in fundus.load(DATA / "fundus-dev")[:limit]:
            pages.append(Page("fundus", p.id, p.url, p.html, fundus.UTF8, p))
    if "snippets" in sets:
        for p in snippets.load(DATA / "snippets-dev")[:limit]:
            pages.append(Page("snippets", p.name, p.url, p.html, None, p))
    return pages


# --------------------------------------------------------------------------- the extractors


@dataclass
class Output:
    """What an extractor returned for one page, in the shape the scorers read."""

    text: str = ""
    title: str = ""
    authors: list[str] = field(default_factory=list)
    published: Any = None
    tags: list[str] = field(default_factory=list)
    stage: str = ""
    #: The whole plain-text output, scored on snippets-dev (None: the same as ``text``).
    reading: str | None = None


Extractor = Callable[[Page], Output]


def ours(page: Page) -> Output:
    from aggregator import extract_article

    a = extract_article(page.html, page.url, content_type=page.content_type)
    return Output(a.text, a.title, list(a.authors), a.published, list(a.tags), a.text_stage, a.reading_text())


def trafilatura_peer(page: Page) -> Output:
    """trafilatura 2.x with its defaults: extract() for the text; for fundus, the fundus
    scorer's own bare_extraction call (metadata included), as the fundus README's figures."""
    import trafilatura

    if page.set == "fundus":
        doc = trafilatura.bare_extraction(page.html, url=page.url, with_metadata=True)
        if doc is None:
            return Output()
        d = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
        authors = [a.strip() for a in (d.get("author") or "").split(";") if a.strip()]
        tags = list(d.get("tags") or []) + list(d.get("categories") or [])
        return Output(d.get("text") or "", d.get("title") or "", authors, d.get("date"), tags)
    return Output(trafilatura.extract(page.html, url=page.url) or "")


def readability_peer(page: Page) -> Output:
    import html_text
    from readability import Document

    html = page.html.decode("utf-8", "replace")
    return Output(str(html_text.extract_text(Document(html).summary(html_partial=True))))


PEERS: dict[str, Extractor] = {"trafilatura": trafilatura_peer, "readability": readability_peer}


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def block_network() -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network blocked in the benchmark")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]


def run_one(fn: Extractor, page: Page) -> tuple[Output | None, float]:
    """(output or None when it raised or timed out, milliseconds)."""
    signal.alarm(PAGE_TIMEOUT_S)
    start = time.perf_counter()
    try:
        out: Output | None = fn(page)
    except _Timeout:
        out = None
    except Exception:  # noqa: BLE001 -- any extractor failure counts as an empty output
        out = None
    finally:
        elapsed = (time.perf_counter() - start) * 1000
        signal.alarm(0)
    return out, elapsed


# --------------------------------------------------------------------------- scoring


def shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if not tokens:
        return Counter()
    if len(tokens) < 4:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3))


def score_page(page: Page, out: Output | None, fundus: ModuleType, snippets: ModuleType) -> dict[str, Any]:
    text = out.text if out is not None else ""
    if page.set == "zyte":
        p, t = shingles(text), shingles(page.truth["articleBody"])
        tp = sum((p & t).values())
        return {
            "P": tp / sum(p.values()) if p else None,
            "R": tp / sum(t.values()) if t else 1.0,
            "empty": not text.strip(),
        }
    if page.set == "fundus":
        pred = (
            fundus.Prediction(
                title=out.title, authors=out.authors, date=out.published, topics=out.tags, text=text
            )
            if out is not None
            else fundus.Prediction()
        )
        row = dict(fundus.score_page(page.truth, pred))
        row["empty"] = not text.strip()
        return row
    # The metric is the body's (the set's README: a dek kept apart counts as missed). The dek then
    # the body (Article.reading_text, `aggregator extract --text`) is scored beside it, for
    # information only.
    missed, leaked = snippets.match_page(page.truth, text if out is not None else None)
    reading = out.reading if out is not None and out.reading is not None else text
    missed_dek, leaked_dek = snippets.match_page(page.truth, reading if out is not None else None)
    return {
        "tp": len(page.truth.with_) - len(missed),
        "fn": len(missed),
        "fp": len(leaked),
        "tn": len(page.truth.without) - len(leaked),
        "tp_dek": len(page.truth.with_) - len(missed_dek),
        "fn_dek": len(missed_dek),
        "fp_dek": len(leaked_dek),
        "empty": not text.strip(),
    }


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _zyte(rows: list[dict[str, Any]]) -> tuple[float, float, float]:
    """(P, R, F1): P averaged over the pages with output, R over all pages, F1 from the two."""
    p = _mean([r["P"] for r in rows if r["P"] is not None])
    r_ = _mean([r["R"] for r in rows])
    return p, r_, 2 * p * r_ / (p + r_) if p + r_ else 0.0


def _snippets(rows: list[dict[str, Any]], suffix: str = "") -> tuple[float, float, float]:
    """(P, R, F) over the snippets of all pages summed (``suffix`` "_dek": the dek then the body)."""
    tp, fn, fp = (sum(r[k + suffix] for r in rows) for k in ("tp", "fn", "fp"))
    return (
        tp / (tp + fp) if tp + fp else 0.0,
        tp / (tp + fn) if tp + fn else 0.0,
        2 * tp / (2 * tp + fp + fn) if tp else 0.0,
    )


def summarize(set_name: str, rows: list[dict[str, Any]]) -> dict[str, float]:
    """The set's figures (its README's metric) from per-page score rows."""
    s: dict[str, float] = {"pages": len(rows), "empty": sum(1 for r in rows if r["empty"])}
    if set_name == "zyte":
        s["P"], s["R"], s["F1"] = _zyte(rows)
        s["F1_std"] = _bootstrap(rows, lambda sample: _zyte(sample)[2])
    elif set_name == "fundus":
        for key in (
            "title_exact",
            "title_f1",
            "authors_f1",
            "date_day",
            "date_instant",
            "topics_f1",
            "body_f1",
            "body_p",
            "body_r",
            "bodyfull_f1",
        ):
            s[key] = _mean([r[key] for r in rows if r.get(key) is not None])
        s["body_below_half"] = sum(1 for r in rows if r.get("body_f1", 0.0) < 0.5)
    else:
        s["P"], s["R"], s["F"] = _snippets(rows)
        s["F_std"] = _bootstrap(rows, lambda sample: _snippets(sample)[2])
        s["P_dek"], s["R_dek"], s["F_dek"] = _snippets(rows, "_dek")
    return s


def _bootstrap(
    rows: list[dict[str, Any]], figure: Callable[[list[dict[str, Any]]], float], n: int = 300
) -> float:
    rng = random.Random(0)
    values = [figure([rows[rng.randrange(len(rows))] for _ in rows]) for _ in range(n)]
    return statistics.pstdev(values)


# --------------------------------------------------------------------------- running


@dataclass
class Result:
    rows: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)  # extractor -> set -> rows
    times: dict[str, list[float]] = field(default_factory=dict)
    stages: dict[str, Counter[str]] = field(default_factory=dict)  # set -> stage counts (ours)
    errors: dict[str, int] = field(default_factory=dict)


def evaluate(pages: list[Page], extractors: dict[str, Extractor]) -> Result:
    fundus, snippets = scorers()
    block_network()
    signal.signal(signal.SIGALRM, _alarm)
    result = Result()
    for name, fn in extractors.items():
        run_one(fn, pages[0])  # untimed warm-up
        result.rows[name] = {}
        result.times[name] = []
        result.errors[name] = 0
    for i, page in enumerate(pages, 1):
        for name, fn in extractors.items():
            out, ms = run_one(fn, page)
            result.times[name].append(ms)
            result.errors[name] += out is None
            result.rows[name].setdefault(page.set, []).append(score_page(page, out, fundus, snippets))
            if name == _OURS:
                result.stages.setdefault(page.set, Counter())[out.stage if out and out.stage else "none"] += 1
        if i % 100 == 0:
            print(f"  {i}/{len(pages)} pages", file=sys.stderr)
    return result


def _worker(page: Page) -> tuple[str, dict[str, Any], str]:
    out, _ = run_one(ours, page)
    fundus, snippets = scorers()
    return page.set, score_page(page, out, fundus, snippets), (out.stage if out and out.stage else "none")


def evaluate_ours_parallel(pages: list[Page], jobs: int) -> Result:
    """Ours only, in worker processes: quality figures fast (timings are not comparable)."""
    result = Result(rows={_OURS: {}}, times={_OURS: []}, errors={_OURS: 0})
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs, initializer=_init_worker) as pool:
        for set_name, row, stage in pool.imap(_worker, pages, chunksize=8):
            result.rows[_OURS].setdefault(set_name, []).append(row)
            result.stages.setdefault(set_name, Counter())[stage] += 1
    return result


def _init_worker() -> None:
    warnings.simplefilter("ignore")
    block_network()
    signal.signal(signal.SIGALRM, _alarm)


# --------------------------------------------------------------------------- reporting

COLUMNS = {
    "zyte": [("P", "P"), ("R", "R"), ("F1", "F1"), ("F1_std", "±"), ("empty", "empty")],
    "fundus": [
        ("body_f1", "body.F1"),
        ("body_p", "body.P"),
        ("body_r", "body.R"),
        ("body_below_half", "<.5"),
        ("title_exact", "t.exact"),
        ("title_f1", "t.F1"),
        ("authors_f1", "auth.F1"),
        ("date_day", "day"),
        ("date_instant", "instant"),
        ("topics_f1", "topics"),
        ("bodyfull_f1", "full.F1"),
        ("empty", "empty"),
    ],
    "snippets": [
        ("P", "P"),
        ("R", "R"),
        ("F", "F"),
        ("F_std", "±"),
        ("empty", "empty"),
        ("R_dek", "R+dek"),
        ("F_dek", "F+dek"),
    ],
}


def figures(result: Result) -> dict[str, dict[str, dict[str, float]]]:
    """extractor -> set -> figure -> value."""
    return {
        name: {s: summarize(s, rows) for s, rows in per_set.items()} for name, per_set in result.rows.items()
    }


def print_tables(result: Result, figs: dict[str, dict[str, dict[str, float]]]) -> None:
    for set_name in SETS:
        names = [n for n in figs if set_name in figs[n]]
        if not names:
            continue
        cols = COLUMNS[set_name]
        pages = int(figs[names[0]][set_name]["pages"])
        print(f"\n{set_name} ({pages} pages)")
        print(f"{'extractor':<13}" + "".join(f"{label:>9}" for _, label in cols))
        for name in names:
            f = figs[name][set_name]
            cells = [f"{f[k]:9.0f}" if k in ("empty", "body_below_half") else f"{f[k]:9.3f}" for k, _ in cols]
            print(f"{name:<13}" + "".join(cells))
        stages = result.stages.get(set_name)
        if stages:
            print("  ours, by cascade stage: " + ", ".join(f"{k} {v}" for k, v in stages.most_common()))
    if any(result.times.get(n) for n in figs):
        print("\ntime per page (ms), all sets")
        print(f"{'extractor':<13}{'median':>9}{'p95':>9}{'mean':>9}{'errors':>9}")
        for name in figs:
            t = sorted(result.times.get(name, []))
            if t:
                print(
                    f"{name:<13}{statistics.median(t):9.1f}{t[round(0.95 * (len(t) - 1))]:9.1f}"
                    f"{statistics.fmean(t):9.1f}{result.errors[name]:9d}"
                )


def targets(result: Result, figs: dict[str, dict[str, dict[str, float]]]) -> list[tuple[str, bool]]:
    """Issue #11's targets, each (description, met) against trafilatura in this run."""
    if "trafilatura" not in figs:
        return []
    o, t = figs[_OURS], figs["trafilatura"]
    out: list[tuple[str, bool]] = []
    if "zyte" in o:
        z, tz = o["zyte"], t["zyte"]
        out += [
            (f"zyte F1 {z['F1']:.3f} >= trafilatura {tz['F1']:.3f} + 0.02", z["F1"] >= tz["F1"] + 0.02),
            (f"zyte precision {z['P']:.3f} >= trafilatura {tz['P']:.3f}", z["P"] >= tz["P"]),
            (f"zyte empty pages {z['empty']:.0f} == 0", z["empty"] == 0),
        ]
    if "fundus" in o:
        f, tf = o["fundus"], t["fundus"]
        out += [
            (
                f"fundus body F1 {f['body_f1']:.3f} >= trafilatura {tf['body_f1']:.3f}",
                f["body_f1"] >= tf["body_f1"],
            ),
            (
                (
                    f"fundus pages under .5 {f['body_below_half']:.0f}"
                    f" <= trafilatura {tf['body_below_half']:.0f}"
                ),
                f["body_below_half"] <= tf["body_below_half"],
            ),
            (f"fundus title exact {f['title_exact']:.3f} >= 0.85", f["title_exact"] >= 0.85),
            (
                f"fundus authors F1 {f['authors_f1']:.3f} >= trafilatura {tf['authors_f1']:.3f}",
                f["authors_f1"] >= tf["authors_f1"],
            ),
            (f"fundus date same-day {f['date_day']:.3f} >= 0.97", f["date_day"] >= 0.97),
        ]
    if "snippets" in o:
        s, ts = o["snippets"], t["snippets"]
        out += [
            (f"snippets F {s['F']:.3f} >= trafilatura {ts['F']:.3f}", s["F"] >= ts["F"]),
            (
                f"snippets recall {s['R']:.3f} within 0.02 of trafilatura {ts['R']:.3f}",
                s["R"] >= ts["R"] - 0.02,
            ),
            (f"snippets empty pages {s['empty']:.0f} == 0", s["empty"] == 0),
        ]
    if result.times.get(_OURS) and result.times.get("trafilatura"):
        ratio = statistics.median(result.times[_OURS]) / statistics.median(result.times["trafilatura"])
        out.append((f"median time ratio {ratio:.2f}x <= 0.60x trafilatura", ratio <= 0.6))
    return out


#: Figures where lower is better: their "floor" is a ceiling.
_CEILINGS = ("empty", "body_below_half")


def floor_checks(
    figs: dict[str, dict[str, dict[str, float]]],
) -> tuple[list[str], dict[str, dict[str, float]]]:
    """(failures, current figures in floors.json's shape); a floor of "empty" is a ceiling."""
    floors: dict[str, dict[str, float]] = json.loads(FLOORS.read_text("utf-8"))
    failures: list[str] = []
    current: dict[str, dict[str, float]] = {}
    for set_name, wanted in floors.items():
        got = figs[_OURS].get(set_name)
        if got is None:
            continue
        # Written down to four decimals, rounded toward "worse": a floor never exceeds the figure.
        current[set_name] = {
            k: math.ceil(got[k] * 1e4) / 1e4 if k in _CEILINGS else math.floor(got[k] * 1e4) / 1e4
            for k in wanted
        }
        for key, floor in wanted.items():
            value = got[key]
            ceiling = key in _CEILINGS
            if value > floor if ceiling else value < floor - 1e-9:
                side = "above its ceiling" if ceiling else "below its floor"
                failures.append(f"{set_name} {key} {value:.4f} is {side} {floor}")
    return failures, current


def raise_floors(current: dict[str, dict[str, float]]) -> None:
    floors: dict[str, dict[str, float]] = json.loads(FLOORS.read_text("utf-8"))
    for set_name, values in current.items():
        for key, value in values.items():
            old = floors[set_name][key]
            better = value < old if key in _CEILINGS else value > old
            if better:
                floors[set_name][key] = value
    FLOORS.write_text(json.dumps(floors, indent=2) + "\n", "utf-8")
    print(f"floors raised where higher: {FLOORS}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated: zyte,fundus,snippets")
    ap.add_argument(
        "--peers", default="trafilatura", help="comma-separated: trafilatura,readability ('' for none)"
    )
    ap.add_argument("--limit", type=int, default=None, help="first N pages of each set")
    ap.add_argument("--check", action="store_true", help="exit 1 unless every target holds in this run")
    ap.add_argument("--floors", action="store_true", help="ours only, in parallel: exit 1 below floors.json")
    ap.add_argument("--raise-floors", action="store_true", help="with --floors: write higher figures back")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes for --floors")
    ap.add_argument("--json", type=Path, help="write every figure and per-page row to this file")
    args = ap.parse_args(argv)
    sets = [s for s in args.sets.split(",") if s]
    unknown = set(sets) - set(SETS)
    if unknown:
        ap.error(f"unknown set(s): {', '.join(sorted(unknown))}")
    if not DATA.is_dir():
        print(f"benchmark data not found: {DATA} (../shared beside the checkout)", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")
    pages = load_pages(sets, args.limit)
    if args.floors:
        result = evaluate_ours_parallel(pages, args.jobs)
    else:
        peers = [p for p in args.peers.split(",") if p]
        for p in peers:
            if p not in PEERS:
                ap.error(f"unknown peer: {p}")
        result = evaluate(pages, {_OURS: ours, **{p: PEERS[p] for p in peers}})
    figs = figures(result)
    print_tables(result, figs)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"figures": figs, "rows": result.rows, "times": result.times, "stages": result.stages},
                default=str,
                indent=1,
            ),
            "utf-8",
        )
    status = 0
    if args.floors:
        failures, current = floor_checks(figs)
        for line in failures:
            print(f"BELOW FLOOR: {line}")
        print("floors held" if not failures else f"{len(failures)} floor(s) not held")
        if args.raise_floors and args.limit is None:
            raise_floors(current)
        status = 1 if failures else 0
    checks = targets(result, figs)
    if checks:
        print("\ntargets (issue #11), this run:")
        for text, ok in checks:
            print(f"  [{'ok' if ok else 'MISSED'}] {text}")
        if args.check and not all(ok for _, ok in checks):
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
