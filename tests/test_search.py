"""Full-text search on a real SQLite file and on the local PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from aggregator.errors import InvalidQuery
from aggregator.model import Article
from aggregator.normalize import normalize_article
from aggregator.search import SearchQuery, search
from aggregator.store import Store
from tests.conftest import fixture_articles

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def load(store: Store) -> None:
    """The fixture articles, plus a wire copy of the Japan story from a second outlet."""
    batch = []
    for a in fixture_articles():
        batch.append(
            normalize_article(
                Article(
                    url=f"https://industrywire.example/{a['slug']}",
                    title=a["title"],
                    subtitle=a["dek"],
                    section=a["section"],
                    tags=a["tags"],
                    text="\n\n".join(a["paragraphs"]),
                    language="en",
                    published=datetime.fromisoformat(a["published"]),
                ),
                now=NOW,
            )
        )
    japan = next(a for a in fixture_articles() if a["slug"] == "japan-space-policy")
    batch.append(
        normalize_article(
            Article(
                url="https://other-outlet.example/japan",
                title="Japan plans space push with US",
                section="World",
                text="\n\n".join(p.replace("co-operat", "cooperat") for p in japan["paragraphs"]),
                language="en",
                published=datetime(2020, 6, 29, 18, tzinfo=UTC),
            ),
            now=NOW,
        )
    )
    store.write_batch(batch, now=NOW)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    load(s)
    yield s
    s.close()


def test_known_article_ranks_first_and_copies_collapse(store: Store) -> None:
    hits = search(store, SearchQuery("lunar mission astronauts"))
    assert hits[0].canonical_url == "https://industrywire.example/japan-space-policy"
    assert hits[0].other_copies == ["https://other-outlet.example/japan"]
    assert "[" in hits[0].snippet
    every = search(store, SearchQuery("lunar mission astronauts", all_copies=True))
    assert {h.canonical_url for h in every} == {
        "https://industrywire.example/japan-space-policy",
        "https://other-outlet.example/japan",
    }


def test_title_outranks_body(store: Store) -> None:
    hits = search(store, SearchQuery("titanium"))
    assert hits[0].title == "Titanium forging capacity becomes the next aerospace bottleneck"


def test_phrase_prefix_and_filters(store: Store) -> None:
    assert [h.title for h in search(store, SearchQuery('"floating foundations"'))] == [
        "Offshore wind auction draws record bids despite higher costs"
    ]
    assert {h.title for h in search(store, SearchQuery("hydro*", tag="Energy"))} == {
        "Gas network tests hydrogen in a converted transmission pipeline",
        "Lithium hydroxide refinery wins final permit",
        "Refinery conversion to renewable diesel runs a year late",
    }
    assert search(store, SearchQuery("hydro*", section="Manufacturing")) == []
    since = search(store, SearchQuery("plant", since=datetime(2026, 10, 25, tzinfo=UTC), limit=50))
    assert since
    assert all(h.published and h.published >= datetime(2026, 10, 25, tzinfo=UTC) for h in since)


def test_stray_syntax_is_read_and_an_empty_query_explained(store: Store) -> None:
    assert {h.canonical_url for h in search(store, SearchQuery("U.S. lunar"))} == {
        "https://industrywire.example/japan-space-policy"
    }
    assert search(store, SearchQuery('"U.S." lunar')) == search(store, SearchQuery("U.S. lunar"))
    with pytest.raises(InvalidQuery, match="the query is empty"):
        search(store, SearchQuery("  "))
    with pytest.raises(InvalidQuery, match=r"cannot read the query '\* -wind' \(it only excludes words"):
        search(store, SearchQuery("* -wind"))


def test_index_follows_updates_and_deletes(store: Store) -> None:
    article = store.get_article("https://industrywire.example/paper-mill-closure")
    assert article is not None
    article.text = "The mill will now stay open after a buyer was found for the zeppelin plant."
    store.write_batch([normalize_article(article, now=NOW)], now=NOW)
    assert [h.title for h in search(store, SearchQuery("zeppelin"))] == [article.title]
    assert search(store, SearchQuery('"wood fibre"')) == []
    store.delete_article(article.canonical_url, now=NOW)
    assert search(store, SearchQuery("zeppelin")) == []


def test_reindex_repairs(store: Store) -> None:
    from sqlalchemy import text

    with store.session() as s:
        s.execute(text("DELETE FROM articles_fts"))
    assert search(store, SearchQuery("titanium")) == []
    assert store.reindex() == 33
    assert search(store, SearchQuery("titanium"))


@pytest.mark.postgres
def test_postgres_search(postgres_url: str) -> None:
    store = Store(postgres_url)
    load(store)
    hits = search(store, SearchQuery("lunar mission astronauts"))
    assert hits[0].canonical_url == "https://industrywire.example/japan-space-policy"
    assert hits[0].other_copies == ["https://other-outlet.example/japan"]
    assert [h.title for h in search(store, SearchQuery('"floating foundations"'))] == [
        "Offshore wind auction draws record bids despite higher costs"
    ]
    assert search(store, SearchQuery("titanium", tag="energy")) == []
    store.close()


def test_make_snippet_marks_matches_around_the_first() -> None:
    from aggregator.search import make_snippet, query_terms

    body = " ".join(f"w{i}" for i in range(40)) + " the shipping lines said ships were late " + "tail " * 30
    snippet = make_snippet(body, query_terms('"shipping lines" ship*'))
    assert "[shipping] [lines]" in snippet
    assert "[ships]" in snippet
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert len(snippet.split()) <= 16


def test_make_snippet_reads_only_around_the_match_of_a_long_text() -> None:
    from aggregator.search import make_snippet, query_terms

    body = "filler " * 5000 + "the turbine blades cracked " + "tail " * 5000
    expected = "…filler filler filler filler the [turbine] blades cracked " + "tail " * 7 + "tail…"
    assert make_snippet(body, query_terms("turbines")) == expected
    # A text without spaces (Chinese, Japanese) is one "word": the snippet is bounded all the same.
    assert make_snippet("风电" * 20_000, query_terms("turbine")) == "风电" * 96 + "…"
    assert make_snippet("", query_terms("turbine")) == ""
    # The match is kept however long the text before it runs without a space.
    cjk = make_snippet("中国的风电产业发展迅速，" * 30 + "海上风电场建设加快。", query_terms("海上风电场"))
    assert "[海上风电场建设加快]" in cjk
    assert cjk.startswith("…")
    assert len(cjk) <= 16 * 12 + 4
    assert make_snippet("风电" * 500 + " turbine rotor", query_terms("turbine")).endswith("[turbine] rotor")
    assert make_snippet(" " * 1000 + "turbine x", query_terms("turbine")) == "[turbine] x"


def test_broad_queries_rank_their_newest_matches(store: Store) -> None:
    from aggregator.store.search import compiled, rank_floor

    ids = sorted(h.article_id for h in search(store, SearchQuery("wind", limit=50, all_copies=True)))
    assert len(ids) == 4
    with store.session() as s:
        match = compiled("sqlite", "wind")
        assert rank_floor(s.connection(), "sqlite", match, window=2) == ids[-2]
        assert rank_floor(s.connection(), "sqlite", match, window=4) == ids[0]
        assert rank_floor(s.connection(), "sqlite", match, window=5) == 0


def _newest_under_filters(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A filter narrows the matches the window counts: the newest two "wind" articles tagged
    energy, not the newest two "wind" articles of which one lacks the tag."""
    import aggregator.store.search as store_search

    def ids(**filters: str) -> list[int]:
        query = SearchQuery("wind", limit=50, all_copies=True, **filters)  # type: ignore[arg-type]
        return sorted(h.article_id for h in search(store, query))

    assert ids(tag="energy") == [12, 17, 21]
    monkeypatch.setattr(store_search, "RANK_WINDOW", 2)
    assert ids(tag="energy") == [17, 21]
    assert ids(section="energy", tag="energy") == [17, 21]
    assert ids() == [21, 22]


def test_filtered_queries_rank_the_newest_matches_under_their_filters(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _newest_under_filters(store, monkeypatch)


@pytest.mark.postgres
def test_filtered_queries_rank_the_newest_matches_under_their_filters_on_postgres(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(postgres_url)
    load(store)
    _newest_under_filters(store, monkeypatch)
    store.close()


def _facets_count_every_match(store: Store) -> None:
    facets = store.facet_counts(SearchQuery("wind", tag="energy"))
    assert (facets.total, facets.counted, facets.more) == (3, 3, False)
    assert {(f.value, f.count) for f in facets.tags} >= {("energy", 3), ("grid", 2)}
    wide = store.facet_counts(SearchQuery("wind", tag="energy"), sample=2)
    assert (wide.total, wide.counted) == (3, 2)
    assert store.facet_counts(SearchQuery("wind")).total == 4  # the same on both stores
    assert store.facet_counts(SearchQuery("nosuchwordanywhere")).total == 0


def test_facets_of_a_filtered_search_count_every_match(store: Store) -> None:
    _facets_count_every_match(store)


@pytest.mark.postgres
def test_facets_of_a_filtered_search_count_every_match_on_postgres(postgres_url: str) -> None:
    store = Store(postgres_url)
    load(store)
    _facets_count_every_match(store)
    store.close()


@pytest.mark.parametrize(
    ("span", "enough", "expected"),
    [
        (5, True, [(True, 5)]),  # floor = the newest id - 5
        (5, False, [(True, 5), (False, 5)]),
        (10_000, True, [(False, None)]),  # fewer articles than the span: all of them at once
    ],
)
def test_recent_first_widens_to_every_article_only_when_the_newest_are_not_enough(
    store: Store, monkeypatch: pytest.MonkeyPatch, span: int, enough: bool, expected: list[tuple[bool, Any]]
) -> None:
    from aggregator.store import search as store_search

    monkeypatch.setattr(store_search, "RECENT_SPAN", span)
    params: dict[str, Any] = {}
    asked: list[tuple[bool, Any]] = []

    def run(recent: bool) -> bool:
        asked.append((recent, params.get("floor")))
        return recent

    def sufficient(found: bool) -> bool:
        return enough and found

    with store.session() as s:
        top = int(s.execute(text("SELECT max(id) FROM articles")).scalar_one())
        store_search.recent_first(s.connection(), params, run, sufficient)
    assert asked == [(recent, None if floor is None else top - floor) for recent, floor in expected]


@pytest.mark.postgres
@pytest.mark.parametrize("span", [1, 2, 3, 12, 30])
def test_postgres_searches_the_newest_articles_first_with_the_same_results(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, span: int
) -> None:
    """However few of the newest articles are searched first, the ranked window and the facets
    are those of all the matches: the newest span is used only when it holds enough of them."""
    import aggregator.store.search as store_search
    from aggregator.store import reading

    store = Store(postgres_url)
    load(store)
    monkeypatch.setattr(store_search, "RANK_WINDOW", 2)
    monkeypatch.setattr(reading, "COUNT_CAP", 1)
    monkeypatch.setattr(store_search, "RECENT_SPAN", span)

    def ids(**filters: str) -> list[int]:
        query = SearchQuery("wind", limit=50, all_copies=True, **filters)  # type: ignore[arg-type]
        return sorted(h.article_id for h in search(store, query))

    assert ids() == [21, 22]
    assert ids(tag="energy") == [17, 21]
    newest = store.facet_counts(SearchQuery("wind"), sample=1)
    assert (newest.total, newest.more, newest.counted) == (1, True, 1)
    tags = store.articles_by_id([22])[22][0].tags
    assert sorted((f.value, f.count) for f in newest.tags) == sorted((t, 1) for t in tags)
    assert store.facet_counts(SearchQuery("wind", tag="energy")).counted == 3
    assert store.facet_counts(SearchQuery("nosuchwordanywhere")).total == 0
    store.close()
