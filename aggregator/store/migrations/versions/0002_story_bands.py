"""Near-duplicate index: MinHash LSH band keys of each article, to find its story's other copies.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story_bands",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.BigInteger, nullable=False),
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    )
    op.create_index("ix_story_bands_key", "story_bands", ["key"])
    op.create_index("ix_story_bands_article_id", "story_bands", ["article_id"])
    op.create_index("ix_articles_story_id", "articles", ["story_id"])


def downgrade() -> None:
    op.drop_index("ix_articles_story_id", "articles")
    op.drop_table("story_bands")
