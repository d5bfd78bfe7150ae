"""The query language (aggregator/query.py): parsed the same way, matching the same articles on
SQLite (FTS5) and PostgreSQL (tsquery), and never anything but InvalidQuery for any text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.errors import InvalidQuery
from aggregator.query import Query, Term, parse, to_fts5, to_tsquery
from aggregator.search import SearchQuery, search
from aggregator.store import Store
from tests.test_search import load


def test_words_phrases_prefixes_and_operators() -> None:
    query = parse('Offshore "floating foundations" turb* -solar NOT gas OR hydrogen')
    assert query.clauses == (
        (
            Term(("offshore",)),
            Term(("floating", "foundations")),
            Term(("turb",), prefix=True),
            Term(("solar",), negated=True),
            Term(("gas",), negated=True),
        ),
        (Term(("hydrogen",)),),
    )
    assert query.words == ["offshore", "floating", "foundations", "turb", "hydrogen"]
    assert to_fts5(query) == (
        '("offshore" AND "floating foundations" AND "turb" *) NOT "solar" NOT "gas" OR ("hydrogen")'
    )
    assert to_tsquery(query) == (
        "('offshore' & ('floating' <-> 'foundations') & 'turb':* & !'solar' & !'gas') | ('hydrogen')"
    )


def test_stray_syntax_is_read_as_words() -> None:
    assert parse('"offshore wind').clauses == ((Term(("offshore", "wind")),),)
    assert parse("U.S. tariffs").clauses == ((Term(("u.s",)), Term(("tariffs",))),)
    assert parse("OR wind AND OR * ( solar) NOT").clauses == ((Term(("wind",)),), (Term(("solar",)),))
    assert parse('wind -"solar farm" "floating found"*').clauses == (
        (Term(("wind",)), Term(("solar", "farm"), negated=True), Term(("floating", "found"), prefix=True)),
    )
    assert parse("wind or not solar").words == ["wind", "or", "not", "solar"]
    assert parse("title:turbine DROP TABLE articles; --").words == [
        "title",
        "turbine",
        "drop",
        "table",
        "articles",
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "it has no words to look for"),
        ('" * -- "', "it has no words to look for"),
        ("-- -wind", "it only excludes words; add a word to look for"),
        ("wind OR NOT solar", "it only excludes words; add a word to look for"),
    ],
)
def test_a_query_with_nothing_to_look_for_is_one_clear_error(text: str, reason: str) -> None:
    with pytest.raises(InvalidQuery) as rejected:
        parse(text)
    assert rejected.value.query == text
    assert rejected.value.reason == reason


WIND = {
    "offshore-wind-auction-results",
    "steel-mill-electric-arc-furnace",
    "transmission-line-permitting",
    "utility-wildfire-shutoffs",
}
JAPAN = {"japan", "japan-space-policy"}
#: (query, the articles it finds by the last part of their URL, or InvalidQuery's reason): the
#: same on both stores. Before the parser, PostgreSQL found nothing for turb* and wind NOT solar.
TABLE: list[tuple[str, set[str] | str]] = [
    ("wind", WIND),
    ("offshore wind", {"offshore-wind-auction-results"}),
    (
        "turb*",
        {
            "engine-overhaul-shop-expansion",
            "nuclear-uprate-approval",
            "offshore-wind-auction-results",
            "regional-jet-order-backlog",
        },
    ),
    (
        "hydro*",
        {"hydrogen-pipeline-conversion", "lithium-refinery-permit", "refinery-conversion-renewable-diesel"},
    ),
    ("wind NOT solar", WIND),
    ("wind NOT wildfire", WIND - {"utility-wildfire-shutoffs"}),
    ("wind -wildfire -steel", {"offshore-wind-auction-results", "transmission-line-permitting"}),
    ("wind OR solar", WIND | {"solar-tariff-exemption-ends"}),
    ('"floating foundations"', {"offshore-wind-auction-results"}),
    ('"offshore wind', {"offshore-wind-auction-results"}),
    ("U.S.", JAPAN),
    ("U.S. tariffs", set()),
    ("tariff*", {"solar-tariff-exemption-ends"}),
    ("co-operation", {"japan-space-policy"}),
    ("lunar mission astronauts", JAPAN),
    ('refinery -"renewable diesel"', {"lithium-refinery-permit"}),
    ("steel* OR aluminium", {"hydrogen-pipeline-conversion", "steel-mill-electric-arc-furnace"}),
    ("missile* defence OR defense", JAPAN),
    ("*", "it has no words to look for"),
    ("-- -wind", "it only excludes words; add a word to look for"),
]


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('query') / 'q.db'}")
    load(store)
    yield store
    store.close()


@pytest.fixture
def both(sqlite_store: Store, postgres_url: str) -> Iterator[tuple[Store, Store]]:
    pg = Store(postgres_url)
    load(pg)
    yield sqlite_store, pg
    pg.close()


def found(store: Store, text: str) -> set[str] | str:
    try:
        hits = search(store, SearchQuery(text, limit=100, all_copies=True))
    except InvalidQuery as exc:
        return exc.reason
    return {h.canonical_url.rsplit("/", 1)[-1] for h in hits}


@pytest.mark.postgres
def test_the_same_queries_find_the_same_articles_on_both_stores(both: tuple[Store, Store]) -> None:
    sqlite, pg = both
    assert [(text, found(sqlite, text)) for text, _ in TABLE] == TABLE
    assert [(text, found(pg, text)) for text, _ in TABLE] == TABLE


def test_snippets_keep_the_matched_words(sqlite_store: Store) -> None:
    hits = search(sqlite_store, SearchQuery("offshore wind -solar"))
    assert "[offshore]" in hits[0].snippet.casefold() or "[wind]" in hits[0].snippet.casefold()


#: Text a person might type, and text nobody would: quotes, operators, stars, minus signs,
#: brackets, colons, SQL, and any Unicode.
QUERY_TEXT = st.one_of(
    st.lists(
        st.sampled_from(
            ['"', "*", "-", "OR", "AND", "NOT", "(", ")", ":", "^", "wind", "solar", "turb*", " ", "'"]
        ),
        max_size=12,
    ).map(" ".join),
    st.text(max_size=40),
)


@pytest.mark.postgres
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=QUERY_TEXT)
def test_any_text_is_a_result_or_invalid_query_on_both_stores(both: tuple[Store, Store], text: str) -> None:
    sqlite, pg = both
    for store in (sqlite, pg):
        try:
            parse(text)
        except InvalidQuery:
            with pytest.raises(InvalidQuery):
                search(store, SearchQuery(text, limit=5))
            continue
        search(store, SearchQuery(text, limit=5))
        store.facet_counts(SearchQuery(text, limit=5))


@given(text=st.text(max_size=60))
def test_parsing_any_text_gives_quoted_terms_or_invalid_query(text: str) -> None:
    try:
        query: Query = parse(text)
    except InvalidQuery:
        return
    assert query.clauses
    assert all(any(not t.negated for t in c) for c in query.clauses)
    assert all(w.replace(".", "").isalnum() for c in query.clauses for t in c for w in t.words)
