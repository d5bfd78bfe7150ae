"""Reading what is stored: ``aggregator search``, ``aggregator stories``, ``aggregator feed``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import click

from aggregator.cli._base import (
    EXIT_USAGE,
    Context,
    console,
    date_option,
    fail,
    json_line,
    note,
    output,
    pass_ctx,
)
from aggregator.errors import InvalidQuery

if TYPE_CHECKING:
    from rich.text import Text

    from aggregator.search import SearchHit, SearchQuery
    from aggregator.store import Store

_MARKED = re.compile(r"\[([^\[\]]+)\]")


@click.command()
@click.argument("query", required=False)
@click.option("--tag", help="Only articles with this tag.")
@click.option("--source", help="Only articles from this source.")
@click.option("--section", help="Only articles in this section.")
@click.option("--language", help="Only articles in this language (e.g. en).")
@click.option("--since", "since", metavar="DATE", help="Published on or after DATE (YYYY-MM-DD).")
@click.option("--until", "until", metavar="DATE", help="Published before DATE.")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="Hits shown.")
@click.option("--all-copies", is_flag=True, help="Show every copy of a story, not one hit per story.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines for machines.")
@click.option("--reindex", is_flag=True, help="Rebuild the full-text index (a repair), then search if QUERY.")
@pass_ctx
def search(
    ctx: Context,
    query: str | None,
    tag: str | None,
    source: str | None,
    section: str | None,
    language: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    all_copies: bool,
    as_json: bool,
    reindex: bool,
) -> None:
    """Full-text search: words, "exact phrases", prefix*, -word (or NOT word), OR; AND is implied.
    One hit per story by default."""
    from aggregator.search import SearchQuery

    if not query and not reindex:
        raise click.UsageError("a QUERY is needed (or --reindex)")
    wanted = (
        SearchQuery(
            query,
            tag=tag,
            source=source,
            section=section,
            language=language,
            since=date_option(since),
            until=date_option(until),
            limit=limit,
            all_copies=all_copies,
        )
        if query
        else None
    )
    with ctx.store() as store:
        if reindex:
            note(f"reindexed {store.reindex()} articles")
        hits = _run_search(store, wanted) if wanted is not None else []
    if wanted is None:
        return
    if as_json:
        for hit in hits:
            click.echo(json_line(hit.to_dict()))
        return
    if not hits:
        click.echo(f"no match for {query!r}")
        return
    from rich.table import Table

    table = Table(title=f"{len(hits)} result(s) for {query!r}")
    for column in ("title", "source", "date", "snippet"):
        table.add_column(column, overflow="fold")
    for hit in hits:
        copies = f"\n(+{len(hit.other_copies)} other outlet(s))" if hit.other_copies else ""
        table.add_row(
            hit.title + copies,
            hit.source or "-",
            hit.published.date().isoformat() if hit.published else "-",
            highlighted(hit.snippet),
        )
    console().print(table)


def _run_search(store: Store, query: SearchQuery) -> list[SearchHit]:
    """The search; a query with nothing to look for is a usage error: one line, exit 2."""
    from aggregator.search import search as run_search

    try:
        return run_search(store, query)
    except InvalidQuery as exc:
        fail(str(exc), EXIT_USAGE)


def highlighted(snippet: str) -> Text:
    """A snippet's ``[matched]`` words in bold, as plain text: handed to rich as markup, each
    bracketed word was read as a style tag and vanished from the table."""
    from rich.text import Text

    out = Text()
    last = 0
    for found in _MARKED.finditer(snippet):
        out.append(snippet[last : found.start()])
        out.append(found.group(1), style="bold")
        last = found.end()
    out.append(snippet[last:])
    return out


@click.command()
@click.option("--json", "as_json", is_flag=True, help="JSON lines for machines.")
@click.option(
    "--min-size",
    type=click.IntRange(1),
    default=2,
    show_default=True,
    help="Only stories carried by at least this many articles.",
)
@pass_ctx
def stories(ctx: Context, as_json: bool, min_size: int) -> None:
    """List stories that several articles carry (wire copies, republications) and their outlets."""
    with ctx.store() as store:
        found = store.stories(min_size=min_size)
    if as_json:
        for story in found:
            click.echo(json_line(story.to_dict()))
        return
    if not found:
        click.echo(f"no story has {min_size} or more articles")
        return
    from rich.table import Table

    table = Table(title="Stories carried by several articles")
    for column in ("story", "articles", "outlets"):
        table.add_column(column, overflow="fold")
    for story in found:
        table.add_row(str(story.story_id), str(story.size), "\n".join(m.canonical_url for m in story.members))
    console().print(table)


@click.command()
@click.option("--tag", help="Articles with this tag.")
@click.option("--source", help="Articles from this source.")
@click.option("--query", "text_query", metavar="QUERY", help="Articles matching this search.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["atom", "jsonfeed"]),
    default="atom",
    show_default=True,
    help="Atom 1.0 or JSON Feed 1.1.",
)
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Newest articles kept."
)
@click.option(
    "-o", "--output", "path", default=None, metavar="FILE", help="Write here instead of standard output."
)
@pass_ctx
def feed(
    ctx: Context,
    tag: str | None,
    source: str | None,
    text_query: str | None,
    fmt: str,
    limit: int,
    path: str | None,
) -> None:
    """Write an Atom 1.0 or JSON Feed 1.1 of the newest matching articles (a planet feed)."""
    from aggregator.feedwriter import atom, jsonfeed, planet_title
    from aggregator.search import SearchQuery

    with ctx.store() as store:
        if text_query:
            hits = _run_search(store, SearchQuery(text_query, tag=tag, source=source, limit=limit))
            loaded = store.articles_by_id([h.article_id for h in hits])
            articles = [loaded[h.article_id][0] for h in hits if h.article_id in loaded]
        else:
            articles = store.newest_articles(limit=limit, tag=tag, source=source)
    title, feed_id = planet_title(tag=tag, source=source, query=text_query)
    with output(path) as f:
        f.write(
            atom(articles, title=title, feed_id=feed_id) if fmt == "atom" else jsonfeed(articles, title=title)
        )
