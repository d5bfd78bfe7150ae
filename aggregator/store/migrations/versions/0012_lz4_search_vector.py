"""PostgreSQL keeps each article's tsvector compressed with lz4 (its default, pglz, kept it raw).

pglz stores a value uncompressed unless it saves a quarter, and a tsvector (lexemes and their
positions) never does: at 100k generated articles every vector was stored raw, 5.25 KB of the
13.4 KB an article takes. lz4 has no such floor: 4.64 KB, and it decompresses faster than pglz
when a search ranks the vectors. Rows written before keep their form until rewritten
(``VACUUM FULL articles``). A server built without lz4 keeps pglz (the statement is skipped).
SQLite: nothing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _compression(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # PostgreSQL 14+ built with lz4 lists it among default_toast_compression's values; an older
    # or lz4-less server keeps pglz (any other failure of the statement is raised).
    offered = bind.exec_driver_sql(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
    ).scalar()
    if not offered or method not in offered:
        return
    bind.exec_driver_sql(f"ALTER TABLE articles ALTER COLUMN search_vector SET COMPRESSION {method}")


def upgrade() -> None:
    _compression("lz4")


def downgrade() -> None:
    _compression("pglz")
