"""Plain values every layer shares: where the database is, how many articles a batch holds.

Imports nothing from the package but its errors (the bottom layer), so the CLI can resolve
``--db`` and a crawl its batch size without loading the store, SQLAlchemy or Scrapy.
"""

from __future__ import annotations

import os
from pathlib import Path

from aggregator.errors import InvalidDatabase

#: Articles written per database transaction (a commit and the story lookup are per batch: 200
#: costs the writer a fifth less per article than 50). AGGREGATOR_BATCH_SIZE overrides it.
DEFAULT_BATCH_SIZE = 200


#: URL schemes that mean PostgreSQL through psycopg 3, the driver the ``postgres`` extra installs
#: (SQLAlchemy reads ``postgresql://`` as psycopg2 and does not know ``postgres://`` at all).
_POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def as_db_url(value: str) -> str:
    """Accept an SQLAlchemy URL or a plain path to an SQLite file; ``postgres://`` and
    ``postgresql://`` (as Heroku and libpq write them) mean ``postgresql+psycopg://``."""
    if value.startswith(_POSTGRES_SCHEMES):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def check_db_url(value: str) -> str:
    """A database the user named (``--db``, AGGREGATOR_DB) as a URL, refused with InvalidDatabase
    when it cannot be meant: an SQLite file whose folder does not exist (no folder is made for
    it: a typo would silently start an empty database elsewhere), or a name with a colon that is
    no URL (``:::``)."""
    scheme, sep, _ = value.partition("://")
    if not sep and ":" in value and not Path(value).expanduser().exists():
        raise InvalidDatabase(value, "neither a database URL (SCHEME://...) nor an existing file's path")
    if sep and not scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        raise InvalidDatabase(value, f"not a database URL: bad scheme {scheme!r}")
    url = as_db_url(value)
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise InvalidDatabase(value, f"no such folder: {path.parent}")
    return url


def default_db_url() -> str:
    """``AGGREGATOR_DB`` when set, else an SQLite file in the user's data directory."""
    env = os.environ.get("AGGREGATOR_DB")
    if env:
        return as_db_url(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return as_db_url(str(base / "aggregator" / "aggregator.db"))


def sqlite_path(db_url: str) -> Path | None:
    """The file of an ``sqlite:///`` URL (None for other databases and in-memory SQLite)."""
    if not db_url.startswith("sqlite:///") or db_url.startswith("sqlite:///:memory:"):
        return None
    return Path(db_url.removeprefix("sqlite:///").split("?", 1)[0])


#: How long an SQLite write waits for another process's write lock before it fails ("database is
#: locked"), in seconds. AGGREGATOR_BUSY_TIMEOUT overrides it (tests use a short one).
DEFAULT_BUSY_TIMEOUT = 30.0


def busy_timeout() -> float:
    """AGGREGATOR_BUSY_TIMEOUT in seconds when it is a number, else DEFAULT_BUSY_TIMEOUT."""
    try:
        return max(0.0, float(os.environ.get("AGGREGATOR_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT)))
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT
