"""One hierarchy of errors; each carries the input it is about, so a log line explains itself.

As reader does it: every error keeps its input as attributes (``SourceNotFound(name).name``) and
renders a one-line message from them; errors about what the user typed also subclass
``ValueError``. The CLI is the only place that turns them into a line on stderr and an exit code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class AggregatorError(Exception):
    """Base of every error the aggregator raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Errors cross processes (a crawl's writer and extraction workers send them back), and
        pickle rebuilds an exception by calling its class with ``args``: here the message, not
        the constructor's inputs. A StorageError from the writer then failed to unpickle, and the
        crawl saw "a process terminated abruptly" instead of the database's reason."""
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))


def _rebuild(cls: type[AggregatorError], message: str, state: dict[str, Any]) -> AggregatorError:
    """An error as it was pickled: its message and its attributes, without calling __init__."""
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class InputError(AggregatorError, ValueError):
    """Input the user gave cannot be used. Raised as one of the subclasses, which say which input."""


class InvalidURL(InputError):
    def __init__(self, url: str) -> None:
        super().__init__(f"not an http(s) URL: {url!r}")
        self.url = url


class UsageError(InputError):
    """Input that makes the command line itself wrong (exit 2, as click's own usage errors)."""


class InvalidSetting(UsageError):
    """A ``-s`` override that is not ``NAME=VALUE``, names no known setting, or has a value of the
    wrong type or range."""

    def __init__(self, pair: str, reason: str = "") -> None:
        if reason:
            super().__init__(f"-s {pair}: {reason}")
        else:
            super().__init__(f"-s expects NAME=VALUE, got {pair!r}")
        self.pair = pair
        self.reason = reason


class InvalidDatabase(UsageError):
    """A ``--db`` value that names no usable database (no such folder, not a URL SQLAlchemy knows)."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"--db {value}: {reason}")
        self.value = value
        self.reason = reason


class BlockedURL(InputError):
    """A URL the crawler may not fetch: another scheme than http(s), or a private address (SSRF
    guard, aggregator.netguard)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"blocked {url}: {reason}")
        self.url = url
        self.reason = reason


class InvalidDate(InputError):
    def __init__(self, value: str) -> None:
        super().__init__(f"not an ISO date: {value!r} (use YYYY-MM-DD)")
        self.value = value


class InvalidQuery(InputError):
    """A search query the full-text engine rejects (or an empty one)."""

    def __init__(self, query: str, reason: str) -> None:
        hint = '; put words with punctuation in double quotes, e.g. "U.S." tariffs' if query.strip() else ""
        super().__init__(f"search: cannot read the query {query!r} ({reason}){hint}")
        self.query = query
        self.reason = reason


class UnreadableFile(InputError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}")
        self.path = path
        self.reason = reason


class UnwritableFile(InputError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path = path
        self.reason = reason


class NotHTML(InputError):
    """A file given as a web page that is something else (JSON, a stylesheet, a feed, a PDF...)."""

    def __init__(self, path: str, detected: str) -> None:
        super().__init__(f"{path}: not an HTML page (it looks like {detected})")
        self.path = path
        self.detected = detected


class InvalidSubscriptions(InputError):
    """An OPML or TOML sources file that cannot be imported."""

    def __init__(self, origin: str, reason: str) -> None:
        super().__init__(f"{origin}: {reason}")
        self.origin = origin
        self.reason = reason


class UnknownSourceKind(InputError):
    def __init__(self, kind: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown source kind {kind!r}; expected one of {', '.join(known)}")
        self.kind = kind


class SourceNotFound(InputError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no source named {name!r}")
        self.name = name


class SourceNameTaken(InputError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a source named {name!r} exists already")
        self.name = name


class SourceExists(InputError):
    """A source with this URL is stored already (under ``name``)."""

    def __init__(self, url: str, name: str) -> None:
        super().__init__(f"already a source: {url} (named {name!r})")
        self.url = url
        self.name = name


class PushTargetNotFound(InputError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no push target named {name!r}")
        self.name = name


class SourceError(AggregatorError):
    """A source document (feed, sitemap) could not be read as what it should be."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class CrawlFailed(AggregatorError):
    """Scrapy could not run the crawl at all (a component that does not load, a broken setting):
    nothing was crawled, and the command must not look like it succeeded."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"the crawl could not run: {cause}")
        self.cause = cause


class LockHeld(AggregatorError):
    """Another live process holds the lock (a second scheduler on the same database)."""

    def __init__(self, name: str, owner: str, heartbeat_at: datetime | None) -> None:
        seen = f", last seen {heartbeat_at:%Y-%m-%d %H:%M:%S} UTC" if heartbeat_at else ""
        super().__init__(f"another {name} ({owner}) is running on this database{seen}")
        self.name = name
        self.owner = owner
        self.heartbeat_at = heartbeat_at


class StorageError(AggregatorError):
    """The database could not be opened, migrated or written."""

    def __init__(self, url: str, action: str, cause: str) -> None:
        super().__init__(f"cannot {action} {url}: {cause}")
        self.url = url
        self.action = action
        self.cause = cause


class SearchIndexError(AggregatorError):
    """The search index beside the database (aggregator.textindex) cannot be opened or written."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"search index {path}: {reason}")
        self.path = path
        self.reason = reason


class FrontierUnavailable(AggregatorError):
    """The shared frontier (Redis) cannot be reached or answered with an error."""

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"frontier {url}: {cause}")
        self.url = url
        self.cause = cause


class FrontierNotSet(InputError):
    """A command that works through the shared frontier was given none."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} needs a shared frontier: --frontier redis://HOST:6379/0 (or AGGREGATOR_FRONTIER)"
        )
        self.what = what
