"""Named locks held by one process and kept alive by heartbeats (one scheduler per database)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from aggregator.errors import LockHeld
from aggregator.store.base import StoreBase
from aggregator.store.models import Lock
from aggregator.store.records import LockHolder


class LocksMixin(StoreBase):
    def acquire_lock(self, name: str, owner: str, *, now: datetime, stale_after: timedelta) -> None:
        """Take the lock, or take it over when its holder stopped heartbeating; else LockHeld."""
        try:
            with self.session() as s:
                s.add(Lock(name=name, owner=owner, acquired_at=now, heartbeat_at=now))
            return
        except IntegrityError:
            pass
        with self.session() as s:
            held = s.get(Lock, name)
            if held is None:  # released in between: try again from the top
                return self.acquire_lock(name, owner, now=now, stale_after=stale_after)
            if held.heartbeat_at > now - stale_after and held.owner != owner:
                raise LockHeld(name, held.owner, held.heartbeat_at, stale_after)
            # Compare-and-swap on the old heartbeat, so two takers cannot both win.
            taken = cast(
                CursorResult[Any],
                s.execute(
                    update(Lock)
                    .where(Lock.name == name, Lock.heartbeat_at == held.heartbeat_at)
                    .values(owner=owner, acquired_at=now, heartbeat_at=now)
                ),
            ).rowcount
            if taken != 1:
                raise LockHeld(name, "someone else", None, stale_after)
        return None

    def heartbeat(self, name: str, owner: str, *, now: datetime) -> bool:
        """Refresh the lock; False when this owner no longer holds it."""
        with self.session() as s:
            result = cast(
                CursorResult[Any],
                s.execute(
                    update(Lock).where(Lock.name == name, Lock.owner == owner).values(heartbeat_at=now)
                ),
            )
            return bool(result.rowcount)

    def release_lock(self, name: str, owner: str) -> None:
        with self.session() as s:
            s.execute(delete(Lock).where(Lock.name == name, Lock.owner == owner))

    def lock_holder(self, name: str) -> LockHolder | None:
        with self.session() as s:
            held = s.get(Lock, name)
            return LockHolder(held.owner, held.heartbeat_at) if held else None
