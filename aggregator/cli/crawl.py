"""``aggregator crawl``: crawl what is due (or named), show progress, and the crawl's report."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from aggregator.cli._base import EXIT_PARTIAL, Context, console, fail, json_line, now, pass_ctx

if TYPE_CHECKING:
    from aggregator.outcomes import CrawlReport


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
) -> int:
    """Crawl, print the report (a table, or JSON), and return the exit code."""
    from rich.table import Table

    from aggregator.crawl import crawl_sources, parse_overrides

    parsed = parse_overrides(overrides)
    with ctx.store() as store:
        chosen = store.sources_to_crawl(names=names, everything=everything, now=now())
        before = store.count_articles()
    if not chosen:
        click.echo("nothing to crawl: no source is due (use --all or --source NAME)", err=True)
        return 0
    err = console(stderr=True)
    with _progress(show_progress and not as_json and err.is_terminal) as hook:
        report = crawl_sources(ctx.db_url, chosen, parsed, progress=hook, log_level=ctx.log_level)
    if as_json:
        click.echo(json_line(report.to_dict()))
    else:
        table = Table(title=f"Crawl of {len(chosen)} source(s) in {report.seconds:.1f}s")
        table.add_column("what")
        table.add_column("count", justify="right")
        for label, value in report_rows(report, stored_before=before):
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
        click.echo(
            f"aggregator: {len(report.failures)} source(s) failed: {detail} (see: aggregator sources list)",
            err=True,
        )
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
@pass_ctx
def crawl(
    ctx: Context,
    names: tuple[str, ...],
    everything: bool,
    overrides: tuple[str, ...],
    as_json: bool,
    no_progress: bool,
) -> None:
    """Crawl the sources that are due (or those named) and store new articles."""
    sys.exit(
        run_crawl(
            ctx,
            names=names,
            everything=everything,
            overrides=overrides,
            as_json=as_json,
            show_progress=not no_progress,
        )
    )
