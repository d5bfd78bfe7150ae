"""SQLite's full-text index reads its text from the articles table instead of keeping a copy.

An FTS5 table keeps every indexed column a second time in its own content table unless told
where the text lives: a third of the bytes of an article (its text, twice) went there. With
``content='articles'`` the index holds only the index; bm25 and MATCH need nothing more, and
snippets are made from ``articles.text`` already. The column ``tags`` becomes ``tags_text`` (an
external content table's columns are the articles' columns by name). The store removes an
article's index entries before its row changes (the old text is what they were made of).
PostgreSQL: nothing (its tsvector column is the index's input, not a copy of the text).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TOKENIZE = "tokenize = 'porter unicode61 remove_diacritics 2'"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE articles_fts")
    op.execute(
        "CREATE VIRTUAL TABLE articles_fts USING fts5(title, subtitle, text, tags_text, section,"
        f" content='articles', content_rowid='id', {TOKENIZE})"
    )
    op.execute("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE articles_fts")
    op.execute(
        f"CREATE VIRTUAL TABLE articles_fts USING fts5(title, subtitle, text, tags, section, {TOKENIZE})"
    )
    op.execute(
        "INSERT INTO articles_fts (rowid, title, subtitle, text, tags, section)"
        " SELECT id, title, subtitle, text, tags_text, section FROM articles"
    )
