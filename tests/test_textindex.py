"""The search index beside the database (aggregator.textindex), on real SQLite files, the local
PostgreSQL and a real tantivy index on disk."""

from __future__ import annotations

import json
import logging
import re
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
        assert num_docs(again) == 33  # tantivy's commit came first; only the cursor was lost
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


def test_an_index_of_another_database_is_left_for_the_database_until_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "index"
    first, second = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    with Store(first, search_index=folder) as store:
        load(store)
        assert search(store, SearchQuery("titanium"))
    with Store(second) as other:
        load(other)
    with caplog.at_level(logging.WARNING), Store(second, search_index=folder) as store:
        assert store.text_index is None
        assert search(store, SearchQuery("titanium"))  # answered by the database
    assert re.search(r"built for sqlite:///\S*a\.db \(version 2\), not sqlite:///\S*b\.db", caplog.text)
    answered = invoke("--search-index", str(folder), "search", "titanium", "--json", db=second)
    assert answered.code == 0
    assert json.loads(answered.stdout.splitlines()[0])["title"].startswith("Titanium forging")
    assert answered.stderr.count("\n") == 1
    assert "index sync --rebuild" in answered.stderr
    refused = invoke("--search-index", str(folder), "index", "sync", db=second)
    assert refused.code == 1
    assert "run `aggregator index sync --rebuild`" in refused.stderr
    rebuilt = invoke("--search-index", str(folder), "index", "sync", "--rebuild", "--json", db=second)
    assert rebuilt.code == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["indexed"] == 33
    assert num_docs(TextIndex(folder, second)) == 33  # the first database's entries are gone


def test_a_folder_that_is_no_index_is_never_emptied(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    for name in ("notes", "tantivy-lookalike"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "todo.txt").write_text("keep me")
        if name == "tantivy-lookalike":
            (folder / "meta.json").write_text("{}")  # tantivy's file name, not our marker
        for rebuild in (False, True):
            with pytest.raises(SearchIndexError, match="the folder is not empty and holds no search index"):
                TextIndex(folder, url, rebuild=rebuild)
        assert (folder / "todo.txt").read_text() == "keep me"
    missing = invoke("index", "sync", db=url)
    assert missing.code == 2
    assert "no search index: give --search-index DIR" in missing.stderr


def test_a_damaged_marker_leaves_search_to_the_database_until_rebuilt(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "index"
    with Store(db_url, search_index=folder) as store:
        load(store)
        assert search(store, SearchQuery("titanium"))
    (folder / "aggregator-index.json").write_text("")  # a power cut mid-write, say
    with caplog.at_level(logging.WARNING), Store(db_url, search_index=folder) as store:
        assert store.text_index is None
        assert search(store, SearchQuery("titanium"))
    assert "unreadable aggregator-index.json" in caplog.text
    rebuilt = invoke("--search-index", str(folder), "index", "sync", "--rebuild", "--json", db=db_url)
    assert (rebuilt.code, json.loads(rebuilt.stdout)["indexed"]) == (0, 33)


def test_one_writer_at_a_time_and_a_rebuild_is_not_served_half_built(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(textindex, "CATCH_UP", 5)
    folder = tmp_path / "index"
    with Store(db_url, search_index=folder) as web:
        load(web)
        assert web.text_index is not None
        web.text_index.sync(web)
        other = TextIndex(folder, db_url)
        with other._writing():  # another process is syncing
            with pytest.raises(SearchIndexError, match="another process is writing it"):
                web.text_index.sync(web)
            with pytest.raises(SearchIndexError, match="another process is writing it"):
                TextIndex(folder, db_url, rebuild=True)
            assert web.text_index.catch_up(web)  # up to date: it still answers
        TextIndex(folder, db_url, rebuild=True)  # emptied, cursor 0, a new generation
        assert not web.text_index.catch_up(web)  # 33 behind now: the database answers
        assert web.text_index.cursor == 0
        assert search(web, SearchQuery("titanium"))


def test_source_filters_through_the_index_and_a_removed_source(
    db_url: str, tmp_path: Path, no_sql_search: None
) -> None:
    with Store(db_url, search_index=tmp_path / "index") as store:
        store.add_source("Wire", "feed", "https://wire.example/rss", now=NOW)
        store.add_source("Daily", "feed", "https://daily.example/rss", now=NOW)
        articles = [
            Article(
                url=f"https://{host}.example/{i}",
                title=f"Turbine order {i}",
                text=f"The turbine maker booked order number {i} this week from a utility.",
                language=language,
                source=source,
                published=datetime(2026, 11, day, tzinfo=UTC),
            )
            for i, (host, source, language, day) in enumerate(
                [("wire", "Wire", "en", 1), ("wire", "Wire", "de", 2), ("daily", "Daily", "en", 3)]
            )
        ]
        store.write_batch([normalize_article(a, now=NOW) for a in articles], now=NOW)

        def hosts(**filters: object) -> list[str]:
            hits = search(store, SearchQuery("turbine", limit=10, all_copies=True, **filters))  # type: ignore[arg-type]
            return sorted(h.canonical_url for h in hits)

        assert hosts(source="Wire") == ["https://wire.example/0", "https://wire.example/1"]
        assert hosts(language="DE") == ["https://wire.example/1"]
        assert hosts(since=datetime(2026, 11, 2, tzinfo=UTC)) == [
            "https://daily.example/2",
            "https://wire.example/1",
        ]
        # until is exclusive, as on the database: published on the 3rd is not before the 3rd
        assert hosts(until=datetime(2026, 11, 3, tzinfo=UTC)) == [
            "https://wire.example/0",
            "https://wire.example/1",
        ]
        store.remove_source("Wire")
        assert hosts(source="Wire") == []
        assert len(hosts()) == 3  # the articles stay
        store.add_source("Wire", "feed", "https://new-wire.example/rss", now=NOW)
        assert hosts(source="Wire") == []  # the name's new owner does not inherit them


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


def test_only_the_rows_a_page_uses_are_read_from_the_index() -> None:
    from aggregator.textindex import _shown

    # (score, id, story, address): stories 7 and 9 have copies; -1 is an article with no story.
    ranked = [
        (9.0, 1, 7, "a"),
        (8.0, 2, 7, "b"),
        (7.0, 3, -1, "c"),
        (6.0, 4, 9, "d"),
        (5.0, 5, 7, "e"),
        (4.0, 6, 9, "f"),
    ]
    assert [h[1] for h in _shown(ranked, 2, all_copies=False)] == [1, 2, 3, 5]
    assert [h[1] for h in _shown(ranked, 3, all_copies=False)] == [1, 2, 3, 4, 5, 6]
    assert [h[1] for h in _shown(ranked, 2, all_copies=True)] == [1, 2]
