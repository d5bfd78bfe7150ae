"""What the reader's web app (#15) reads: the extraction stage of each article's text, where a
moved source used to live, and the indexes its pages need at 100k articles.

- ``sources.moved_from`` / ``sources.moved_at``: a permanent redirect changed the source's URL.
- ``ix_articles_source_seen``: a source's articles by arrival (the sources page's sparkline, and
  source filters); ``ix_article_tags_tag_id``: a tag's articles (tag pages, tag filters), which the
  (article_id, tag_id) primary key cannot serve.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("moved_from", sa.Text, nullable=True))
        batch.add_column(sa.Column("moved_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_articles_source_seen", "articles", ["source_id", "first_seen_at"])
    op.create_index("ix_article_tags_tag_id", "article_tags", ["tag_id", "article_id"])


def downgrade() -> None:
    op.drop_index("ix_article_tags_tag_id", "article_tags")
    op.drop_index("ix_articles_source_seen", "articles")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("moved_at")
        batch.drop_column("moved_from")
