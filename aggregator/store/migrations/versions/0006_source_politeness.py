"""Per-source politeness: a download delay and a concurrency for the source's host.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("delay", sa.Float))
        batch.add_column(sa.Column("concurrency", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("concurrency")
        batch.drop_column("delay")
