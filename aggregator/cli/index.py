"""``aggregator index``: the full-text index beside the database (aggregator.textindex)."""

from __future__ import annotations

import click

from aggregator.cli._base import Context, console, fail, json_line, note, pass_ctx


@click.group()
def index() -> None:
    """The search index kept beside the database (--search-index DIR / AGGREGATOR_SEARCH_INDEX)."""


@index.command("sync")
@click.option("--rebuild", is_flag=True, help="Empty the index first and index every article again.")
@click.option("--json", "as_json", is_flag=True, help="A JSON line for machines.")
@pass_ctx
def sync(ctx: Context, rebuild: bool, as_json: bool) -> None:
    """Apply the database's changes to the index (all of them with --rebuild), with progress.

    Searches catch up by themselves when the index is a little behind; run this after a bulk
    import, on a timer, or to build the index the first time."""
    from aggregator.store import Store
    from aggregator.textindex import TextIndex

    if not ctx.search_index:
        fail("no search index: give --search-index DIR (or set AGGREGATOR_SEARCH_INDEX)", 2)
    with Store(ctx.db_url) as store:
        target = TextIndex(ctx.search_index, ctx.db_url, rebuild=rebuild)
        behind = max(0, store.last_change() - target.cursor)
        if behind == 0 or as_json:
            result = target.sync(store)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            columns = (TextColumn("indexing changes"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console(stderr=True)) as progress:
                task = progress.add_task("sync", total=behind)
                result = target.sync(
                    store, progress=lambda done, _total: progress.update(task, completed=done)
                )
    if as_json:
        click.echo(
            json_line(
                {
                    "indexed": result.indexed,
                    "removed": result.removed,
                    "cursor": result.cursor,
                    "seconds": round(result.seconds, 3),
                    "index": str(target.path),
                }
            )
        )
        return
    note(
        f"search index {target.path}: {result.indexed} article(s) indexed, {result.removed} removed,"
        f" up to change {result.cursor} ({result.seconds:.1f} s)"
    )
