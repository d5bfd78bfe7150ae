"""The ``aggregator`` command line.

Exit codes: 0 success; 1 an error (one line on stderr, naming the input); 2 a usage error;
3 a crawl that finished but some sources failed; 4 ``extract`` found no article text.
``--debug`` shows tracebacks instead of one-line errors.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NoReturn
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from aggregator import __version__
from aggregator.errors import AggregatorError, InputError
from aggregator.extract import extract_article
from aggregator.model import Article
from aggregator.store import SourceInfo, Store, default_db_url
from aggregator.store.repository import SOURCE_KINDS, as_db_url

EXIT_ERROR = 1
EXIT_PARTIAL = 3
EXIT_NO_TEXT = 4
#: The demo's preferred port: stable, so a re-run sees the same URLs and stores nothing new.
DEMO_PORT = 8611

err = Console(stderr=True)
out = Console()


class Context:
    def __init__(self, db: str | None, debug: bool, verbose: bool) -> None:
        self.db_url = as_db_url(db) if db else default_db_url()
        self.debug = debug
        self.verbose = verbose

    def store(self) -> Store:
        return Store(self.db_url)

    @property
    def log_level(self) -> str:
        return "DEBUG" if self.debug else ("INFO" if self.verbose else "WARNING")


pass_ctx = click.make_pass_decorator(Context)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.echo(f"aggregator: error: {message}", err=True)
    sys.exit(code)


def _now() -> datetime:
    return datetime.now(UTC)


def _json_line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL|PATH", envvar="AGGREGATOR_DB",
              help="Database: an SQLAlchemy URL or an SQLite file path (default: AGGREGATOR_DB, "
                   "else ~/.local/share/aggregator/aggregator.db).")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's informational logs.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log lines as text, or one JSON object per event (for log collectors).")
@click.version_option(__version__, prog_name="aggregator")
@click.pass_context
def cli(ctx: click.Context, db: str | None, debug: bool, verbose: bool, log_format: str) -> None:
    """Collect industry news: crawl publishers, extract clean articles, drop duplicates, store them."""
    ctx.obj = Context(db, debug, verbose)
    if debug or log_format == "json":
        from aggregator.scheduler import JsonFormatter

        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter() if log_format == "json"
                             else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=[handler])


# --- extract ---------------------------------------------------------------------------------

@cli.command()
@click.argument("path", metavar="PATH|-")
@click.option("--url", default=None, help="The page's address (resolves links, picks site rules).")
@click.option("--compact", is_flag=True, help="One line of JSON instead of indented JSON.")
def extract(path: str, url: str | None, compact: bool) -> None:
    """Print the Article extracted from a saved page (PATH, or - for standard input) as JSON.

    Exits 4 when the page has no article text (the record is still printed).
    """
    if path == "-":
        data = sys.stdin.buffer.read()
        url = url or "file:///dev/stdin"
    else:
        file = Path(path)
        try:
            data = file.read_bytes()
        except IsADirectoryError:
            fail(f"cannot read {path}: it is a directory")
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror or exc}")
        url = url or file.resolve().as_uri()
    article = extract_article(data, url)
    click.echo(json.dumps(article.to_dict(), ensure_ascii=False, indent=None if compact else 2))
    if not article.text:
        click.echo(f"aggregator: {path}: no article text found ({article.page_type} page)", err=True)
        sys.exit(EXIT_NO_TEXT)


# --- fetch -----------------------------------------------------------------------------------

def _check_urls(urls: tuple[str, ...]) -> list[str]:
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(f"not an http(s) URL: {url!r}")
    return list(urls)


@cli.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option("--store", "do_store", is_flag=True, help="Also normalize, dedupe and store the articles.")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Override a Scrapy setting.")
@pass_ctx
def fetch(ctx: Context, urls: tuple[str, ...], do_store: bool, overrides: tuple[str, ...]) -> None:
    """Download pages (through Scrapy) and print their Articles as JSON lines."""
    from aggregator.crawl import fetch_urls, parse_overrides

    checked = _check_urls(urls)
    if do_store:
        ctx.store().close()  # create or migrate the database before the crawl
    printed = 0

    def emit(article: Article) -> None:
        nonlocal printed
        printed += 1
        click.echo(_json_line(article.to_dict()))

    summary = fetch_urls(checked, db_url=ctx.db_url, store=do_store, on_item=emit,
                         overrides=parse_overrides(overrides), log_level=ctx.log_level)
    if printed < len(checked):
        fail(f"{len(checked) - printed} of {len(checked)} URLs could not be fetched or read"
             f" ({summary.page_errors} download errors)")


# --- sources ---------------------------------------------------------------------------------

@cli.group()
def sources() -> None:
    """Add, list and remove the feeds, sitemaps and pages that crawls visit."""


def guess_kind(url: str) -> str:
    """A source kind from the URL's shape (``--kind`` overrides it)."""
    path = urlsplit(url).path.lower()
    if "sitemap" in path:
        return "sitemap"
    name = path.rsplit("/", 1)[-1]
    if name.endswith((".rss", ".atom", ".rdf")) or any(w in path for w in ("feed", "rss", "atom")):
        return "feed"
    if name.endswith(".xml") or (name.endswith(".json") and "feed" in name):
        return "feed"
    return "page"


def default_name(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.strip("/").replace("/", "-")
    return f"{parts.netloc}{'/' + path if path else ''}"


@sources.command("add")
@click.argument("url")
@click.option("--name", help="A short unique name (default: host and path of URL).")
@click.option("--kind", type=click.Choice(SOURCE_KINDS),
              help="What URL is; without it, URL is fetched and a site's feeds and sitemaps are found.")
@click.option("--interval", type=click.IntRange(60), default=3600, show_default=True,
              help="Seconds between crawls of this source.")
@click.option("--tag", "tags", multiple=True, help="A tag given to every article from this source.")
@click.option("--delay", type=click.FloatRange(0), default=None, metavar="SECONDS",
              help="Seconds between requests to this source's host (default: the global politeness).")
@click.option("--concurrency", type=click.IntRange(1), default=None, metavar="N",
              help="Requests at once to this source's host (default: CONCURRENT_REQUESTS_PER_DOMAIN).")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Override a Scrapy setting for the discovery fetch.")
@pass_ctx
def sources_add(ctx: Context, url: str, name: str | None, kind: str | None, interval: int,
                tags: tuple[str, ...], delay: float | None, concurrency: int | None,
                overrides: tuple[str, ...]) -> None:
    """Add a source. A feed or sitemap URL is added as such; a site page adds the feeds
    (<link rel="alternate">, common paths) and sitemaps (robots.txt, /sitemap.xml) it offers."""
    _check_urls((url,))
    store = ctx.store()
    if kind:
        found = [{"kind": kind, "url": url, "title": ""}]
    else:
        from aggregator.crawl import discover, parse_overrides

        found = discover(url, overrides=parse_overrides(overrides), log_level=ctx.log_level)
        errors = [item for item in found if item["kind"] == "error"]
        if errors:
            fail(f"cannot fetch {url}: {errors[0]['title']} (add it with --kind to skip discovery)")
        if not found:
            click.echo(f"aggregator: {url}: no feed or sitemap found; added as a page", err=True)
            found = [{"kind": "page", "url": url, "title": ""}]
    known = {s.url for s in store.list_sources()}
    for item in found:
        if item["url"] in known:
            click.echo(f"already a source: {item['url']}")
            continue
        # A name the user chose must be free; a generated one is made unique.
        source_name = name if len(found) == 1 and name else _unique_name(store, default_name(item["url"]))
        info = store.add_source(source_name, item["kind"], item["url"], now=_now(), interval_seconds=interval,
                                tags=tags, delay=delay, concurrency=concurrency)
        click.echo(f"added {info.kind} source {info.name!r}: {info.url}")


def _unique_name(store: Store, name: str) -> str:
    taken = {s.name for s in store.list_sources()}
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


@sources.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--interval", type=click.IntRange(60), default=3600, show_default=True,
              help="Seconds between crawls, for sources the file gives none.")
@pass_ctx
def sources_import(ctx: Context, path: Path, interval: int) -> None:
    """Import sources from an OPML file (folders and categories become tags) or a TOML file.

    Sources whose URL is already known are left as they are, so re-importing changes nothing.
    """
    from aggregator.opml import parse_opml, parse_sources_toml

    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    specs = (parse_sources_toml(data.decode("utf-8", "replace"), str(path)) if path.suffix.lower() == ".toml"
             else parse_opml(data, str(path)))
    store = ctx.store()
    known = {s.url for s in store.list_sources()}
    added = 0
    for spec in specs:
        if spec.url in known:
            continue
        known.add(spec.url)
        store.add_source(_unique_name(store, spec.name or default_name(spec.url)), spec.kind or guess_kind(spec.url),
                         spec.url, now=_now(), interval_seconds=spec.interval_seconds or interval, tags=spec.tags)
        added += 1
    click.echo(f"imported {path}: {added} added, {len(specs) - added} already known")


@sources.command("export")
@click.option("--format", "fmt", type=click.Choice(["opml", "toml"]), default="opml", show_default=True)
@click.option("-o", "--output", default=None, metavar="FILE", help="Write here instead of standard output.")
@pass_ctx
def sources_export(ctx: Context, fmt: str, output: str | None) -> None:
    """Write every source as OPML 2.0 (for other feed readers) or as a TOML sources file."""
    from aggregator.opml import to_opml

    infos = ctx.store().list_sources()
    with _output(output) as f:
        if fmt == "opml":
            f.write(to_opml([(s.name, s.kind, s.url, s.tags) for s in infos]))
        else:
            for s in infos:
                f.write(f"[[source]]\nname = {json.dumps(s.name)}\nkind = {json.dumps(s.kind)}\n"
                        f"url = {json.dumps(s.url)}\ninterval = {s.interval_seconds}\n"
                        f"tags = {json.dumps(s.tags, ensure_ascii=False)}\n\n")


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON lines for machines.")
@pass_ctx
def sources_list(ctx: Context, as_json: bool) -> None:
    """List sources with their state and article counts."""
    infos = ctx.store().list_sources()
    if as_json:
        for info in infos:
            click.echo(_json_line(info.to_dict()))
        return
    if not infos:
        click.echo("no sources yet; add one with: aggregator sources add URL")
        return
    out.print(_sources_table(infos))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _sources_table(infos: list[SourceInfo]) -> Table:
    table = Table(title="Sources")
    for column in ("name", "kind", "url", "articles", "last success", "last error", "next due"):
        table.add_column(column, overflow="fold")
    for i in infos:
        table.add_row(i.name, i.kind, i.url, str(i.article_count), _when(i.last_success_at),
                      i.last_error or "-", _when(i.next_due_at) if i.enabled else "disabled")
    return table


@sources.command("remove")
@click.argument("name")
@pass_ctx
def sources_remove(ctx: Context, name: str) -> None:
    """Remove a source (its stored articles stay)."""
    ctx.store().remove_source(name)
    click.echo(f"removed source {name!r}")


# --- crawl -----------------------------------------------------------------------------------

@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None] | None]:
    if not enabled:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("stored {task.fields[stored]} · dropped {task.fields[dropped]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("crawling", total=0, stored=0, dropped=0)
        counts = {"scheduled": 0, "response": 0, "item": 0, "dropped": 0}

        def hook(event: str) -> None:
            counts[event] += 1
            progress.update(task, total=counts["scheduled"], completed=counts["response"],
                            stored=counts["item"], dropped=counts["dropped"])

        yield hook


def run_crawl(ctx: Context, names: tuple[str, ...], everything: bool, overrides: tuple[str, ...],
              as_json: bool, show_progress: bool) -> int:
    from aggregator.crawl import crawl_sources, parse_overrides

    parsed = parse_overrides(overrides)
    store = ctx.store()
    if names:
        chosen = store.list_sources(names)
    elif everything:
        chosen = [s for s in store.list_sources() if s.enabled]
    else:
        chosen = store.due_sources(_now())
    before = store.count_articles()
    store.close()
    if not chosen:
        click.echo("nothing to crawl: no source is due (use --all or --source NAME)", err=True)
        return 0
    with _progress(show_progress and not as_json and err.is_terminal) as hook:
        summary = crawl_sources(ctx.db_url, chosen, parsed, progress=hook, log_level=ctx.log_level)
    if as_json:
        click.echo(_json_line(summary.to_dict()))
    else:
        table = Table(title=f"Crawl of {len(chosen)} source(s) in {summary.seconds:.1f}s")
        table.add_column("what")
        table.add_column("count", justify="right")
        for label, value in (("pages fetched", summary.pages_fetched), ("articles new", summary.new),
                             ("articles updated", summary.updated),
                             ("duplicates dropped", summary.duplicates),
                             ("new copies of a known story", summary.joined_story),
                             ("duplicate links (not fetched)", summary.duplicate_links),
                             ("already stored (not fetched)", summary.already_stored),
                             ("forbidden by robots.txt", summary.ignored),
                             ("not articles (skipped)", summary.not_articles),
                             ("page errors", summary.page_errors),
                             ("source errors", summary.source_errors),
                             ("articles in database", before + summary.new)):
            table.add_row(label, str(value))
        out.print(table)
    if summary.finish_reason not in ("finished", ""):
        fail(f"crawl stopped early: {summary.finish_reason}")
    if summary.failed_sources:
        click.echo(f"aggregator: {len(summary.failed_sources)} source(s) failed: "
                   f"{', '.join(summary.failed_sources)} (see: aggregator sources list)", err=True)
        return EXIT_PARTIAL
    return 0


@cli.command()
@click.option("--source", "names", multiple=True, metavar="NAME", help="Crawl this source (repeatable).")
@click.option("--all", "everything", is_flag=True, help="Crawl every enabled source, due or not.")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Override a Scrapy setting, as scrapy crawl -s does.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@pass_ctx
def crawl(ctx: Context, names: tuple[str, ...], everything: bool, overrides: tuple[str, ...],
          as_json: bool, no_progress: bool) -> None:
    """Crawl the sources that are due (or those named) and store new articles."""
    sys.exit(run_crawl(ctx, names, everything, overrides, as_json, not no_progress))


# --- stories ---------------------------------------------------------------------------------

@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON lines for machines.")
@click.option("--min-size", type=click.IntRange(1), default=2, show_default=True,
              help="Only stories carried by at least this many articles.")
@pass_ctx
def stories(ctx: Context, as_json: bool, min_size: int) -> None:
    """List stories that several articles carry (wire copies, republications) and their outlets."""
    store = ctx.store()
    found = store.stories(min_size=min_size)
    if as_json:
        for story_id, size in found:
            members = [{"url": u, "source": src, "site_name": site} for u, src, site in store.story_members(story_id)]
            click.echo(_json_line({"story_id": story_id, "size": size, "articles": members}))
        return
    if not found:
        click.echo(f"no story has {min_size} or more articles")
        return
    table = Table(title="Stories carried by several articles")
    for column in ("story", "articles", "outlets"):
        table.add_column(column, overflow="fold")
    for story_id, size in found:
        urls = [u for u, _, _ in store.story_members(story_id)]
        table.add_row(str(story_id), str(size), "\n".join(urls))
    out.print(table)


# --- schedule and status ---------------------------------------------------------------------

@cli.command()
@click.option("--once", is_flag=True, help="Crawl what is due, then exit (for cron and systemd timers).")
@click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Override a Scrapy setting for every crawl.")
@click.option("--grace", type=click.FloatRange(1), default=60.0, show_default=True,
              help="Seconds a stopping crawl gets to finish its articles in flight.")
@pass_ctx
def schedule(ctx: Context, once: bool, overrides: tuple[str, ...], grace: float) -> None:
    """Crawl sources as they fall due, until SIGINT/SIGTERM (a second signal stops at once).

    One scheduler per database; a second one refuses to start. Logs one line per event
    (--log-format json for JSON). Exits 0 after a clean stop.
    """
    from aggregator.crawl import parse_overrides
    from aggregator.scheduler import Scheduler

    parse_overrides(overrides)  # refuse a malformed -s before starting
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(Scheduler(ctx.db_url, overrides=list(overrides), grace=grace).run(once=once))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object for machines.")
@click.option("--runs", type=click.IntRange(1, 100), default=5, show_default=True, help="Recent runs shown.")
@pass_ctx
def status(ctx: Context, as_json: bool, runs: int) -> None:
    """Recent crawl runs, failing sources, what falls due next, and whether a scheduler runs."""
    from aggregator.scheduler import LOCK_NAME

    store = ctx.store()
    infos = store.list_sources()
    failing = [s for s in infos if s.error_count or not s.enabled]
    upcoming = sorted((s for s in infos if s.enabled and s.next_due_at), key=lambda s: s.next_due_at or _now())
    holder = store.lock_holder(LOCK_NAME)
    data: dict[str, Any] = {
        "scheduler": {"owner": holder[0], "heartbeat_at": holder[1].isoformat()} if holder else None,
        "runs": store.recent_runs(runs),
        "failing": [{"name": s.name, "url": s.url, "last_error": s.last_error, "errors": s.error_count,
                     "enabled": s.enabled} for s in failing],
        "next_due": [{"name": s.name, "next_due_at": s.next_due_at.isoformat() if s.next_due_at else None}
                     for s in upcoming[:10]],
        "articles": store.count_articles(),
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"scheduler: {'running as ' + holder[0] if holder else 'not running'}; "
               f"{data['articles']} articles stored")
    table = Table(title="Recent runs")
    for column in ("id", "started", "status", "sources", "pages", "new", "updated", "dupes", "errors"):
        table.add_column(column)
    for r in data["runs"]:
        table.add_row(str(r["id"]), r["started_at"][:19], r["status"], str(len(r["sources"])),
                      str(r["pages_fetched"]), str(r["new"]), str(r["updated"]), str(r["duplicates"]), str(r["errors"]))
    out.print(table)
    if failing:
        fail_table = Table(title="Failing sources")
        for column in ("name", "errors", "last error", "state"):
            fail_table.add_column(column, overflow="fold")
        for s in failing:
            fail_table.add_row(s.name, str(s.error_count), s.last_error or "-", "enabled" if s.enabled else "disabled")
        out.print(fail_table)
    due_table = Table(title="Next due")
    due_table.add_column("source")
    due_table.add_column("due")
    for s in upcoming[:10]:
        due_table.add_row(s.name, _when(s.next_due_at))
    out.print(due_table)


# --- export ----------------------------------------------------------------------------------

@contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    """Standard output, or a file written atomically (a reader never sees half a file)."""
    if path is None or path == "-":
        yield sys.stdout
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=".export-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yield f
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "opensearch", "meilisearch"]), default="jsonl",
              show_default=True, help="jsonl, OpenSearch/Elasticsearch _bulk NDJSON, or Meilisearch NDJSON.")
@click.option("--since", type=click.IntRange(0), default=0, show_default=True, metavar="CURSOR",
              help="Only what changed after this cursor (0: everything); deletions come as tombstones.")
@click.option("-o", "--output", default=None, metavar="FILE", help="Write here instead of standard output.")
@click.option("--one-per-story", is_flag=True, help="Only the first-stored copy of each story.")
@pass_ctx
def export(ctx: Context, fmt: str, since: int, output: str | None, one_per_story: bool) -> None:
    """Write stored articles (every Article field, aliases, story_urls, id), then the next cursor.

    The next cursor goes to standard error as "next cursor: N"; pass it to --since next time.
    """
    from aggregator.export import write_changes

    store = ctx.store()
    with _output(output) as f:
        count, cursor = write_changes(store, f, fmt=fmt, since=since, one_per_story=one_per_story)
    target = f" to {output}" if output not in (None, "-") else ""
    click.echo(f"wrote {count} documents{target}; next cursor: {cursor}", err=True)


@cli.command()
@click.argument("engine", type=click.Choice(["opensearch", "meilisearch"]))
@click.argument("url")
@click.option("--index", default="articles", show_default=True, help="Index name on the engine.")
@click.option("--batch", "batch_size", type=click.IntRange(1, 10000), default=500, show_default=True,
              help="Documents per request.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def push(ctx: Context, engine: str, url: str, index: str, batch_size: int, as_json: bool) -> None:
    """Send what changed since the last push to OpenSearch/Elasticsearch or Meilisearch at URL.

    The cursor only moves past documents the engine acknowledged; refused ones are listed and
    sent again next time. Exits 3 when some documents were refused or the engine gave up.
    """
    from aggregator.push import push as run_push

    _check_urls((url,))
    result = run_push(ctx.store(), engine, url, index=index, batch_size=batch_size)
    if as_json:
        click.echo(_json_line(result.__dict__))
    else:
        click.echo(f"sent {result.sent}, acknowledged {result.acknowledged}; cursor now {result.cursor}")
        for did, reason in result.failures:
            click.echo(f"refused document {did}: {reason}", err=True)
        if result.error:
            click.echo(f"aggregator: push stopped: {result.error}", err=True)
    if result.failures or result.error:
        sys.exit(EXIT_PARTIAL)


# --- search ----------------------------------------------------------------------------------

def _date_option(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"not an ISO date: {value!r} (use YYYY-MM-DD)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@cli.command()
@click.argument("query", required=False)
@click.option("--tag", help="Only articles with this tag.")
@click.option("--source", help="Only articles from this source.")
@click.option("--section", help="Only articles in this section.")
@click.option("--language", help="Only articles in this language (e.g. en).")
@click.option("--since", "since", metavar="DATE", help="Published on or after DATE (YYYY-MM-DD).")
@click.option("--until", "until", metavar="DATE", help="Published before DATE.")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--all-copies", is_flag=True, help="Show every copy of a story, not one hit per story.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines for machines.")
@click.option("--reindex", is_flag=True, help="Rebuild the full-text index (a repair), then search if QUERY.")
@pass_ctx
def search(ctx: Context, query: str | None, tag: str | None, source: str | None, section: str | None,
           language: str | None, since: str | None, until: str | None, limit: int, all_copies: bool,
           as_json: bool, reindex: bool) -> None:
    """Full-text search: words, "exact phrases", prefix*; one hit per story by default."""
    from aggregator.search import SearchQuery
    from aggregator.search import search as run_search

    store = ctx.store()
    if reindex:
        click.echo(f"reindexed {store.reindex()} articles", err=True)
        if not query:
            return
    if not query:
        raise click.UsageError("a QUERY is needed (or --reindex)")
    hits = run_search(store, SearchQuery(query, tag=tag, source=source, section=section, language=language,
                                         since=_date_option(since), until=_date_option(until), limit=limit,
                                         all_copies=all_copies))
    if as_json:
        for hit in hits:
            click.echo(_json_line(hit.to_dict()))
        return
    if not hits:
        click.echo(f"no match for {query!r}")
        return
    table = Table(title=f"{len(hits)} result(s) for {query!r}")
    for column in ("title", "source", "date", "snippet"):
        table.add_column(column, overflow="fold")
    for hit in hits:
        copies = f"\n(+{len(hit.other_copies)} other outlet(s))" if hit.other_copies else ""
        table.add_row(hit.title + copies, hit.source or "-", hit.published.date().isoformat() if hit.published else "-",
                      hit.snippet)
    out.print(table)


# --- feed ------------------------------------------------------------------------------------

@cli.command()
@click.option("--tag", help="Articles with this tag.")
@click.option("--source", help="Articles from this source.")
@click.option("--query", "text_query", metavar="QUERY", help="Articles matching this search.")
@click.option("--format", "fmt", type=click.Choice(["atom", "jsonfeed"]), default="atom", show_default=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("-o", "--output", default=None, metavar="FILE", help="Write here instead of standard output.")
@pass_ctx
def feed(ctx: Context, tag: str | None, source: str | None, text_query: str | None, fmt: str, limit: int,
         output: str | None) -> None:
    """Write an Atom 1.0 or JSON Feed 1.1 of the newest matching articles (a planet feed)."""
    from aggregator.feedwriter import atom, jsonfeed
    from aggregator.search import SearchQuery
    from aggregator.search import search as run_search

    store = ctx.store()
    if text_query:
        hits = run_search(store, SearchQuery(text_query, tag=tag, source=source, limit=limit))
        loaded = store.articles_by_id([h.article_id for h in hits])
        articles = [loaded[h.article_id][0] for h in hits if h.article_id in loaded]
    else:
        articles = store.newest_articles(limit=limit, tag=tag, source=source)
    what = " ".join(f"{k} {v}" for k, v in (("tag", tag), ("source", source), ("query", text_query)) if v)
    title = f"Industry news: {what}" if what else "Industry news"
    with _output(output) as f:
        f.write(atom(articles, title=title, feed_id=f"urn:aggregator:{what or 'all'}".replace(" ", ":"))
                if fmt == "atom" else jsonfeed(articles, title=title))


# --- demo ------------------------------------------------------------------------------------

@cli.command()
@click.option("--site", type=click.Path(file_okay=False, path_type=Path), default=Path("fixtures/site"),
              show_default=True, help="The folder of pages to serve on 127.0.0.1.")
@click.option("--fresh/--keep", default=False, show_default=True,
              help="Start from an empty database, or keep what earlier demos stored.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEMO_PORT, show_default=True,
              help="Port to serve on (a free one if taken). A stable port keeps URLs the same across runs.")
@pass_ctx
def demo(ctx: Context, site: Path, fresh: bool, port: int) -> None:
    """Serve the bundled fixture site on 127.0.0.1, add its feeds and sitemap, crawl, summarize.

    Run it twice: the second crawl stores nothing new (articles already stored are not fetched).
    """
    from aggregator.devserver import serve

    if not (site / "robots.txt").is_file():
        fail(f"{site} is not a fixture site folder (no robots.txt); run from the repository root")
    if fresh and ctx.db_url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(ctx.db_url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    err.print(f"[bold]database[/bold] {ctx.db_url}")
    with serve(site, port=port, fallback_to_free=True) as server:
        base = server.base_url
        err.print(f"[bold]serving[/bold] {site} at {base}")
        store = ctx.store()
        existing = {s.name: s.url for s in store.list_sources()}
        for name, kind, path in (("industry-wire-rss", "feed", "/feeds/rss.xml"),
                                 ("industry-wire-energy-atom", "feed", "/feeds/atom.xml"),
                                 ("industry-wire-sitemap", "sitemap", "/sitemap_index.xml")):
            if existing.get(name) == base + path:
                continue
            if name in existing:
                store.remove_source(name)
            store.add_source(name, kind, base + path, now=_now(), tags=())
            click.echo(f"added {kind} source {name}: {base + path}", err=True)
        store.close()
        code = run_crawl(ctx, (), True, ("AUTOTHROTTLE_ENABLED=False",), False, True)
    store = ctx.store()
    table = Table(title="Top tags")
    table.add_column("tag")
    table.add_column("articles", justify="right")
    for tag, count in store.top_tags(8):
        table.add_row(tag, str(count))
    out.print(table)
    sample = next((a for a, _ in store.iter_articles() if a.dateline), None)
    if sample is not None:
        out.print("[bold]One stored record[/bold]")
        out.print_json(json.dumps(sample.to_dict(), ensure_ascii=False))
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning expected errors into one line and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="aggregator", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except AggregatorError as exc:
        if debug:
            raise
        fail(str(exc))
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:
        if debug:
            raise
        fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")


if __name__ == "__main__":
    main()
