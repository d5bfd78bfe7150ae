"""The search index beside the database (aggregator.textindex), on real SQLite files, the local
PostgreSQL and a real tantivy index on disk."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import aggregator.store.search as store_search
from aggregator import textindex
from aggregator.errors import SearchIndexError
from aggregator.model import Article
from aggregator.normalize import normalize_article
from aggregator.search import SearchQuery, search
from aggregator.store import Store
from aggregator.textindex import TextIndex
from tests import test_search
from tests.conftest import invoke
from tests.test_query import TABLE, found
from tests.test_search import load

NOW = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.fixture
def no_sql_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Searches must be answered by the index: the database's ranking statements fail."""

    def refused(*args: object, **kwargs: object) -> str:
        raise AssertionError("searched the database, not the index")

    monkeypatch.setattr(store_search, "_sqlite_sql", refused)
    monkeypatch.setattr(store_search, "_postgres_sql", refused)


@pytest.fixture
def indexed(db_url: str, tmp_path: Path, no_sql_search: None) -> Iterator[Store]:
    store = Store(db_url, search_index=tmp_path / "index")
    load(store)
    yield store
    store.close()


def num_docs(index: TextIndex) -> int:
    index._index.reload()
    return int(index._index.searcher().num_docs)


def test_the_query_table_finds_the_same_articles_through_the_index(indexed: Store) -> None:
    assert [(text, found(indexed, text)) for text, _ in TABLE] == TABLE
    assert indexed.text_index is not None
    assert indexed.text_index.cursor == indexed.last_change() == 33
    assert num_docs(indexed.text_index) == 33


@pytest.mark.postgres
def test_the_query_table_on_postgresql_through_the_index(
    postgres_url: str, tmp_path: Path, no_sql_search: None
) -> None:
    store = Store(postgres_url, search_index=tmp_path / "index")
    load(store)
    try:
        assert [(text, found(store, text)) for text, _ in TABLE] == TABLE
        # Filters read the same values on both: a tag, a date range.
        assert search(store, SearchQuery("titanium", tag="energy")) == []
        june = search(store, SearchQuery("japan", since=datetime(2020, 6, 29, tzinfo=UTC), limit=50))
        assert {h.canonical_url for h in june} == {"https://industrywire.example/japan-space-policy"}
    finally:
        store.close()


@pytest.mark.parametrize(
    "check",
    [
        test_search.test_known_article_ranks_first_and_copies_collapse,
        test_search.test_title_outranks_body,
        test_search.test_phrase_prefix_and_filters,
        test_search.test_stray_syntax_is_read_and_an_empty_query_explained,
        test_search.test_index_follows_updates_and_deletes,
    ],
    ids=lambda check: check.__name__.removeprefix("test_"),
)
def test_search_through_the_index_behaves_as_the_database_search(indexed: Store, check: object) -> None:
    check(indexed)  # type: ignore[operator]


def test_a_death_between_commit_and_cursor_applies_the_stretch_again(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_sql_search: None
) -> None:
    with Store(db_url) as store:
        load(store)
        first = TextIndex(tmp_path / "index", db_url)

        def killed(cursor: int) -> None:
            raise KeyboardInterrupt  # the process dies after tantivy's commit, before the cursor

        monkeypatch.setattr(first, "_save_cursor", killed)
        with pytest.raises(KeyboardInterrupt):
            first.sync(store)
        del first
        again = TextIndex(tmp_path / "index", db_url)
        assert again.cursor == 0
        assert again.sync(store).indexed == 33
        assert num_docs(again) == 33  # each article once, not twice
        store.text_index = again
        hits = search(store, SearchQuery("wind", all_copies=True, limit=50))
        assert len(hits) == len({h.article_id for h in hits}) == 4


def test_far_behind_it_searches_the_database_and_says_how_to_catch_up(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(textindex, "CATCH_UP", 5)
    folder = tmp_path / "index"
    with Store(db_url, search_index=folder) as store:
        load(store)
        with caplog.at_level(logging.WARNING, logger="aggregator.textindex"):
            hits = search(store, SearchQuery("titanium"))
        assert hits[0].title == "Titanium forging capacity becomes the next aerospace bottleneck"
        assert f"search index {folder} is 33 changes behind the database" in caplog.text
        assert store.text_index is not None
        assert store.text_index.cursor == 0

    synced = invoke("--search-index", str(folder), "index", "sync", "--json", db=db_url)
    assert synced.code == 0, synced.stderr
    result = json.loads(synced.stdout)
    assert (result["indexed"], result["removed"], result["cursor"]) == (33, 0, 33)

    monkeypatch.setattr(store_search, "_sqlite_sql", None)  # the database's search would now fail
    out = invoke("--search-index", str(folder), "search", "titanium", "--json", db=db_url)
    assert out.code == 0, out.stderr
    first = json.loads(out.stdout.splitlines()[0])
    assert first["title"] == "Titanium forging capacity becomes the next aerospace bottleneck"
    again = invoke("--search-index", str(folder), "index", "sync", db=db_url)
    assert again.code == 0
    assert "0 article(s) indexed, 0 removed, up to change 33" in again.stderr


def test_a_sync_by_another_process_is_seen_by_a_searching_one(
    db_url: str, tmp_path: Path, no_sql_search: None
) -> None:
    folder = tmp_path / "index"
    with Store(db_url, search_index=folder) as writer_side, Store(db_url, search_index=folder) as web:
        load(writer_side)
        assert writer_side.text_index is not None
        assert web.text_index is not None
        writer_side.text_index.sync(writer_side)
        assert search(web, SearchQuery("titanium"))  # reads the other's commit and cursor
        assert web.text_index.cursor == 33
        extra = Article(
            url="https://industrywire.example/zeppelin",
            title="Zeppelin works reopen",
            text="The zeppelin hangar at the lake reopens for a new airship programme this spring.",
            language="en",
        )
        writer_side.write_batch([normalize_article(extra, now=NOW)], now=NOW)
        writer_side.text_index.sync(writer_side)
        assert [h.title for h in search(web, SearchQuery("zeppelin"))] == ["Zeppelin works reopen"]
        assert web.text_index.cursor == 34


def test_an_index_of_another_database_or_a_foreign_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    first, second = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    with Store(first, search_index=folder) as store:
        load(store)
        assert search(store, SearchQuery("titanium"))
    with pytest.raises(SearchIndexError, match=r"built for sqlite:///.*a\.db \(version 1\), not sqlite:///"):
        Store(second, search_index=folder)
    refused = invoke("--search-index", str(folder), "search", "titanium", db=second)
    assert refused.code == 1
    assert refused.stderr.count("\n") == 1
    assert "index sync --rebuild" in refused.stderr
    rebuilt = invoke("--search-index", str(folder), "index", "sync", "--rebuild", "--json", db=second)
    assert rebuilt.code == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["indexed"] == 0

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    for rebuild in (False, True):
        with pytest.raises(SearchIndexError, match="the folder is not empty and holds no search index"):
            TextIndex(notes, first, rebuild=rebuild)
    assert (notes / "todo.txt").read_text() == "keep me"
    missing = invoke("index", "sync", db=first)
    assert missing.code == 2
    assert "no search index: give --search-index DIR" in missing.stderr


def test_an_updated_or_deleted_article_leaves_no_old_entry(indexed: Store) -> None:
    assert indexed.text_index is not None
    assert search(indexed, SearchQuery('"wood fibre"'))  # the index holds the first version
    test_search.test_index_follows_updates_and_deletes(indexed)  # updated, then deleted
    assert num_docs(indexed.text_index) == 32


def test_facets_of_a_search_come_from_the_index(indexed: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert indexed.text_index is not None
    asked: list[int] = []
    newest = indexed.text_index.newest

    def counted(query: SearchQuery, limit: int) -> tuple[list[int], int]:
        asked.append(limit)
        return newest(query, limit)

    monkeypatch.setattr(indexed.text_index, "newest", counted)
    test_search._facets_count_every_match(indexed)
    assert asked == [1000, 2, 1000, 1000]
    assert newest(SearchQuery("wind", tag="energy"), 2) == ([21, 17], 3)  # the newest first


def test_the_web_app_keeps_the_index_in_step_while_nobody_searches(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from fastapi.testclient import TestClient

    from aggregator.web.app import make_app
    from aggregator.web.state import WebSettings

    monkeypatch.setattr(textindex, "FOLLOW_EVERY_S", 0.05)
    store = Store(db_url, search_index=tmp_path / "index")
    try:
        with TestClient(make_app(WebSettings(db_url), store=store)):
            load(store)  # 33 articles written while the app runs; no search asks for them
            deadline = time.monotonic() + 30
            assert store.text_index is not None
            while store.text_index.cursor < 33 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert store.text_index.cursor == 33
            assert num_docs(store.text_index) == 33
    finally:
        store.close()
