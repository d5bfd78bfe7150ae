"""``aggregator sources``: add, list, remove, import and export the sources crawls visit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from aggregator.cli._base import (
    Context,
    check_urls,
    console,
    fail,
    json_line,
    note,
    now,
    output,
    pass_ctx,
    when,
)
from aggregator.errors import UnreadableFile
from aggregator.model import SourceKind

if TYPE_CHECKING:
    from aggregator.store import SourceInfo

KINDS = [k.value for k in SourceKind]


@click.group()
def sources() -> None:
    """Add, list and remove the feeds, sitemaps and pages that crawls visit."""


@sources.command("add")
@click.argument("url")
@click.option("--name", help="A short unique name (default: host and path of URL).")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    help="What URL is; without it, URL is fetched and a site's feeds and sitemaps are found.",
)
@click.option(
    "--interval",
    type=click.IntRange(60),
    default=3600,
    show_default=True,
    help="Seconds between crawls of this source.",
)
@click.option("--tag", "tags", multiple=True, help="A tag given to every article from this source.")
@click.option(
    "--delay",
    type=click.FloatRange(0),
    default=None,
    metavar="SECONDS",
    help="Seconds between requests to this source's host (default: the global politeness).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1),
    default=None,
    metavar="N",
    help="Requests at once to this source's host (default: CONCURRENT_REQUESTS_PER_DOMAIN).",
)
@click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a Scrapy setting for the discovery fetch.",
)
@pass_ctx
def sources_add(
    ctx: Context,
    url: str,
    name: str | None,
    kind: str | None,
    interval: int,
    tags: tuple[str, ...],
    delay: float | None,
    concurrency: int | None,
    overrides: tuple[str, ...],
) -> None:
    """Add a source. A feed or sitemap URL is added as such; a site page adds the feeds
    (<link rel="alternate">, common paths) and sitemaps (robots.txt, /sitemap.xml) it offers."""
    from aggregator.discover import BrokenFeed, Discovered, DiscoveryFailed
    from aggregator.subscriptions import Added, SourceSpec, add_sources

    check_urls((url,))
    if kind:
        found = [Discovered(SourceKind(kind), url)]
    else:
        from aggregator.crawl import discover, parse_overrides

        results = discover(url, overrides=parse_overrides(overrides), log_level=ctx.log_level)
        failed = [r for r in results if isinstance(r, DiscoveryFailed)]
        if failed:
            fail(f"cannot fetch {url}: {failed[0].reason} (add it with --kind to skip discovery)")
        found = [r for r in results if isinstance(r, Discovered)]
        for broken in (r for r in results if isinstance(r, BrokenFeed)):
            note(f"aggregator: {broken.url} is announced as a feed, but {broken.reason}; not added")
        if not found:
            note(f"aggregator: {url}: no feed or sitemap found; added as a page")
            found = [Discovered(SourceKind.PAGE, url)]
    # A name the user chose names the one source found; several get generated names.
    chosen = (name or "") if len(found) == 1 else ""
    specs = [SourceSpec(url=d.url, kind=d.kind, name=chosen, tags=list(tags)) for d in found]
    with ctx.store() as store:
        outcomes = add_sources(
            store, specs, now=now(), interval=interval, delay=delay, concurrency=concurrency, keep_names=True
        )
    for result in outcomes:
        if isinstance(result, Added):
            info = result.source
            click.echo(f"added {info.kind} source {info.name!r}: {info.url}")
        else:
            click.echo(f"already a source: {result.url}")


@sources.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--interval",
    type=click.IntRange(60),
    default=3600,
    show_default=True,
    help="Seconds between crawls, for sources the file gives none.",
)
@pass_ctx
def sources_import(ctx: Context, path: Path, interval: int) -> None:
    """Import sources from an OPML file (folders and categories become tags) or a TOML file.

    Sources whose URL is already known are left as they are, so re-importing changes nothing.
    """
    from aggregator.subscriptions import Added, add_sources, parse_opml, parse_sources_toml

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(str(path), exc.strerror or str(exc)) from exc
    specs = (
        parse_sources_toml(data.decode("utf-8", "replace"), str(path))
        if path.suffix.lower() == ".toml"
        else parse_opml(data, str(path))
    )
    with ctx.store() as store:
        results = add_sources(store, specs, now=now(), interval=interval)
    added = sum(isinstance(r, Added) for r in results)
    click.echo(f"imported {path}: {added} added, {len(results) - added} already known")


@sources.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["opml", "toml"]),
    default="opml",
    show_default=True,
    help="OPML 2.0, or a TOML sources file (what sources import reads back).",
)
@click.option(
    "-o", "--output", "path", default=None, metavar="FILE", help="Write here instead of standard output."
)
@pass_ctx
def sources_export(ctx: Context, fmt: str, path: str | None) -> None:
    """Write every source as OPML 2.0 (for other feed readers) or as a TOML sources file."""
    from aggregator.subscriptions import to_opml, to_sources_toml

    with ctx.store() as store:
        infos = store.list_sources()
    with output(path) as f:
        f.write(to_opml(infos) if fmt == "opml" else to_sources_toml(infos))


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON lines for machines.")
@pass_ctx
def sources_list(ctx: Context, as_json: bool) -> None:
    """List sources with their state and article counts."""
    with ctx.store() as store:
        infos = store.list_sources()
    if as_json:
        for info in infos:
            click.echo(json_line(info.to_dict()))
        return
    if not infos:
        click.echo("no sources yet; add one with: aggregator sources add URL")
        return
    console().print(_sources_table(infos))


def _sources_table(infos: list[SourceInfo]) -> object:
    from rich.table import Table

    table = Table(title="Sources")
    for column in ("name", "kind", "url", "articles", "last success", "last error", "next due"):
        table.add_column(column, overflow="fold")
    for i in infos:
        table.add_row(
            i.name,
            i.kind,
            i.url,
            str(i.article_count),
            when(i.last_success_at),
            i.last_error or "-",
            when(i.next_due_at) if i.enabled else "disabled",
        )
    return table


@sources.command("remove")
@click.argument("name")
@pass_ctx
def sources_remove(ctx: Context, name: str) -> None:
    """Remove a source (its stored articles stay)."""
    with ctx.store() as store:
        store.remove_source(name)
    click.echo(f"removed source {name!r}")
