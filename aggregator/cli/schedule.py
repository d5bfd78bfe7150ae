"""``aggregator schedule`` and ``aggregator status``: crawling unattended, and how it is going."""

from __future__ import annotations

import json
import sys

import click

from aggregator.cli._base import Context, console, pass_ctx, when


@click.command()
@click.option("--once", is_flag=True, help="Crawl what is due, then exit (for cron and systemd timers).")
@click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a Scrapy setting for every crawl.",
)
@click.option(
    "--grace",
    type=click.FloatRange(1),
    default=60.0,
    show_default=True,
    help="Seconds a stopping crawl gets to finish its articles in flight.",
)
@click.option(
    "--frontier",
    metavar="URL",
    envvar="AGGREGATOR_FRONTIER",
    help="Put due sources in this shared frontier (redis://HOST:6379/0) for `aggregator worker`s.",
)
@pass_ctx
def schedule(
    ctx: Context, once: bool, overrides: tuple[str, ...], grace: float, frontier: str | None
) -> None:
    """Crawl sources as they fall due, until SIGINT/SIGTERM (a second signal stops at once).

    One scheduler per database; a second one refuses to start (a killed one's lock is free at
    once). Logs one line per event (--log-format json for JSON). Exits 0 after a clean stop;
    with --once, the crawl's exit code when it failed (1, or 3 when some sources failed). With
    --frontier it crawls nothing itself: due sources go to the workers (a source still in flight
    is not sent twice).
    """
    from aggregator.crawl import parse_overrides
    from aggregator.logs import configure
    from aggregator.scheduler import Scheduler

    parse_overrides(overrides)  # refuse a bad -s before starting
    configure(level=ctx.log_level, json_lines=ctx.log_format == "json", timestamps=True)
    scheduler = Scheduler(
        ctx.db_url, overrides=list(overrides), log_options=ctx.log_options, grace=grace, frontier=frontier
    )
    sys.exit(scheduler.run(once=once))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object for machines.")
@click.option("--runs", type=click.IntRange(1, 100), default=5, show_default=True, help="Recent runs shown.")
@pass_ctx
def status(ctx: Context, as_json: bool, runs: int) -> None:
    """Recent crawl runs, failing sources, what falls due next, and whether a scheduler runs."""
    from rich.table import Table

    from aggregator.scheduler import LOCK_NAME
    from aggregator.status import gather_status

    with ctx.store() as store:
        state = gather_status(store, runs=runs, lock=LOCK_NAME)
    if as_json:
        click.echo(json.dumps(state.to_dict(), ensure_ascii=False))
        return
    held = state.scheduler
    if held is None:
        running = "not running"
    elif held.live:
        running = f"running as {held.owner}"
    else:  # the row outlived its holder's kernel lock: it died without releasing
        running = f"not running ({held.owner} stopped uncleanly, last seen {when(held.heartbeat_at)})"
    click.echo(f"scheduler: {running}; {state.articles} articles stored")
    out = console()
    table = Table(title="Recent runs")
    for column in (
        "id",
        "started",
        "status",
        "sources",
        "pages",
        "new",
        "updated",
        "dupes",
        "errors",
        "failed",
    ):
        table.add_column(column, overflow="fold")
    for r in state.runs:
        t = r.totals
        table.add_row(
            str(r.id),
            when(r.started_at),
            r.status,
            str(len(r.sources)),
            str(t.pages_fetched),
            str(t.new),
            str(t.updated),
            str(t.duplicates),
            str(t.errors),
            "\n".join(f"{name}: {reason}" for name, reason in t.failures.items()) or "-",
        )
    out.print(table)
    if state.failing:
        failing = Table(title="Failing sources")
        for column in ("name", "errors", "last error", "state"):
            failing.add_column(column, overflow="fold")
        for s in state.failing:
            failing.add_row(
                s.name, str(s.error_count), s.last_error or "-", "enabled" if s.enabled else "disabled"
            )
        out.print(failing)
    due = Table(title="Next due")
    due.add_column("source")
    due.add_column("due")
    for s in state.next_due:
        due.add_row(s.name, when(s.next_due_at))
    out.print(due)
