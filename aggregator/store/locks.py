"""Named single-holder locks (one scheduler per database) that the kernel releases.

The lock itself is held by the operating system, never by a row: on SQLite an exclusive
``flock`` on a file beside the database (``news.db.scheduler.lock``), on PostgreSQL a session
advisory lock held on a connection of its own. When the holder dies (``kill -9``, a power cut of
its machine's network) the kernel closes the file or the server drops the connection, and the
lock is free at once: a restart never waits for a heartbeat to go stale.

The ``locks`` row stays, as a note of who holds it and when it last heartbeated, for
``aggregator status``; a row whose kernel lock is free is a holder that stopped without releasing.
"""

from __future__ import annotations

import fcntl
import os
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, update

from aggregator.config import sqlite_path
from aggregator.errors import LockHeld
from aggregator.store.base import StoreBase
from aggregator.store.models import Lock
from aggregator.store.records import LockHolder


class _KernelLock(Protocol):
    def release(self) -> None: ...


class _FileLock:
    """An exclusive flock on ``path``; the kernel drops it when the process dies."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def try_take(cls, path: str) -> _FileLock | None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return cls(fd)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = -1


class _AdvisoryLock:
    """A PostgreSQL session advisory lock on a connection of its own (the server drops it with
    the connection). The key hashes the schema with the name, so two databases' schedulers in one
    PostgreSQL database (or two test schemas) do not exclude each other."""

    _KEY = "hashtextextended(current_schema() || ':aggregator:' || %s, 0)"

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @classmethod
    def try_take(cls, store: StoreBase, name: str) -> _AdvisoryLock | None:
        pooled = store.engine.raw_connection()
        connection = pooled.dbapi_connection
        pooled.detach()  # ours alone until released: the pool must never reuse it
        assert connection is not None
        try:
            connection.autocommit = True
            cursor = connection.cursor()
            cursor.execute(f"SELECT pg_try_advisory_lock({cls._KEY})", (name,))
            row = cursor.fetchone()
            taken = bool(row and row[0])
            cursor.close()
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()
            return None
        return cls(connection)

    def release(self) -> None:
        if self.connection is not None:
            self.connection.close()  # ending the session releases its advisory locks
            self.connection = None


class LocksMixin(StoreBase):
    _kernel_locks: dict[str, _KernelLock]

    def _held(self) -> dict[str, _KernelLock]:
        if not hasattr(self, "_kernel_locks"):
            self._kernel_locks = {}
        return self._kernel_locks

    def lock_path(self, name: str) -> str | None:
        """The file whose flock is the lock ``name`` (SQLite files only)."""
        path = sqlite_path(self.url)
        return f"{path}.{name}.lock" if path is not None else None

    def _take_kernel_lock(self, name: str) -> _KernelLock | None:
        """The kernel's lock ``name``, or None when another process holds it. A database without
        a file or a server session (in-memory SQLite) has only this process: always granted."""
        if self.dialect == "postgresql":
            return _AdvisoryLock.try_take(self, name)
        path = self.lock_path(name)
        if path is None:
            return _NoLock()
        return _FileLock.try_take(path)

    def acquire_lock(self, name: str, owner: str, *, now: datetime) -> None:
        """Take the lock ``name`` for ``owner`` and note it in the ``locks`` row; else LockHeld.

        A row left by a holder that died is overwritten: the kernel lock says it is gone.
        """
        if name in self._held():
            raise LockHeld(name, owner, self._row_heartbeat(name))
        kernel = self._take_kernel_lock(name)
        if kernel is None:
            held = self.lock_holder(name)
            if held is None:
                raise LockHeld(name, "another process", None)
            raise LockHeld(name, held.owner, held.heartbeat_at)
        try:
            with self.session() as s:
                s.execute(delete(Lock).where(Lock.name == name))
                s.add(Lock(name=name, owner=owner, acquired_at=now, heartbeat_at=now))
        except BaseException:
            kernel.release()
            raise
        self._held()[name] = kernel

    def _row_heartbeat(self, name: str) -> datetime | None:
        with self.session() as s:
            row = s.get(Lock, name)
            return row.heartbeat_at if row else None

    def heartbeat(self, name: str, owner: str, *, now: datetime) -> bool:
        """Refresh the row's heartbeat (for ``status``); False when this owner no longer holds it."""
        if name not in self._held():
            return False
        with self.session() as s:
            result = s.execute(
                update(Lock).where(Lock.name == name, Lock.owner == owner).values(heartbeat_at=now)
            )
            return bool(getattr(result, "rowcount", 0))

    def release_lock(self, name: str, owner: str) -> None:
        try:
            with self.session() as s:
                s.execute(delete(Lock).where(Lock.name == name, Lock.owner == owner))
        finally:
            kernel = self._held().pop(name, None)
            if kernel is not None:
                kernel.release()

    def lock_holder(self, name: str) -> LockHolder | None:
        """Who holds (or last held) the lock: ``live`` says whether its kernel lock is still held."""
        with self.session() as s:
            row = s.get(Lock, name)
            if row is None:
                return None
            owner, heartbeat_at = row.owner, row.heartbeat_at
        if name in self._held():
            return LockHolder(owner, heartbeat_at, live=True)
        probe = self._take_kernel_lock(name)
        if probe is not None:
            probe.release()
        return LockHolder(owner, heartbeat_at, live=probe is None)

    def close(self) -> None:
        for kernel in self._held().values():
            kernel.release()
        self._held().clear()
        super().close()


class _NoLock:
    def release(self) -> None:
        return None
