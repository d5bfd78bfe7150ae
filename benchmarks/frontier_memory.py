"""Frontier memory: peak RSS of a crawl handed a 100k-URL sitemap (issue #14, part 5).

Usage: python benchmarks/frontier_memory.py [--urls 100000] [--pages 2000] [--redis URL]
       [--modes memory,disk,redis] [--code DIR]

Serves one sitemap of URLS article links on 127.0.0.1 (the pages do not exist: each answers 404
at once, so the crawl's cost is the frontier's) and runs ``aggregator crawl`` on it, bounded by
CLOSESPIDER_PAGECOUNT=PAGES, in each mode:
  * memory: every pending request in the crawl process (AGGREGATOR_DISK_QUEUE=False; before #14
    this was the only way);
  * disk: Scrapy's disk queues in a JOBDIR of the crawl's own (the default without a frontier);
  * redis: the shared frontier (``--frontier``), with the Redis server's memory growth too.
Prints the download process's peak RSS for each. ``--code DIR`` runs another checkout's code
(for a before/after comparison: ``git archive REV | tar -x -C DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aggregator.devserver import serve

ROOT = Path(__file__).resolve().parent.parent


def build(folder: Path, urls: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    entries = "".join(f"<url><loc>{{base}}/a/{i}.html</loc></url>" for i in range(urls))
    (folder / "sitemap.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + entries
        + "</urlset>",
        "utf-8",
    )
    (folder / "robots.txt").write_text("User-agent: *\nDisallow:\n", "utf-8")


def peak_rss(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``cmd``; (peak RSS MB of its process, seconds, stdout)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0.0
    while proc.poll() is None:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            pass
        time.sleep(0.05)
    out = proc.stdout.read().decode() if proc.stdout else ""
    return peak, time.monotonic() - started, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", type=int, default=100_000)
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--redis", default=os.environ.get("AGGREGATOR_TEST_REDIS", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--modes", default="memory,disk,redis")
    ap.add_argument("--code", type=Path, default=ROOT, help="The checkout whose code runs.")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="frontier-memory-"))
    build(tmp / "site", args.urls)
    env = {**os.environ, "AGGREGATOR_ALLOW_PRIVATE": "1"}
    env.pop("AGGREGATOR_DB", None)
    settings = [
        "AUTOTHROTTLE_ENABLED=False",
        "CONCURRENT_REQUESTS=32",
        "CONCURRENT_REQUESTS_PER_DOMAIN=32",
        "RETRY_ENABLED=False",
        f"CLOSESPIDER_PAGECOUNT={args.pages}",
        "AGGREGATOR_EXTRACT_WORKERS=1",
    ]
    print(f"a sitemap of {args.urls} URLs, crawl stopped after {args.pages} pages; code: {args.code}")
    with serve(tmp / "site") as server:
        for mode in args.modes.split(","):
            db = tmp / f"{mode}.db"
            aggregator = [sys.executable, "-m", "aggregator", "--db", str(db)]
            subprocess.run(
                [*aggregator, "sources", "add", server.base_url + "/sitemap.xml", "--kind", "sitemap"],
                cwd=args.code,
                env=env,
                check=True,
                capture_output=True,
            )
            cmd = [*aggregator, "crawl", "--all", "--json", "--no-progress"]
            for s in settings:
                cmd += ["-s", s]
            redis_before = 0
            prefix = f"bench-memory-{uuid.uuid4().hex[:8]}"
            if mode == "memory":
                cmd += ["-s", "AGGREGATOR_DISK_QUEUE=False"]
            elif mode == "redis":
                import redis

                client = redis.Redis.from_url(args.redis)
                redis_before = int(client.info("memory")["used_memory"])
                cmd += ["--frontier", args.redis, "-s", f"AGGREGATOR_FRONTIER_PREFIX={prefix}"]
            peak, seconds, out = peak_rss(cmd, args.code, env)
            extra = ""
            if mode == "redis":
                used = (int(client.info("memory")["used_memory_peak"]) - redis_before) / 2**20
                for key in client.scan_iter(f"{prefix}:*"):
                    client.delete(key)
                extra = f"; Redis grew by up to {used:.0f} MB (peak, shared server: approximate)"
            report = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
            print(
                f"  {mode:<6} peak RSS {peak:6.0f} MB, {seconds:5.1f} s,"
                f" {report.get('page_errors', '?')} pages (404){extra}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
