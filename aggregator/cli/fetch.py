"""``aggregator fetch``: download pages through Scrapy and print their Articles."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from aggregator.cli._base import Context, check_urls, fail, json_line, note, pass_ctx
from aggregator.model import Article

if TYPE_CHECKING:
    from aggregator.outcomes import Duplicate


@click.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option("--store", "do_store", is_flag=True, help="Also normalize, dedupe and store the articles.")
@click.option(
    "-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Override a Scrapy setting."
)
@pass_ctx
def fetch(ctx: Context, urls: tuple[str, ...], do_store: bool, overrides: tuple[str, ...]) -> None:
    """Download pages (through Scrapy) and print their Articles as JSON lines."""
    from aggregator.crawl import fetch_urls, parse_overrides

    checked = check_urls(urls)
    settings = parse_overrides(overrides)
    if do_store:
        ctx.store().close()  # create or migrate the database before the crawl
    printed = 0

    def emit(article: Article) -> None:
        nonlocal printed
        printed += 1
        click.echo(json_line(article.to_dict()))

    def emit_duplicate(article: Article, outcome: Duplicate) -> None:
        emit(article)
        if outcome.verdict == "unchanged":  # else an alias: the same text under another URL
            note(f"aggregator: {article.url}: unchanged (stored already)")
        else:
            note(f"aggregator: {article.url}: a duplicate of {outcome.of} (not stored again)")

    report = fetch_urls(
        checked,
        db_url=ctx.db_url,
        store=do_store,
        on_item=emit,
        on_duplicate=emit_duplicate,
        overrides=settings,
        log_level=ctx.log_level,
    )
    if printed < len(checked):
        fail(
            f"{len(checked) - printed} of {len(checked)} URLs could not be fetched or read"
            f" ({report.page_errors} download errors)"
        )
