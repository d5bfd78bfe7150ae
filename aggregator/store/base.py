"""What every part of the store shares: opening (and migrating) the database, sessions, closing.

Opening a store creates the database when it does not exist and upgrades an older schema with
Alembic, so no command needs a separate init step. A store is a context manager; every command
closes the one it opens (an SQLite connection left open keeps the WAL from being checkpointed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from aggregator.config import busy_timeout, sqlite_path
from aggregator.errors import SearchIndexError, StorageError

if TYPE_CHECKING:
    from aggregator.textindex import TextIndex

log = logging.getLogger(__name__)

#: Bound parameters per IN (...) list: well under SQLite's and PostgreSQL's limits.
IN_CHUNK = 2000


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout() * 1000)}")
        # 64 MB of page cache (the default is 2 MB): the story band index and the full-text index
        # are written at random places, and each page read back from disk costs a batch dearly.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("aggregator.store").joinpath("migrations")))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration; a no-op when it is current."""
    cfg = alembic_config()
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.begin() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


#: SQLite's primary result codes for a database that refuses work whatever the statement: BUSY,
#: LOCKED, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB.
_SQLITE_REFUSALS = frozenset({5, 6, 8, 10, 11, 13, 14, 26})
#: PostgreSQL's SQLSTATE classes and codes for the same: connection lost (08), disk full and
#: other resources (53), shut down (57), a lock not available (55P03).
_PG_REFUSALS = ("08", "53", "57", "55P03")


def database_refused(exc: OperationalError) -> bool:
    """Whether the database itself refused the work (locked, full, broken), not the statement."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_REFUSALS
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_PG_REFUSALS)


def describe_operational_error(exc: OperationalError) -> str:
    """The driver's own message (without SQLAlchemy's SQL and parameters), and what it means."""
    cause = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    if "locked" in cause:
        return f"{cause} (another process holds its write lock; waited {busy_timeout():g} s)"
    if "full" in cause:
        return f"{cause} (nothing of this transaction was written)"
    return cause


def qmark(statement: str, paramstyle: str) -> str:
    """A qmark (``?``) statement in a driver's own parameter style (psycopg: ``%s``)."""
    return statement.replace("?", "%s") if paramstyle in ("format", "pyformat") else statement


class StoreBase:
    """The engine, its sessions and a lookup connection; the per-concern mixins build on it."""

    def __init__(
        self, url: str, *, migrate_schema: bool = True, search_index: str | Path | None = None
    ) -> None:
        self.url = url
        #: The full-text index beside the database (aggregator.textindex) that search asks first,
        #: when one is configured (``search_index``: its folder, made when missing).
        self.text_index: TextIndex | None = None
        path = sqlite_path(url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    url, "open database", f"cannot create {path.parent}: {exc.strerror}"
                ) from exc
        try:
            self.engine = create_engine(url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StorageError(url, "open database", str(exc)) from exc
        #: "sqlite" or "postgresql": the few statements that differ check it.
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reader: DBAPIConnection | None = None
        #: Articles written since PostgreSQL's statistics were last looked at (None: never).
        self._unanalyzed: int | None = None
        if migrate_schema:
            try:
                migrate(self.engine)
            except (SQLAlchemyError, OSError) as exc:
                raise StorageError(url, "open or migrate database", str(exc)) from exc
        if search_index:
            from aggregator.textindex import TextIndex

            try:
                self.text_index = TextIndex(search_index, url)
            except SearchIndexError as exc:
                # The index is a cache: without it searches answer from the database.
                log.warning("%s; searching the database", exc)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error.

        The database refusing the work (locked by another writer, a full disk, a damaged file)
        is a StorageError that says so in one line; the transaction is rolled back, so what was
        committed before stays as it was.
        """
        try:
            with self._sessions() as session, session.begin():
                yield session
        except OperationalError as exc:
            if not database_refused(exc):
                raise  # about the statement (a search query's syntax): the caller's to read
            raise StorageError(self.url, "write to", describe_operational_error(exc)) from exc

    def lock_for_writes(self, session: Session, name: str) -> None:
        """Make this transaction the only writer of ``name`` until it ends (commit or rollback).

        A batch decides what to insert from what it reads (is the URL stored? which story do
        the band keys point to?), so two workers writing at once must not both read before
        either writes: the second would insert the same URL again (a unique violation that
        lost its whole batch) or start a second story for the other copy of a wire story.

        PostgreSQL: a transaction-scoped advisory lock, named by the schema and ``name``.
        One lock, not one per band key: a batch of 200 articles has 6,400 band keys, more than
        the server's whole shared lock table (max_locks_per_transaction 64 x 100 connections),
        and folded into fewer buckets every batch would cover them all anyway. The cost is that
        batch writes queue (benchmarks/store.py --writers measures it); downloads and extraction
        do not. SQLite: BEGIN IMMEDIATE, the database's own writer lock, taken before the
        first read (a deferred transaction reads a snapshot that a concurrent writer makes
        stale, and SQLite then refuses the upgrade to writing).
        """
        if self.dialect == "postgresql":
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext(:name))"),
                {"name": name},
            )
        elif self.dialect == "sqlite":
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")

    def sql(self, statement: str) -> str:
        """A qmark statement in this database driver's parameter style."""
        return qmark(statement, self.engine.dialect.paramstyle)

    def _fetch(self, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """The rows of one read through the driver, on a pooled connection: any thread may call
        it (the web app's request threads and the search index's follower), unlike _lookup's
        single connection, and without a session's upkeep on a search's path."""
        try:
            pooled = self.engine.raw_connection()
        except SQLAlchemyError as exc:
            raise StorageError(self.url, "read", str(exc)) from exc
        try:
            cursor = pooled.cursor()
            try:
                cursor.execute(self.sql(statement), params)
                return [tuple(row) for row in cursor.fetchall()]
            finally:
                cursor.close()
        except self.engine.dialect.loaded_dbapi.Error as exc:
            raise StorageError(self.url, "read", str(exc).splitlines()[0]) from exc
        finally:
            pooled.close()

    def _lookup(self, statement: str, params: tuple[Any, ...]) -> Any:
        """One value by a one-row query on a connection of its own, in autocommit.

        The dedupe asks twice per crawled article, on the download loop: through a session a
        lookup cost 170 us, through the driver 3 us. Autocommit, so no read transaction stays
        open between lookups (on SQLite it would pin an old snapshot of the WAL).
        """
        reader = self._reader
        if reader is None:
            pooled = self.engine.raw_connection()
            reader = pooled.dbapi_connection
            assert reader is not None
            pooled.detach()  # ours alone: the pool never hands it to a transaction
            if self.dialect != "sqlite":
                reader.autocommit = True
            self._reader = reader
        cursor = reader.cursor()
        try:
            cursor.execute(self.sql(statement), params)
            row = cursor.fetchone()
        finally:
            cursor.close()
        return row[0] if row else None
