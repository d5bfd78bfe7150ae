"""The store on real databases: SQLite files, and the local PostgreSQL server."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from aggregator.errors import SourceExists, SourceNameTaken, SourceNotFound, StorageError, UnknownSourceKind
from aggregator.model import Article
from aggregator.normalize import normalize_article
from aggregator.store import RunTotals, Store
from aggregator.store.base import alembic_config
from aggregator.store.models import Base
from aggregator.store.records import StoryMember

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


HEAD = _head()


def article(n: int, text: str | None = None) -> Article:
    a = Article(
        url=f"https://pub.example/{n}?utm_source=x",
        title=f"Story {n}",
        text=text or f"Body of story number {n}.",
        tags=["Ports", "U.S."],
        published=datetime(2026, 11, 1, tzinfo=UTC),
    )
    return normalize_article(a, now=NOW)


def test_new_database_is_created_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "new.db"
    store = Store(f"sqlite:///{path}")
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD
    store.close()
    Store(f"sqlite:///{path}").close()  # opening again is a no-op migration


def test_older_schema_is_upgraded_with_its_data(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            text(
                "INSERT INTO sources (name, kind, url, interval_seconds, enabled, tags, error_count,"
                " created_at) VALUES ('old', 'feed', 'https://x/rss', 60, 1, '[]', 0, '2026-01-01')"
            )
        )
    engine.dispose()
    with Store(url) as store:
        assert [s.name for s in store.list_sources()] == ["old"]
    with sqlite3.connect(tmp_path / "old.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD
        assert conn.execute("SELECT count(*) FROM story_bands").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM articles_fts_idx").fetchone()[0] == 0


def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    """Alembic's schema and the models' create_all() agree (the only create_all in the project)."""
    migrated = Store(f"sqlite:///{tmp_path / 'm.db'}").engine
    reference = create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    Base.metadata.create_all(reference)

    def shape(engine: object) -> dict[str, set[tuple[str, bool]]]:
        insp = inspect(engine)
        # The FTS5 table and its shadow tables exist only through the migration (raw SQL).
        return {
            t: {(c["name"], c["nullable"]) for c in insp.get_columns(t)}
            for t in insp.get_table_names()
            if t != "alembic_version" and not t.startswith("articles_fts")
        }

    assert shape(migrated) == shape(reference)


def test_write_batch_inserts_updates_and_never_duplicates(db_url: str) -> None:
    store = Store(db_url)
    first = store.write_batch([article(1), article(2)], now=NOW)
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    again = store.write_batch([article(1), article(2)], now=NOW + timedelta(hours=1))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    changed = store.write_batch(
        [article(1, text="A corrected body of story one.")], now=NOW + timedelta(hours=2)
    )
    assert changed.updated == 1
    assert store.count_articles() == 2
    stored = store.get_article("https://pub.example/1")
    assert stored is not None
    assert stored.text == "A corrected body of story one."
    assert stored.tags == ["ports", "us"]
    assert stored.tag_origins == {"ports": "page", "us": "page"}
    assert stored.published == datetime(2026, 11, 1, tzinfo=UTC)


def test_aliases_are_recorded_and_exported(db_url: str) -> None:
    store = Store(db_url)
    store.write_batch([article(1)], [("https://mirror.example/copy", "https://pub.example/1")], now=NOW)
    rows = list(store.iter_articles())
    assert [(a.canonical_url, aliases) for a, aliases in rows] == [
        ("https://pub.example/1", ["https://mirror.example/copy"])
    ]


def test_a_failed_batch_writes_nothing(db_url: str) -> None:
    store = Store(db_url)
    bad = article(2)
    bad.published = datetime(2026, 1, 1)  # naive: the UTC column refuses it mid-batch
    with pytest.raises(Exception, match="naive"):
        store.write_batch([article(1), bad], now=NOW)
    assert store.count_articles() == 0


def test_sources_lifecycle(db_url: str) -> None:
    store = Store(db_url)
    store.add_source("wire", "feed", "https://pub.example/rss", now=NOW, tags=["wire"])
    with pytest.raises(SourceNameTaken, match="a source named 'wire' exists already") as taken:
        store.add_source("wire", "feed", "https://pub.example/other", now=NOW)
    assert taken.value.name == "wire"
    with pytest.raises(SourceExists) as known:
        store.add_source("wire-again", "feed", "https://pub.example/rss", now=NOW)
    assert (known.value.url, known.value.name) == ("https://pub.example/rss", "wire")
    with pytest.raises(UnknownSourceKind, match="unknown source kind 'podcast'"):
        store.add_source("x", "podcast", "https://pub.example/p", now=NOW)
    assert [s.name for s in store.due_sources(NOW)] == ["wire"]
    assert store.next_due_at() == NOW
    store.record_source_success(
        "wire", now=NOW, etag='"abc"', last_modified="Wed, 01 Jan 2026 00:00:00 GMT", jitter=0
    )
    assert store.due_sources(NOW + timedelta(minutes=59)) == []
    assert [s.name for s in store.due_sources(NOW + timedelta(hours=1))] == ["wire"]
    store.record_source_error("wire", "HTTP 500", now=NOW)
    info = store.get_source("wire")
    assert (info.last_error, info.error_count, info.etag) == ("HTTP 500", 1, '"abc"')
    assert info.next_due_at == NOW + timedelta(hours=2)  # backoff doubles the interval
    assert [s.name for s in store.sources_to_crawl(names=["wire"], now=NOW)] == ["wire"]
    assert store.sources_to_crawl(now=NOW) == []  # not due
    assert [s.name for s in store.sources_to_crawl(everything=True, now=NOW)] == ["wire"]
    store.remove_source("wire")
    with pytest.raises(SourceNotFound, match="no source named 'wire'"):
        store.remove_source("wire")
    with pytest.raises(SourceNotFound, match="no source named 'ghost'"):
        store.sources_to_crawl(names=["ghost"], now=NOW)


def test_crawl_runs_are_recorded_with_their_failures(db_url: str) -> None:
    with Store(db_url) as store:
        run = store.start_run(["wire", "gone"], now=NOW)
        store.finish_run(
            run,
            RunTotals(new=3, pages_fetched=5, failures={"gone": "HTTP 410 Gone"}),
            status="finished",
            now=NOW + timedelta(minutes=1),
        )
        [info] = store.recent_runs()
    assert info.to_dict() == {
        "id": run,
        "started_at": NOW.isoformat(),
        "finished_at": (NOW + timedelta(minutes=1)).isoformat(),
        "status": "finished",
        "sources": ["wire", "gone"],
        "pages_fetched": 5,
        "new": 3,
        "updated": 0,
        "duplicates": 0,
        "errors": 0,
        "failures": {"gone": "HTTP 410 Gone"},
    }


def test_unopenable_database_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="cannot open"):
        Store(f"sqlite:///{tmp_path / 'file' / 'db.sqlite'}")


@pytest.mark.postgres
def test_postgres_round_trip(postgres_url: str) -> None:
    store = Store(postgres_url)
    store.add_source("wire", "feed", "https://pub.example/rss", now=NOW)
    a = article(1)
    a.source = "wire"
    assert store.write_batch([a, article(2)], now=NOW).new == 2
    assert store.write_batch([a], now=NOW).unchanged == 1
    stored = store.get_article("https://pub.example/1")
    assert stored is not None
    assert stored.published == datetime(2026, 11, 1, tzinfo=UTC)
    assert stored.source == "wire"
    assert store.list_sources()[0].article_count == 1
    # The dedupe's lookups (a connection of their own, in autocommit) and the listing check.
    assert store.hash_for_url("https://pub.example/1") == a.content_hash
    assert store.url_for_hash(a.content_hash) == "https://pub.example/1"
    assert store.hash_for_url("https://pub.example/none") is None
    assert store.stored_urls(["https://pub.example/2", "https://pub.example/3"]) == {"https://pub.example/2"}
    store.write_batch([article(3)], now=NOW)  # the reader sees later commits: no old snapshot
    assert store.hash_for_url("https://pub.example/3") == article(3).content_hash
    store.close()


@pytest.mark.postgres
def test_the_writer_keeps_postgres_statistics_fresh(postgres_url: str) -> None:
    """Autovacuum may be off (it is on the development machines) or behind: the writer ANALYZEs
    the tables a tenth of whose rows changed, so that its story-band lookup keeps its index."""
    store = Store(postgres_url)

    def analyzed() -> set[str]:
        with store.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema()"
                    " AND last_analyze IS NOT NULL"
                )
            )
            return {name for (name,) in rows}

    assert analyzed() == set()
    texts = {n: " ".join(f"term{n}x{i}" for i in range(80)) + "." for n in range(1, 61)}
    assert store.write_batch([article(n, texts[n]) for n in texts], now=NOW).new == 60
    # The statistics of the writes reach pg_stat_user_tables within a second or so: the first
    # look may come too early, a later one (every 20,000 articles in a crawl) sees them.
    deadline = time.monotonic() + 20
    while not {"articles", "story_bands"} <= analyzed():
        assert time.monotonic() < deadline, analyzed()
        store.refresh_statistics()
        time.sleep(0.2)
    assert store.refresh_statistics() == []  # nothing is stale right after
    store.close()


def wire_copy(n: int, url: str, paragraphs: list[str]) -> Article:
    return normalize_article(Article(url=url, title=f"Copy {n}", text="\n\n".join(paragraphs)), now=NOW)


def test_wire_copies_join_one_story_across_store_instances(db_url: str) -> None:
    from tests.conftest import fixture_articles

    arts = {a["slug"]: a for a in fixture_articles()}
    ap = arts["japan-space-policy"]["paragraphs"]
    other = arts["offshore-wind-auction-results"]["paragraphs"]
    first = Store(db_url)
    first.write_batch(
        [
            wire_copy(1, "https://outlet-a.example/japan", ap),
            wire_copy(2, "https://outlet-a.example/wind", other),
        ],
        now=NOW,
    )
    first.close()
    # A second process: a new Store on the same database sees the persisted index.
    second = Store(db_url)
    result = second.write_batch(
        [
            wire_copy(
                3,
                "https://outlet-b.example/japan-us",
                [p.replace("co-operat", "cooperat") for p in ap] + ["Follow Mari Yamaguchi on Twitter."],
            ),
            wire_copy(4, "https://outlet-c.example/japan-short", ap[:5]),
        ],
        now=NOW,
    )
    assert result.joined_story == 2
    japan = second.get_article("https://outlet-a.example/japan")
    wind = second.get_article("https://outlet-a.example/wind")
    assert japan is not None
    assert wind is not None
    assert japan.story_id != wind.story_id
    [story] = second.stories()
    assert story.story_id == japan.story_id
    assert story.members == (
        StoryMember("https://outlet-a.example/japan", None, ""),
        StoryMember("https://outlet-b.example/japan-us", None, ""),
        StoryMember("https://outlet-c.example/japan-short", None, ""),
    )
    assert second.find_story("\n\n".join(ap[:6])) == japan.story_id
    assert second.find_story("\n\n".join(arts["paper-mill-closure"]["paragraphs"])) is None


def test_copies_inside_one_batch_join_one_story(db_url: str) -> None:
    from tests.conftest import fixture_articles

    paras = next(a for a in fixture_articles() if a["slug"] == "paper-mill-closure")["paragraphs"]
    store = Store(db_url)
    result = store.write_batch(
        [
            wire_copy(1, "https://a.example/mill", paras),
            wire_copy(2, "https://b.example/mill", [*paras, "Local reaction followed."]),
        ],
        now=NOW,
    )
    assert (result.new, result.joined_story) == (2, 1)
    [story] = store.stories()
    assert story.size == 2
    # A third copy in a later batch joins the same story, and the story's first two are re-exported.
    changes_before = store.changes_since(0)[1]
    later = store.write_batch([wire_copy(3, "https://c.example/mill", paras[:6])], now=NOW)
    assert later.joined_story == 1
    assert [(s.story_id, s.size) for s in store.stories()] == [(story.story_id, 3)]
    changed = {change.doc_id for change in store.changes_since(changes_before)[0]}
    assert changed == {"1", "2", "3"}


@pytest.mark.postgres
def test_postgresql_keeps_search_vectors_compressed_with_lz4(postgres_url: str) -> None:
    """Migration 0012: pglz kept every tsvector raw (it saves less than its 25% floor)."""
    text_ = " ".join(f"word{i % 300} filler{i % 170} turbine{i % 40}" for i in range(900))
    with Store(postgres_url) as store:
        store.write_batch([article(1, text=text_)], now=NOW)
        with store.session() as s:
            method, stored, raw = s.execute(
                text(
                    "SELECT pg_column_compression(search_vector), pg_column_size(search_vector),"
                    " pg_column_size(search_vector::text::tsvector) FROM articles"  # the same, raw
                )
            ).one()
    assert method == "lz4"
    assert stored < raw
