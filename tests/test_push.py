"""aggregator.push against loopback servers speaking the engines' documented formats.

OpenSearch and Meilisearch cannot run on our machines; tests/fakeengines.py implements the
request/response formats the client relies on (see its docstring), including partial failures
and 429 answers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.model import Article
from aggregator.normalize import normalize_article
from aggregator.push import Engine, push
from aggregator.store import Store
from tests.fakeengines import engine

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def art(n: int) -> Article:
    return normalize_article(
        Article(url=f"https://p.example/{n}", title=f"T{n}", text=f"Story {n} on ports."), now=NOW
    )


def no_sleep(seconds: float) -> None:
    pass


def test_opensearch_push_is_incremental_and_retries_429(db_url: str) -> None:
    store = Store(db_url)
    store.write_batch([art(i) for i in range(1, 6)], now=NOW)
    with engine("opensearch") as es:
        es.throttle = 2  # the first two requests get 429 + Retry-After
        first = push(store, Engine.OPENSEARCH, es.url, batch_size=2, sleep=no_sleep)
        assert (first.sent, first.acknowledged, first.failures, first.error) == (5, 5, [], None)
        assert sorted(es.docs) == ["1", "2", "3", "4", "5"]
        assert es.docs["3"]["title"] == "T3"
        again = push(store, Engine.OPENSEARCH, es.url, sleep=no_sleep)
        assert again.sent == 0
        store.delete_article("https://p.example/2", now=NOW)
        store.write_batch([art(6)], now=NOW)
        third = push(store, Engine.OPENSEARCH, es.url, sleep=no_sleep)
        assert third.sent == 2
        assert sorted(es.docs) == ["1", "3", "4", "5", "6"]


def test_cursor_stops_before_a_refused_document(db_url: str) -> None:
    store = Store(db_url)
    store.write_batch([art(i) for i in range(1, 6)], now=NOW)
    with engine("opensearch") as es:
        es.refuse = {"3"}
        result = push(store, Engine.OPENSEARCH, es.url, batch_size=10, sleep=no_sleep)
        assert result.failures == [("3", "HTTP 400: bad field")]
        assert result.acknowledged == 2
        es.refuse = set()
        retry = push(store, Engine.OPENSEARCH, es.url, batch_size=10, sleep=no_sleep)
        # 3 is sent again, and so are 4 and 5, which came after it.
        assert (retry.sent, retry.failures) == (3, [])
        assert sorted(es.docs) == ["1", "2", "3", "4", "5"]


def test_unreachable_engine_keeps_the_cursor(db_url: str) -> None:
    store = Store(db_url)
    store.write_batch([art(1)], now=NOW)
    result = push(store, Engine.OPENSEARCH, "http://127.0.0.1:9", sleep=no_sleep)
    assert result.error is not None
    assert result.cursor == 0
    again = push(store, Engine.OPENSEARCH, "http://127.0.0.1:9", sleep=no_sleep)
    assert (again.sent, again.cursor) == (0, 0)
    assert again.error == "POST http://127.0.0.1:9/_bulk: connection refused (is the engine running?)"


def test_push_to_a_dead_engine_is_one_line_and_exit_1_at_once(db_url: str) -> None:
    import time

    from tests.conftest import invoke

    store = Store(db_url)
    store.write_batch([art(1)], now=NOW)
    store.close()
    began = time.monotonic()
    result = invoke("push", "opensearch", "http://127.0.0.1:9", db=db_url)
    assert time.monotonic() - began < 5  # not 17 s of backoff against a port nothing listens on
    assert (result.code, result.stdout, result.stderr) == (
        1,
        "",
        (
            "aggregator: error: push to http://127.0.0.1:9 failed: POST http://127.0.0.1:9/_bulk: "
            "connection refused (is the engine running?) (cursor stays at 0)\n"
        ),
    )


def test_an_engine_that_never_answers_gives_up_at_the_deadline() -> None:
    import socket
    import time

    from aggregator.push import Http, PushError

    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        http = Http(f"http://127.0.0.1:{port}", timeout=0.5, deadline_s=2.0)
        began = time.monotonic()
        with pytest.raises(PushError) as gave_up:
            http.request("POST", "/_bulk", b"{}", "application/json")
        assert gave_up.value.reason == "no answer within 2 s"
        assert time.monotonic() - began < 5


def test_meilisearch_push_with_tasks(db_url: str) -> None:
    store = Store(db_url)
    store.write_batch([art(1), art(2)], now=NOW)
    with engine("meilisearch") as meili:
        meili.fail_tasks = True
        failed = push(store, Engine.MEILISEARCH, meili.url, sleep=no_sleep)
        assert [did for did, _ in failed.failures] == ["1", "2"]
        assert failed.cursor == 0
        meili.fail_tasks = False
        ok = push(store, Engine.MEILISEARCH, meili.url, sleep=no_sleep)
        assert (ok.acknowledged, ok.failures) == (2, [])
        store.delete_article("https://p.example/1", now=NOW)
        assert push(store, Engine.MEILISEARCH, meili.url, sleep=no_sleep).acknowledged == 1
        assert sorted(meili.docs) == ["2"]
