"""``aggregator crawl``: crawl what is due (or named), show progress, and the crawl's report."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from aggregator.cli._base import EXIT_PARTIAL, Context, console, fail, json_line, note, now, pass_ctx

if TYPE_CHECKING:
    from aggregator.outcomes import CrawlReport
    from aggregator.store import SourceInfo


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None] | None]:
    """A progress bar on stderr, fed by the crawl's events (requests, responses, items)."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("stored {task.fields[stored]} · dropped {task.fields[dropped]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console(stderr=True), transient=False) as progress:
        task = progress.add_task("crawling", total=0, stored=0, dropped=0)
        counts = {"scheduled": 0, "response": 0, "item": 0, "dropped": 0}

        def hook(event: str) -> None:
            counts[event] += 1
            progress.update(
                task,
                total=counts["scheduled"],
                completed=counts["response"],
                stored=counts["item"],
                dropped=counts["dropped"],
            )

        yield hook


def report_rows(report: CrawlReport, *, stored_before: int) -> list[tuple[str, int]]:
    """The crawl's report as the table's (label, count) rows."""
    return [
        ("pages fetched", report.pages_fetched),
        ("articles new", report.new),
        ("articles updated", report.updated),
        ("duplicates dropped", report.duplicates),
        ("new copies of a known story", report.joined_story),
        ("duplicate links (not fetched)", report.duplicate_links),
        ("already stored (not fetched)", report.already_stored),
        ("forbidden by robots.txt", report.ignored),
        ("not articles (skipped)", report.not_articles),
        ("sources unchanged (304)", report.not_modified),
        ("page errors", report.page_errors),
        ("source errors", report.source_errors),
        ("articles in database", stored_before + report.new),
    ]


def run_crawl(
    ctx: Context,
    *,
    names: tuple[str, ...] = (),
    everything: bool = False,
    overrides: tuple[str, ...] = (),
    as_json: bool = False,
    show_progress: bool = True,
    frontier: str | None = None,
    enqueue: bool = False,
) -> int:
    """Crawl, print the report (a table, or JSON), and return the exit code."""
    from aggregator.crawl import parse_overrides

    parsed = parse_overrides(overrides)
    if frontier:
        parsed["AGGREGATOR_FRONTIER"] = frontier
    with ctx.store() as store:
        chosen = store.sources_to_crawl(names=names, everything=everything, now=now())
        before = store.count_articles()
    if enqueue:
        return _enqueue(chosen, parsed, as_json=as_json)
    if not chosen:
        note("nothing to crawl: no source is due (use --all or --source NAME)")
        return 0
    from aggregator.crawl import crawl_sources

    err = console(stderr=True)
    with _progress(show_progress and not as_json and ctx.log_format == "text" and err.is_terminal) as hook:
        report = crawl_sources(ctx.db_url, chosen, parsed, progress=hook, log_level=ctx.log_level)
    return show_report(
        report, title=f"Crawl of {len(chosen)} source(s)", stored_before=before, as_json=as_json
    )


def _enqueue(chosen: list[SourceInfo], overrides: dict[str, str], *, as_json: bool) -> int:
    """Put the chosen sources in the shared frontier for its workers (no crawl here)."""
    from aggregator.frontier import frontier_from_options

    frontier = frontier_from_options(overrides, what="crawl --enqueue")
    try:
        frontier.check()
        enqueued = frontier.enqueue([s.as_ref() for s in chosen], now=time.time())
    finally:
        frontier.close()
    in_flight = [s.name for s in chosen if s.name not in enqueued]
    if as_json:
        click.echo(json_line({"enqueued": enqueued, "in_flight": in_flight}))
    else:
        click.echo(
            f"enqueued {len(enqueued)} source(s)"
            + (f": {', '.join(enqueued)}" if enqueued else "")
            + (f"; still in flight: {', '.join(in_flight)}" if in_flight else "")
        )
    return 0


def show_report(report: CrawlReport, *, title: str, stored_before: int, as_json: bool) -> int:
    """Print a crawl's report (a table, or JSON) and return the exit code."""
    from rich.table import Table

    if as_json:
        click.echo(json_line(report.to_dict()))
    else:
        table = Table(title=f"{title} in {report.seconds:.1f}s")
        table.add_column("what")
        table.add_column("count", justify="right")
        for label, value in report_rows(report, stored_before=stored_before):
            table.add_row(label, str(value))
        console().print(table)
    if not report.finished:
        fail(f"crawl stopped early: {report.finish_reason}")
    if report.unstored:
        # The writer died or the database refused a batch after the last page: the crawl ran to
        # its end, but what it fetched is not all stored (the next crawl fetches it again).
        fail(f"{report.unstored} article(s) could not be stored; the next crawl fetches them again")
    if report.failures:
        detail = "; ".join(f"{name}: {reason}" for name, reason in report.failures.items())
        note(f"aggregator: {len(report.failures)} source(s) failed: {detail} (see: aggregator sources list)")
        return EXIT_PARTIAL
    if report.lost_pages:
        click.echo(
            f"aggregator: {report.lost_pages} page(s) were lost (an extraction worker died);"
            " the next crawl fetches them again",
            err=True,
        )
        return EXIT_PARTIAL
    return 0


@click.command()
@click.option("--source", "names", multiple=True, metavar="NAME", help="Crawl this source (repeatable).")
@click.option("--all", "everything", is_flag=True, help="Crawl every enabled source, due or not.")
@click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a Scrapy setting, as scrapy crawl -s does.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option(
    "--frontier",
    metavar="URL",
    envvar="AGGREGATOR_FRONTIER",
    help="Share the crawl's frontier in this Redis (redis://HOST:6379/0) with other workers.",
)
@click.option(
    "--enqueue", is_flag=True, help="Put the sources in the shared frontier for workers; crawl nothing."
)
@pass_ctx
def crawl(
    ctx: Context,
    names: tuple[str, ...],
    everything: bool,
    overrides: tuple[str, ...],
    as_json: bool,
    no_progress: bool,
    frontier: str | None,
    enqueue: bool,
) -> None:
    """Crawl the sources that are due (or those named) and store new articles.

    With --frontier, the sources go into a Redis frontier that any number of crawl processes and
    `aggregator worker`s share (one request queue, one seen-URL filter); this process works on
    it too until it has nothing more for a moment. With --enqueue it only puts them there.
    """
    sys.exit(
        run_crawl(
            ctx,
            names=names,
            everything=everything,
            overrides=overrides,
            as_json=as_json,
            show_progress=not no_progress,
            frontier=frontier,
            enqueue=enqueue,
        )
    )


@click.command()
@click.option(
    "--frontier",
    metavar="URL",
    envvar="AGGREGATOR_FRONTIER",
    help="The shared frontier's Redis (redis://HOST:6379/0); also AGGREGATOR_FRONTIER.",
)
@click.option(
    "--idle-exit",
    type=click.FloatRange(0),
    default=0.0,
    help="Stop once the frontier had nothing for this many seconds (0: run until SIGTERM).",
)
@click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a Scrapy setting, as scrapy crawl -s does.",
)
@click.option("--json", "as_json", is_flag=True, help="Print this worker's report as JSON when it stops.")
@pass_ctx
def worker(
    ctx: Context, frontier: str | None, idle_exit: float, overrides: tuple[str, ...], as_json: bool
) -> None:
    """Work for a shared frontier: crawl what `crawl --enqueue` or other workers put there.

    Run any number, on any machines, against one Redis and one database (PostgreSQL). SIGTERM
    finishes the pages in hand and commits them; a worker that dies leaves its pages to the next
    cycle (see docs/deploy.md).
    """
    from aggregator.crawl import parse_overrides, run_worker

    parsed = parse_overrides(overrides)
    if frontier:
        parsed["AGGREGATOR_FRONTIER"] = frontier
    if idle_exit:
        parsed["AGGREGATOR_WORKER_IDLE_EXIT"] = str(idle_exit)
    with ctx.store() as store:
        before = store.count_articles()
    report = run_worker(ctx.db_url, parsed, log_level=ctx.log_level)
    sys.exit(show_report(report, title="Worker", stored_before=before, as_json=as_json))
