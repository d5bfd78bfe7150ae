"""One hierarchy of errors; each carries the input it is about, so a log line explains itself.

As reader does it: every error keeps its input as attributes (``SourceNotFound(name).name``) and
renders a one-line message from them; errors about what the user typed also subclass
``ValueError``. The CLI is the only place that turns them into a line on stderr and an exit code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
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


class InvalidSetting(InputError):
    """A ``-s`` override that is not ``NAME=VALUE``."""

    def __init__(self, pair: str) -> None:
        super().__init__(f"-s expects NAME=VALUE, got {pair!r}")
        self.pair = pair


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


class LockHeld(AggregatorError):
    """Another live process holds the lock (a second scheduler on the same database)."""

    def __init__(self, name: str, owner: str, heartbeat_at: datetime | None, stale_after: timedelta) -> None:
        if heartbeat_at is None:
            message = f"another {name} ({owner}) took over the stale lock first"
        else:
            message = (
                f"another {name} ({owner}) is running on this database, last seen "
                f"{heartbeat_at:%Y-%m-%d %H:%M:%S} UTC; its lock goes stale after "
                f"{int(stale_after.total_seconds())} s without a heartbeat"
            )
        super().__init__(message)
        self.name = name
        self.owner = owner
        self.heartbeat_at = heartbeat_at
        self.stale_after = stale_after


class StorageError(AggregatorError):
    """The database could not be opened, migrated or written."""

    def __init__(self, url: str, action: str, cause: str) -> None:
        super().__init__(f"cannot {action} {url}: {cause}")
        self.url = url
        self.action = action
        self.cause = cause
