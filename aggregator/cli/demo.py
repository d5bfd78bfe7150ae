"""``aggregator demo``: serve the bundled fixture site, add its sources, crawl it, show the result."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from aggregator.cli._base import Context, console, fail, note, now, pass_ctx
from aggregator.cli.crawl import run_crawl
from aggregator.config import sqlite_path

if TYPE_CHECKING:
    from aggregator.store import Store

#: The demo's preferred port: stable, so a re-run sees the same URLs and stores nothing new.
DEMO_PORT = 8611
#: The fixture site's sources: name, kind, path.
DEMO_SOURCES = (
    ("industry-wire-rss", "feed", "/feeds/rss.xml"),
    ("industry-wire-energy-atom", "feed", "/feeds/atom.xml"),
    ("industry-wire-sitemap", "sitemap", "/sitemap_index.xml"),
)


@click.command()
@click.option(
    "--site",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("fixtures/site"),
    show_default=True,
    help="The folder of pages to serve on 127.0.0.1.",
)
@click.option(
    "--fresh/--keep",
    default=False,
    show_default=True,
    help="Start from an empty database, or keep what earlier demos stored.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEMO_PORT,
    show_default=True,
    help="Port to serve on (a free one if taken). A stable port keeps URLs the same across runs.",
)
@pass_ctx
def demo(ctx: Context, site: Path, fresh: bool, port: int) -> None:
    """Serve the bundled fixture site on 127.0.0.1, add its feeds and sitemap, crawl, summarize.

    Run it twice: the second crawl stores nothing new (articles already stored are not fetched).
    """
    from rich.table import Table

    from aggregator.devserver import serve

    if not (site / "robots.txt").is_file():
        fail(f"{site} is not a fixture site folder (no robots.txt); run from the repository root")
    path = sqlite_path(ctx.db_url)
    if fresh and path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    note(f"database {ctx.db_url}")
    with serve(site, port=port, fallback_to_free=True) as server:
        base = server.base_url
        note(f"serving {site} at {base}")
        with ctx.store() as store:
            _point_sources_at(store, base)
        # The SSRF guard refuses loopback addresses; the demo's own server, and it alone, is allowed.
        host_port = base.split("://", 1)[1].rstrip("/")
        os.environ["AGGREGATOR_ALLOW_HOSTS"] = host_port
        code = run_crawl(ctx, everything=True, overrides=("AUTOTHROTTLE_ENABLED=False",))
    with ctx.store() as store:
        top = store.top_tags(8)
        sample = store.first_article_with_dateline()
    out = console()
    table = Table(title="Top tags")
    table.add_column("tag")
    table.add_column("articles", justify="right")
    for tag, count in top:
        table.add_row(tag, str(count))
    out.print(table)
    if sample is not None:
        out.print("[bold]One stored record[/bold]")
        out.print_json(json.dumps(sample.to_dict(), ensure_ascii=False))
    sys.exit(code)


def _point_sources_at(store: Store, base: str) -> None:
    """Add the fixture site's sources at ``base`` (a demo on another port moves them there)."""
    existing = {s.name: s.url for s in store.list_sources()}
    for name, kind, path in DEMO_SOURCES:
        if existing.get(name) == base + path:
            continue
        if name in existing:
            store.remove_source(name)
        store.add_source(name, kind, base + path, now=now())
        note(f"added {kind} source {name}: {base + path}")
