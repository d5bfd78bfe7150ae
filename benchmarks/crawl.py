"""Crawl benchmark: end-to-end pages/s against a bare Scrapy spider and a naive trafilatura spider.

Usage: python benchmarks/crawl.py [--pages 3000] [--check] [-s NAME=VALUE ...]

Generates a site of PAGES article pages (the fixture publisher's templates, each page's text made
unique) with a sitemap, serves it on 127.0.0.1 — with nginx when it is installed (Debian's package;
as DESIGN.md asks: a Python server would take a core from the crawlers), else with our deep-backlog
threading server (--server python) — and crawls it in one run, each crawler in its own process
with the same Scrapy settings:
  * bare: fetches every page, callback does nothing (Scrapy's own ceiling);
  * naive: trafilatura.extract in the callback, stores nothing;
  * ours: `aggregator crawl` (fetch + extract + normalize + dedupe + store into SQLite).
Each is timed from its spider's start to its close (ours: to the last batch committed). Prints
pages/s for each, our ratios (targets: >= 0.40x bare, >= 1.6x naive), each crawler's peak resident
memory, and ours — every process of it: download, fork server, workers, writer — once 10% of the
pages are stored and at the end (target: at most 50 MB more; run with --pages 100000 for the
issue's 10k-to-100k check).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aggregator.devserver import serve
from aggregator.workers import descendants

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = [
    "AUTOTHROTTLE_ENABLED=False",
    "CONCURRENT_REQUESTS=32",
    "CONCURRENT_REQUESTS_PER_DOMAIN=32",
    "DOWNLOAD_DELAY=0",
    "RETRY_ENABLED=False",
]


def build_site(folder: Path, pages: int) -> None:
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "fixtures" / "build_site.py")
    assert spec is not None
    assert spec.loader is not None
    site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(site)
    articles = [a for a in site.load_articles() if not a["private"]]
    sentences = [
        s.strip() + "." for a in articles for p in a["paragraphs"] for s in p.split(". ") if len(s) > 40
    ]
    vocabulary = sorted({w for s in sentences for w in s.split() if w.isalpha() and len(w) > 3})
    rng = random.Random(11)
    (folder / "a").mkdir(parents=True)
    urls = []
    for i in range(pages):
        # Distinct articles, as a real site has: sentences drawn from the whole corpus.
        base = dict(articles[i % len(articles)])
        base["slug"] = f"{base['slug']}-{i}"
        base["path"] = f"/a/{i}.html"
        base["title"] = f"{base['title']} ({i})"
        base["paragraphs"] = [
            " ".join(_vary(rng, s, vocabulary) for s in rng.sample(sentences, 3)) for _ in range(5)
        ]
        page = site.article_page(articles, base, i % 3)
        (folder / "a" / f"{i}.html").write_text(heavy(page, rng, vocabulary, i, pages), "utf-8")
        urls.append(f"<url><loc>{{base}}/a/{i}.html</loc></url>")
    (folder / "sitemap.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(urls)
        + "</urlset>",
        "utf-8",
    )
    (folder / "robots.txt").write_text("User-agent: *\nDisallow:\n", "utf-8")


def heavy(page: str, rng: random.Random, vocabulary: list[str], index: int, pages: int) -> str:
    """The page at a real article page's weight (100-250 KB): inline scripts and styles in the
    head (tag managers, consent, the app's state), a mega-menu of a few hundred links, blocks of
    related and most-read stories with teaser text, a long footer. The generated fixture pages
    are ~10 KB and flatter the ratio: parsing and cleaning grow with the page, Scrapy's fetch
    hardly does."""
    target = rng.randint(100_000, 250_000)

    def words(n: int) -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(n))

    flags = ",".join(str(rng.randint(0, 9)) for _ in range(30))
    script = "".join(f"window.__cfg_{k}={{id:{k},name:'{words(3)}',flags:[{flags}]}};" for k in range(400))
    style = "".join(f".c{k}{{margin:{k % 7}px;padding:{k % 5}px;color:#{k:06x}}}" for k in range(600))
    menu = "".join(
        f'<li class="menu-item"><a href="/topics/{rng.randint(0, 999)}/">{words(2)}</a></li>'
        for _ in range(300)
    )
    related = "".join(
        f'<div class="teaser"><a href="/a/{rng.randrange(pages)}.html"><img src="/img/{k}.jpg" alt="">'
        f"<h3>{words(8)}</h3></a><p>{words(25)}</p></div>"
        for k in range(40)
    )
    footer = "".join(f'<a href="/legal/{k}">{words(2)}</a> ' for k in range(150))
    head = f"<script>{script}</script><style>{style}</style>"
    body = (
        f'<nav class="mega-menu"><ul>{menu}</ul></nav>'
        f'<aside class="related-stories"><h2>Related Stories</h2>{related}</aside>'
        f'<aside class="most-read"><h2>Most read</h2>{related[: len(related) // 2]}</aside>'
    )
    page = page.replace("</head>", head + "</head>", 1).replace("</main>", "</main>" + body, 1)
    filler = ""
    while len(page) + len(filler) + len(footer) < target:
        filler += f"<script>/* {index} */ var ad_slot_{len(filler)} = '{words(40)}';</script>"
    return page.replace("</body>", f'<footer class="site-footer">{footer}</footer>{filler}</body>', 1)


def _vary(rng: random.Random, sentence: str, vocabulary: list[str]) -> str:
    """The sentence with every fourth word or so swapped: distinct articles do not repeat sentences
    word for word, and a corpus that did would make every page a near-duplicate candidate."""
    words = sentence.split()
    for i in rng.sample(range(len(words)), max(1, len(words) // 4)):
        words[i] = rng.choice(vocabulary)
    return " ".join(words)


NGINX_CONF = """worker_processes 1;
daemon off;
user root;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 2048; }}
http {{
  access_log off;
  default_type text/html;
  types {{ text/html html; application/xml xml; text/plain txt; }}
  server {{ listen 127.0.0.1:{port} backlog=1024; root {root}; }}
}}
"""


@contextmanager
def nginx(root: Path, tmp: Path) -> Iterator[str]:
    """Serve ``root`` with nginx on a free loopback port; yields the base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    for name in ("sitemap.xml", "robots.txt"):
        path = root / name
        path.write_text(path.read_text("utf-8").replace("{base}", base), "utf-8")
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, root=root), "utf-8")
    proc = subprocess.Popen(
        [shutil.which("nginx") or "nginx", "-c", str(conf), "-p", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def python_server(root: Path) -> Iterator[str]:
    with serve(root) as server:
        yield server.base_url


def _proc_mb(path: str, field: str) -> float:
    """A kB field of a /proc file, in MB (0 when the process is gone)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mb(pid: int) -> float:
    return _proc_mb(f"/proc/{pid}/status", "VmRSS:")


def pss_mb(pid: int) -> float:
    """Proportional set size: a page shared by n processes counts 1/n in each (the fork server's
    workers share most of their memory with it), so the sum over processes is what they use."""
    return _proc_mb(f"/proc/{pid}/smaps_rollup", "Pss:")


@dataclass
class Sample:
    """Memory of a crawler while it runs: its own process (RSS) and with all it started (PSS)."""

    stored: int
    main_mb: float
    tree_mb: float


def run(cmd: list[str], progress: Path | None = None) -> tuple[str, float, float, list[Sample]]:
    """Run a crawler; (stdout, wall seconds, peak RSS MB of its process, samples over time)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    peak = 0.0
    samples: list[Sample] = []
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout else b""))
    reader.start()
    ticks = 0
    while proc.poll() is None:
        rss = rss_mb(proc.pid)
        peak = max(peak, rss)
        if progress is not None and ticks % 5 == 0 and progress.exists():
            tree = pss_mb(proc.pid) + sum(pss_mb(p) for p in descendants(proc.pid))
            samples.append(Sample(_stored(progress), rss, tree))
        ticks += 1
        time.sleep(0.1)
    reader.join()
    return b"".join(out).decode(), time.monotonic() - started, peak, samples


def memory_at(samples: list[Sample], stored: int) -> Sample | None:
    """The first sample taken once ``stored`` articles were in the database."""
    return next((s for s in samples if s.stored >= stored), None)


def _stored(db: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as conn:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.Error:
        return 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def private_redis(folder: Path) -> Iterator[str]:
    """A redis-server of the benchmark's own (its command counts are ours alone)."""
    import redis

    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def private_database(server: str) -> Iterator[str]:
    """A database of the benchmark's own on the PostgreSQL server (its pg_stat_database row
    counts our transactions alone)."""
    from sqlalchemy import create_engine, text

    name = f"bench_{random.randrange(16**8):08x}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def commits(db: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    with engine.connect() as conn:
        value = conn.execute(
            text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()
    engine.dispose()
    return int(value)


def redis_calls(url: str) -> int:
    import redis

    stats = redis.Redis.from_url(url).info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _collect(proc: subprocess.Popen[bytes], outs: dict[int, bytes]) -> None:
    outs[proc.pid] = proc.communicate()[0]


def tree_cpu(procs: list[subprocess.Popen[bytes]]) -> float:
    """CPU seconds of the processes and everything they start (fork servers, extraction workers,
    writers: not children of ours, so getrusage would miss them), sampled until all exit."""
    last: dict[int, float] = {}
    while any(p.poll() is None for p in procs):
        for proc in procs:
            for pid in [proc.pid, *descendants(proc.pid)]:
                last[pid] = max(last.get(pid, 0.0), cpu_seconds(pid))
        time.sleep(0.2)
    return sum(last.values())


def run_workers(sitemap: str, counts: list[int], settings: list[str], postgres: str, tmp: Path) -> None:
    """N `aggregator worker` processes on one frontier (a private Redis) and one PostgreSQL
    database: pages/s, CPU ms, Redis commands and PostgreSQL transactions per page."""
    idle_exit = 2.0
    print(f"workers on one Redis frontier and one PostgreSQL database ({postgres.rsplit('@', 1)[-1]}):")
    with private_redis(tmp) as frontier:
        for n in counts:
            with private_database(postgres) as db:
                env = {
                    **os.environ,
                    "AGGREGATOR_FRONTIER_PREFIX": f"bench{n}",
                    "AGGREGATOR_ALLOW_PRIVATE": "1",
                }
                cli = [sys.executable, "-m", "aggregator", "--db", db]
                subprocess.run(
                    [*cli, "sources", "add", sitemap, "--kind", "sitemap", "--name", "bench"],
                    check=True,
                    capture_output=True,
                    cwd=ROOT,
                    env=env,
                )
                subprocess.run(
                    [*cli, "crawl", "--all", "--enqueue", "--frontier", frontier],
                    check=True,
                    capture_output=True,
                    cwd=ROOT,
                    env=env,
                )
                time.sleep(1.0)  # PostgreSQL's statistics reach pg_stat_database within a second
                xact, calls = commits(db), redis_calls(frontier)
                cmd = [*cli, "worker", "--frontier", frontier, "--idle-exit", str(idle_exit), "--json"]
                for setting in settings:
                    cmd += ["-s", setting]
                procs = [
                    subprocess.Popen(
                        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
                    )
                    for _ in range(n)
                ]
                outs: dict[int, bytes] = {}
                readers = [threading.Thread(target=_collect, args=(p, outs)) for p in procs]
                for reader in readers:
                    reader.start()
                cpu = tree_cpu(procs)
                for reader in readers:
                    reader.join()
                reports = [json.loads(out.decode().strip().splitlines()[-1]) for out in outs.values()]
                time.sleep(1.0)
                xact, calls = commits(db) - xact, redis_calls(frontier) - calls
                pages = sum(r["pages_fetched"] for r in reports)
                stored = sum(r["new"] for r in reports)
                seconds = max(r["crawl_seconds"] for r in reports) - idle_exit
                print(
                    f"  {n} worker(s): {pages / seconds:7.1f} pages/s ({pages} pages, {stored} stored,"
                    f" {seconds:.1f} s), {1000 * cpu / pages:.1f} CPU ms/page (all processes),"
                    f" {calls / pages:.1f} Redis commands/page, {xact / pages:.3f} PostgreSQL commits/page"
                )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=3000)
    ap.add_argument(
        "--workers",
        default="",
        help="Also crawl with N worker processes on one Redis frontier and PostgreSQL (e.g. 1,2,3).",
    )
    ap.add_argument(
        "--postgres",
        default=os.environ.get(
            "AGGREGATOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    ap.add_argument("--skip-peers", action="store_true", help="Only the workers' figures.")
    ap.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    ap.add_argument("-s", "--set", dest="overrides", action="append", default=[])
    ap.add_argument(
        "--server", choices=["nginx", "python"], default="nginx" if shutil.which("nginx") else "python"
    )
    args = ap.parse_args()
    settings = SETTINGS + args.overrides
    folder = Path(tempfile.mkdtemp(prefix="crawl-bench-"))
    build_site(folder / "site", args.pages)
    py = sys.executable
    results = {}
    server = nginx(folder / "site", folder) if args.server == "nginx" else python_server(folder / "site")
    with server as base_url:
        sitemap = base_url + "/sitemap.xml"
        if args.workers:
            run_workers(sitemap, [int(n) for n in args.workers.split(",")], settings, args.postgres, folder)
        if args.skip_peers:
            return 0
        for kind in ("bare", "naive"):
            out, _wall, peak, _ = run(
                [py, str(ROOT / "benchmarks" / "crawl_peers.py"), kind, sitemap, *settings]
            )
            data = json.loads(out.strip().splitlines()[-1])
            results[kind] = (data["pages"] / data["seconds"], data["pages"], peak, 0.0)
        db = folder / "ours.db"
        aggregator = [py, "-m", "aggregator", "--allow-private", "--db", str(db)]  # a loopback site
        subprocess.run(
            [*aggregator, "sources", "add", sitemap, "--kind", "sitemap", "--name", "bench"],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        cmd = [*aggregator, "crawl", "--all", "--json", "--no-progress"]
        for s in settings:
            cmd += ["-s", s]
        out, _, peak, samples = run(cmd, progress=db)
        summary = json.loads(out.strip().splitlines()[-1])
        results["ours"] = (summary["pages_fetched"] / summary["crawl_seconds"], summary["new"], peak, 0.0)
    print(
        f"{args.pages} generated pages served by {args.server} on {base_url}; settings: {' '.join(settings)}"
    )
    for kind, (rate, count, peak, _) in results.items():
        print(
            f"  {kind:<6} {rate:8.1f} pages/s  ({count} pages{' stored' if kind == 'ours' else ''}),"
            f" peak RSS {peak:.0f} MB{' (download process)' if kind == 'ours' else ''}"
        )
    ours, bare, naive = results["ours"][0], results["bare"][0], results["naive"][0]
    if results["ours"][1] < args.pages:
        # A crawl that stored less than the site holds measured a failure, not a speed.
        print(f"ours stored {results['ours'][1]} of {args.pages} pages: no figure", file=sys.stderr)
        return 1
    print(
        f"ours / bare: {ours / bare:.2f}x (target >= 0.40x);"
        f" ours / naive: {ours / naive:.2f}x (target >= 1.60x)"
    )
    tenth = memory_at(samples, args.pages // 10)
    # The most memory after that point, until the last articles (before the pools shut down).
    later = [x for x in samples if tenth is not None and x.stored >= tenth.stored]
    last = max(later, key=lambda x: x.tree_mb, default=None)
    memory_ok = True
    if tenth is not None and last is not None:
        growth = last.tree_mb - tenth.tree_mb
        memory_ok = growth <= 50
        print(
            "our memory, all processes (PSS of download, fork server, workers, writer):"
            f" {tenth.tree_mb:.0f} MB with {tenth.stored} stored, at most {last.tree_mb:.0f} MB after"
            f" (with {last.stored} stored): {growth:+.0f} MB (target <= +50 MB);"
            f" download process RSS {tenth.main_mb:.0f} -> {last.main_mb:.0f} MB"
        )
    met = ours / bare >= 0.4 and ours / naive >= 1.6 and memory_ok
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
