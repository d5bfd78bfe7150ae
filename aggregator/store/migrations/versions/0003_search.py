"""Search: tags_text on articles, a change log for incremental exports, the full-text index.

SQLite gets an FTS5 table (rowid = article id) that the store keeps in step with every
article write; PostgreSQL gets a generated, weighted tsvector column with a GIN index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
PG_VECTOR = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(subtitle, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(tags_text, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(section, '')), 'C') || "
    "setweight(to_tsvector('english', coalesce(text, '')), 'D')"
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("tags_text", sa.Text, nullable=False, server_default=""))
    op.create_table(
        "change_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("doc_id", sa.String(40), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("at", TS, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_change_log_article_id", "change_log", ["article_id"])
    op.execute(
        "UPDATE articles SET tags_text = coalesce((SELECT group_concat(t.name, ' ') FROM article_tags at"
        " JOIN tags t ON t.id = at.tag_id WHERE at.article_id = articles.id), '')"
        if dialect == "sqlite"
        else "UPDATE articles SET tags_text = coalesce((SELECT string_agg(t.name, ' ') FROM article_tags at"
        " JOIN tags t ON t.id = at.tag_id WHERE at.article_id = articles.id), '')"
    )
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE articles_fts USING fts5(title, subtitle, text, tags, section,"
            " tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            "INSERT INTO articles_fts (rowid, title, subtitle, text, tags, section)"
            " SELECT id, title, subtitle, text, tags_text, section FROM articles"
        )
    elif dialect == "postgresql":
        op.execute(
            f"ALTER TABLE articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({PG_VECTOR}) STORED"
        )
        op.execute("CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)")
    # Every article already stored is a change since cursor 0.
    op.execute(
        "INSERT INTO change_log (article_id, doc_id, action, at)"
        " SELECT articles.id, CAST(articles.id AS TEXT), 'upsert', articles.changed_at FROM articles"
        " ORDER BY articles.id"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TABLE articles_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX ix_articles_search_vector")
        op.execute("ALTER TABLE articles DROP COLUMN search_vector")
    op.drop_table("change_log")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("tags_text")
