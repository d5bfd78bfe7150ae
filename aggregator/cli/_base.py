"""What every command shares: the top-level group and its options, the per-invocation context,
one-line errors and exit codes, output helpers.

Imports stay light here (click only): rich, the store and everything else are imported by the
commands that use them, so ``aggregator --help`` starts in a fraction of a second.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

import click

from aggregator import __version__
from aggregator.config import check_db_url, default_db_url
from aggregator.errors import AggregatorError, InvalidDate, InvalidURL, UnwritableFile, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from aggregator.store import Store

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_NO_TEXT = 4


class Context:
    """What the top-level options say, for every command of one invocation."""

    def __init__(
        self,
        db: str | None,
        *,
        debug: bool,
        verbose: bool,
        log_format: str = "text",
        search_index: str | None = None,
    ) -> None:
        self.debug = debug
        #: The folder of the search index beside the database (aggregator.textindex), if any.
        self.search_index = search_index
        self.verbose = verbose
        self.log_format = log_format
        self.db_url = check_db_url(db) if db else default_db_url()

    @property
    def log_options(self) -> list[str]:
        """The top-level options that shape log output, for a child ``aggregator`` process."""
        return [
            "--log-format",
            self.log_format,
            *(["--debug"] if self.debug else []),
            *(["--verbose"] if self.verbose else []),
        ]

    def store(self) -> Store:
        """The database, opened (and migrated). Use it as ``with ctx.store() as store:``."""
        from aggregator.store import Store

        return Store(self.db_url, search_index=self.search_index)

    @property
    def log_level(self) -> str:
        return "DEBUG" if self.debug else ("INFO" if self.verbose else "WARNING")


pass_ctx = click.make_pass_decorator(Context)


#: Set by ``--log-format json``: every line on stderr is then a JSON object, notes and errors too.
_json_stderr = False


def note(message: str, *, level: str = "INFO") -> None:
    """A line for the user on stderr (as is), or with ``--log-format json`` a JSON object."""
    if _json_stderr:
        record = {"ts": now().isoformat(), "level": level, "logger": "aggregator", "message": message}
        click.echo(json.dumps(record, ensure_ascii=False), err=True)
    else:
        click.echo(message, err=True)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    note(f"aggregator: error: {message}", level="ERROR")
    sys.exit(code)


def now() -> datetime:
    return datetime.now(UTC)


def json_line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)


def when(value: datetime | None) -> str:
    """A date as tables show it."""
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def check_urls(urls: tuple[str, ...]) -> list[str]:
    """The URLs, each an absolute http(s) URL, else InvalidURL."""
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidURL(url)
    return list(urls)


def date_option(value: str | None) -> datetime | None:
    """An ISO date from an option (UTC when it names no zone)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidDate(value) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def console(*, stderr: bool = False) -> Console:
    """A rich console for tables and progress (rich is imported when output needs it)."""
    from rich.console import Console

    return Console(stderr=stderr)


@contextmanager
def output(path: str | None) -> Iterator[IO[str]]:
    """Standard output, or a file written atomically (a reader never sees half a file).

    The file gets the mode of the file it replaces, else what the umask leaves of 0666 (as
    ``>`` in a shell would), not the temporary file's 0600; errors name the user's path.
    """
    if path is None or path == "-":
        yield sys.stdout
        return
    target = Path(path)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    except OSError as exc:
        raise UnwritableFile(path, exc.strerror or str(exc)) from exc
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=".export-")
    except OSError as exc:
        raise UnwritableFile(path, exc.strerror or str(exc)) from exc
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yield f
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UnwritableFile(path, exc.strerror or str(exc)) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it: put it straight back)."""
    current = os.umask(0o022)
    os.umask(current)
    return current


class Commands(click.Group):
    """The top-level group: an expected error becomes one line on stderr and exit 1 (with
    ``--debug``, its traceback), whichever command raised it (in-process runs included)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, BrokenPipeError):
            raise
        except AggregatorError as exc:
            if ctx.params.get("debug"):
                raise
            fail(str(exc), EXIT_USAGE if isinstance(exc, UsageError) else EXIT_ERROR)
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    metavar="URL|PATH",
    envvar="AGGREGATOR_DB",
    help="Database: an SQLAlchemy URL or an SQLite file path (default: AGGREGATOR_DB, "
    "else ~/.local/share/aggregator/aggregator.db).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's informational logs.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text, or one JSON object per event (for log collectors).",
)
@click.option(
    "--allow-private",
    is_flag=True,
    help="Let crawls and fetches reach loopback, private and link-local addresses (refused by "
    "default: a feed could point at this machine or a cloud's metadata service); also "
    "AGGREGATOR_ALLOW_PRIVATE=1.",
)
@click.option(
    "--search-index",
    metavar="DIR",
    envvar="AGGREGATOR_SEARCH_INDEX",
    help="Answer searches from a full-text index in DIR, kept in step with the database (made "
    "and filled by `aggregator index sync`); also AGGREGATOR_SEARCH_INDEX. Fast at millions of articles.",
)
@click.version_option(__version__, prog_name="aggregator")
@click.pass_context
def cli(
    ctx: click.Context,
    db: str | None,
    debug: bool,
    verbose: bool,
    log_format: str,
    allow_private: bool,
    search_index: str | None,
) -> None:
    """Collect industry news: crawl publishers, extract clean articles, drop duplicates, store them."""
    if allow_private:  # in the environment, so every crawl process and worker it starts sees it
        os.environ["AGGREGATOR_ALLOW_PRIVATE"] = "1"
    global _json_stderr
    _json_stderr = log_format == "json"
    from aggregator.logs import configure

    configure(level="DEBUG" if debug else ("INFO" if verbose else "WARNING"), json_lines=_json_stderr)
    ctx.obj = Context(db, debug=debug, verbose=verbose, log_format=log_format, search_index=search_index)


def _asks_for_json(argv: list[str]) -> bool:
    """``--log-format json`` is on the command line (a usage error can come before it is read)."""
    joined = " ".join(argv)
    return "--log-format json" in joined or "--log-format=json" in joined


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; Ctrl-C exits 130, a closed pipe (``| head``) exits quietly."""
    global _json_stderr
    try:
        cli.main(args=argv, prog_name="aggregator", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        if _json_stderr or _asks_for_json(argv if argv is not None else sys.argv[1:]):
            _json_stderr = True
            note(f"aggregator: error: {exc.format_message()}", level="ERROR")
        else:
            exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("aborted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
