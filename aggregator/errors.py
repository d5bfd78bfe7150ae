"""One hierarchy of errors; each names the input it is about so a log line is self-explaining."""

from __future__ import annotations


class AggregatorError(Exception):
    """Base of every error the aggregator raises on purpose."""


class InputError(AggregatorError, ValueError):
    """Input the user gave cannot be used (a missing file, an unknown source...)."""


class SourceError(AggregatorError):
    """A source could not be added, found or crawled."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.reason = message


class LockedError(AggregatorError):
    """Another live process holds the lock (a second scheduler on the same database)."""


class StorageError(AggregatorError):
    """The database could not be opened, migrated or written."""
