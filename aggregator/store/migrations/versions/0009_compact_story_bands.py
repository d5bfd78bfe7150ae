"""Story band keys: 32 an article instead of 84, in a table ordered by key.

The band index is what a crawl's writer pays for at scale (every key is a write at a random place
in the index). The signature now has 16 + 16 bands (aggregator.dedupe.NUM_PERM = 48), so every
stored article's keys are computed again from its text here, and the table is keyed by
(key, article_id) — WITHOUT ROWID on SQLite — with no separate id.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BATCH = 500


def upgrade() -> None:
    from aggregator.dedupe import story_signature

    op.drop_table("story_bands")
    op.create_table(
        "story_bands",
        sa.Column("key", sa.BigInteger, primary_key=True),
        sa.Column(
            "article_id",
            sa.Integer,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_story_bands_article_id", "story_bands", ["article_id"])
    conn = op.get_bind()
    bands = sa.table("story_bands", sa.column("key", sa.BigInteger), sa.column("article_id", sa.Integer))
    last = 0
    while True:
        rows = conn.execute(
            sa.text("SELECT id, text FROM articles WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last, "n": _BATCH},
        ).all()
        if not rows:
            break
        keys = sorted({(key, id_) for id_, text in rows for key in story_signature(text or "").bands})
        if keys:
            conn.execute(bands.insert(), [{"key": k, "article_id": a} for k, a in keys])
        last = rows[-1][0]


def downgrade() -> None:
    raise NotImplementedError(
        "0009 replaced every story band key with the 32-key signature; the 84-key one cannot be"
        " rebuilt by this code (restore a backup taken before the upgrade)"
    )
