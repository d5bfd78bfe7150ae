"""Two workers writing to one store at the same moment (issue #14): each thread has an engine of
its own, both start on a barrier, and every round is checked exactly. On PostgreSQL (the shared
store) and on an SQLite file (two processes of one machine)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from aggregator.model import Article
from aggregator.normalize import normalize_article
from aggregator.store import BatchResult, Store
from tests.conftest import fixture_articles

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ROUNDS = 12


def race(url: str, first: Callable[[Store], object], second: Callable[[Store], object]) -> list[object]:
    """Run both on stores of their own, released together by a barrier; their results in order
    (an exception is a result, and fails the caller's assertion)."""
    stores = [Store(url, migrate_schema=False), Store(url, migrate_schema=False)]
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def run(i: int, work: Callable[[Store], object]) -> None:
        barrier.wait(timeout=60)
        try:
            results[i] = work(stores[i])
        except Exception as exc:  # noqa: BLE001 (a result: the test asserts there was none)
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for s in stores:
        s.close()
    return results


def article(url: str, text: str, *, source: str | None = None) -> Article:
    return normalize_article(
        Article(url=url, title="A story", text=text, language="en", source=source), now=NOW
    )


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def url(request: pytest.FixtureRequest, db_url: str) -> str:
    if request.param == "sqlite":
        return db_url
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = Store(url)
    yield s
    s.close()


def writes(url: str, body: str) -> Callable[[Store], BatchResult]:
    """A worker's batch of one article."""
    return lambda store: store.write_batch([article(url, body)], now=NOW)


def texts() -> list[str]:
    return ["\n\n".join(a["paragraphs"]) for a in fixture_articles()]


def test_the_same_url_from_two_workers_is_stored_once(store: Store, url: str) -> None:
    for n, body in enumerate(texts()[:ROUNDS]):
        page = f"https://wire.example/same-{n}"
        results = race(
            url,
            writes(page, body),
            writes(page, body),
        )
        assert [type(r).__name__ for r in results] == ["BatchResult", "BatchResult"]
        assert sorted((r.new, r.unchanged) for r in results if isinstance(r, BatchResult)) == [(0, 1), (1, 0)]
        with store.session() as s:
            assert s.scalar(text("SELECT count(*) FROM articles WHERE url = :u"), {"u": page}) == 1


def test_two_copies_of_one_wire_story_written_at_once_are_one_story(store: Store, url: str) -> None:
    for n, body in enumerate(texts()[:ROUNDS]):
        copy = body.replace("\n\n", "\n\nFollow the story on our site.\n\n", 1)
        results = race(
            url,
            writes(f"https://a.example/{n}", body),
            writes(f"https://b.example/{n}", copy),
        )
        assert [type(r).__name__ for r in results] == ["BatchResult", "BatchResult"]
        with store.session() as s:
            stories = s.execute(
                text("SELECT count(*), count(DISTINCT story_id) FROM articles WHERE url IN (:a, :b)"),
                {"a": f"https://a.example/{n}", "b": f"https://b.example/{n}"},
            ).one()
        assert tuple(stories) == (2, 1), n


def test_source_bookkeeping_from_two_workers_is_not_lost(store: Store, url: str) -> None:
    store.add_source("wire", "feed", "https://wire.example/feed.xml", now=NOW)
    for n in range(ROUNDS):
        results = race(
            url,
            lambda s: s.record_source_error("wire", "HTTP 503", now=NOW),
            lambda s: s.record_source_error("wire", "HTTP 502", now=NOW),
        )
        assert results == [None, None]
        assert store.get_source("wire").error_count == 2 * (n + 1)
    results = race(
        url,
        lambda s: s.record_source_success("wire", now=NOW, etag='"v2"', jitter=0.0),
        lambda s: s.record_source_error("wire", "HTTP 500", now=NOW),
    )
    assert results == [None, None]
    wire = store.get_source("wire")
    # Whichever came second, the first's bookkeeping is there: its etag, or its error count.
    assert wire.etag == '"v2"'
    assert (wire.error_count, wire.last_error) in {(0, None), (1, "HTTP 500")}
