"""Stories: clusters of articles that carry the same story (wire copies, republications).

Which story a new article joins is decided while its batch is written (store/batch.py); this
module reads the clusters back.
"""

from __future__ import annotations

from sqlalchemy import func, select

from aggregator.dedupe import story_signature
from aggregator.store.base import StoreBase
from aggregator.store.batch import MAX_STORY_CANDIDATES, MIN_BAND_HITS, find_story
from aggregator.store.models import ArticleRow, Source
from aggregator.store.records import Story, StoryMember


class StoriesMixin(StoreBase):
    MAX_STORY_CANDIDATES = MAX_STORY_CANDIDATES
    MIN_BAND_HITS = MIN_BAND_HITS

    def find_story(self, text: str) -> int | None:
        """The stored story that ``text`` is a copy of, if any (what a write would join)."""
        with self.session() as s:
            return find_story(s.connection(), text, story_signature(text).bands)

    def stories(self, *, min_size: int = 2) -> list[Story]:
        """Stories with at least ``min_size`` articles, largest first, each with its articles
        oldest first: two queries, whatever the number of stories."""
        with self.session() as s:
            size = func.count(ArticleRow.id)
            sizes = s.execute(
                select(ArticleRow.story_id, size)
                .where(ArticleRow.story_id.is_not(None))
                .group_by(ArticleRow.story_id)
                .having(size >= min_size)
                .order_by(size.desc(), ArticleRow.story_id)
            ).all()
            order = [story_id for story_id, _ in sizes if story_id is not None]
            members: dict[int, list[StoryMember]] = {story_id: [] for story_id in order}
            rows = s.execute(
                select(ArticleRow.story_id, ArticleRow.canonical_url, Source.name, ArticleRow.site_name)
                .outerjoin(Source, Source.id == ArticleRow.source_id)
                .where(
                    ArticleRow.story_id.in_(
                        select(ArticleRow.story_id)
                        .where(ArticleRow.story_id.is_not(None))
                        .group_by(ArticleRow.story_id)
                        .having(size >= min_size)
                    )
                )
                .order_by(ArticleRow.id)
            )
            for story_id, url, source, site_name in rows:
                if story_id is not None:
                    members[story_id].append(StoryMember(url, source, site_name))
        return [Story(story_id, tuple(members[story_id])) for story_id in order]

    def story_index(self) -> dict[int, list[str]]:
        """story id -> canonical URLs of its articles (oldest first), for stories of 2 or more."""
        return {
            story.story_id: [m.canonical_url for m in story.members] for story in self.stories(min_size=2)
        }
