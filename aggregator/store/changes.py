"""The change log: every change to a searchable document in one sequence (incremental exports),
and how far each push target has acknowledged it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from aggregator.errors import PushTargetNotFound
from aggregator.store.base import StoreBase
from aggregator.store.models import ChangeLog, PushTarget
from aggregator.store.records import Change, ChangeAction


class ChangesMixin(StoreBase):
    def changes_since(self, cursor: int) -> tuple[list[Change], int]:
        """The latest change of each document changed after ``cursor``, in the order of their
        last change, and the next cursor."""
        with self.session() as s:
            last = func.max(ChangeLog.seq)
            latest = (
                select(ChangeLog.article_id, last.label("seq"))
                .where(ChangeLog.seq > cursor)
                .group_by(ChangeLog.article_id)
                .subquery()
            )
            rows = s.execute(
                select(ChangeLog.action, ChangeLog.article_id, ChangeLog.doc_id, ChangeLog.seq)
                .join(latest, ChangeLog.seq == latest.c.seq)
                .order_by(ChangeLog.seq)
            ).all()
            top = s.scalar(select(func.max(ChangeLog.seq))) or 0
        return [Change(ChangeAction(a), i, d, q) for a, i, d, q in rows], max(cursor, top)

    def push_cursor(self, name: str, kind: str, url: str) -> int:
        """The cursor a push target has acknowledged up to (0 for a new target, now recorded)."""
        with self.session() as s:
            target = s.get(PushTarget, name)
            if target is None:
                s.add(PushTarget(name=name, kind=kind, url=url, cursor=0))
                return 0
            return target.cursor

    def record_push(self, name: str, cursor: int, *, error: str | None, now: datetime) -> None:
        with self.session() as s:
            target = s.get(PushTarget, name)
            if target is None:
                raise PushTargetNotFound(name)
            target.cursor = max(target.cursor, cursor)
            target.last_push_at = now
            target.last_error = error
