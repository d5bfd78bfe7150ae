"""Sending stored articles elsewhere: ``aggregator export`` (files) and ``aggregator push`` (engines)."""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from aggregator.cli._base import EXIT_PARTIAL, Context, check_urls, fail, json_line, note, output, pass_ctx

FORMATS = ["jsonl", "opensearch", "meilisearch"]
ENGINES = ["opensearch", "meilisearch"]


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="jsonl",
    show_default=True,
    help="jsonl, OpenSearch/Elasticsearch _bulk NDJSON, or Meilisearch NDJSON.",
)
@click.option(
    "--since",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    metavar="CURSOR",
    help="Only what changed after this cursor (0: everything); deletions come as tombstones.",
)
@click.option(
    "-o", "--output", "path", default=None, metavar="FILE", help="Write here instead of standard output."
)
@click.option("--one-per-story", is_flag=True, help="Only the first-stored copy of each story.")
@pass_ctx
def export(ctx: Context, fmt: str, since: int, path: str | None, one_per_story: bool) -> None:
    """Write stored articles (every Article field, aliases, story_urls, id), then the next cursor.

    The next cursor goes to standard error as "next cursor: N"; pass it to --since next time.
    """
    from aggregator.export import ExportFormat, write_changes

    with ctx.store() as store, output(path) as f:
        count, cursor = write_changes(
            store, f, fmt=ExportFormat(fmt), since=since, one_per_story=one_per_story
        )
    target = f" to {path}" if path not in (None, "-") else ""
    note(f"wrote {count} documents{target}; next cursor: {cursor}")


@click.command()
@click.argument("engine", type=click.Choice(ENGINES))
@click.argument("url")
@click.option("--index", default="articles", show_default=True, help="Index name on the engine.")
@click.option(
    "--batch",
    "batch_size",
    type=click.IntRange(1, 10000),
    default=500,
    show_default=True,
    help="Documents per request.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def push(ctx: Context, engine: str, url: str, index: str, batch_size: int, as_json: bool) -> None:
    """Send what changed since the last push to OpenSearch/Elasticsearch or Meilisearch at URL.

    The cursor only moves past documents the engine acknowledged; refused ones are listed and
    sent again next time. Exits 3 when some documents were refused or the engine gave up
    part way, 1 when it could not be reached at all (a refused connection is not retried; other
    failures are retried for at most 20 s per request).
    """
    from aggregator.push import Engine
    from aggregator.push import push as run_push

    check_urls((url,))
    with ctx.store() as store:
        result = run_push(store, Engine(engine), url, index=index, batch_size=batch_size)
    if result.error and not result.sent:  # nothing reached the engine: a failure, not a push
        if as_json:
            click.echo(json_line(asdict(result)))
        fail(f"push to {url} failed: {result.error} (cursor stays at {result.cursor})")
    if as_json:
        click.echo(json_line(asdict(result)))
    else:
        click.echo(f"sent {result.sent}, acknowledged {result.acknowledged}; cursor now {result.cursor}")
        for did, reason in result.failures:
            note(f"refused document {did}: {reason}")
        if result.error:
            note(f"aggregator: push stopped: {result.error}")
    if result.failures or result.error:
        sys.exit(EXIT_PARTIAL)
