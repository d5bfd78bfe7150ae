"""The change log: every change to a searchable document in one sequence (incremental exports),
and how far each push target has acknowledged it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from aggregator.errors import PushTargetNotFound
from aggregator.store.base import StoreBase
from aggregator.store.models import ArticleRow, ArticleTag, ChangeLog, PushTarget, Source, Tag
from aggregator.store.records import Change, ChangeAction, IndexEntry, IndexFeed


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

    def last_change(self) -> int:
        """The change log's last sequence number (0 when empty): how far an index can be behind."""
        return int(self._fetch("SELECT max(seq) FROM change_log", ())[0][0] or 0)

    def index_feed(self, after: int, limit: int) -> IndexFeed:
        """The articles changed in the ``limit`` changes after ``after``, as they are now.

        An article changed several times is read once, in its current state; one whose row is
        gone is in ``gone``. Applying a feed twice gives the same index, so an index that died
        before saving its cursor simply applies it again.
        """
        with self.session() as s:
            changes = s.execute(
                select(ChangeLog.seq, ChangeLog.article_id)
                .where(ChangeLog.seq > after)
                .order_by(ChangeLog.seq)
                .limit(limit)
            ).all()
            if not changes:
                return IndexFeed([], [], after)
            ids = sorted({article_id for _, article_id in changes})
            rows = s.execute(
                select(
                    ArticleRow.id,
                    ArticleRow.canonical_url,
                    ArticleRow.story_id,
                    ArticleRow.title,
                    ArticleRow.subtitle,
                    ArticleRow.text,
                    ArticleRow.tags_text,
                    ArticleRow.section,
                    ArticleRow.language,
                    Source.name,
                    ArticleRow.published,
                )
                .outerjoin(Source, Source.id == ArticleRow.source_id)
                .where(ArticleRow.id.in_(ids))
            ).all()
            tags: dict[int, list[str]] = {}
            for article_id, name in s.execute(
                select(ArticleTag.article_id, Tag.name)
                .join(Tag, Tag.id == ArticleTag.tag_id)
                .where(ArticleTag.article_id.in_(ids))
            ):
                tags.setdefault(article_id, []).append(name)
        entries = [
            IndexEntry(
                i,
                url,
                story_id,
                title,
                subtitle or "",
                body or "",
                tags_text or "",
                tuple(tags.get(i, ())),
                section or "",
                language or "",
                source,
                published,
            )
            for i, url, story_id, title, subtitle, body, tags_text, section, language, source, published in (
                tuple(row) for row in rows
            )
        ]
        found = {e.article_id for e in entries}
        return IndexFeed(entries, [i for i in ids if i not in found], changes[-1][0])

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
