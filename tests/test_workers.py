"""The crawl's process pools: real worker processes, started through the fork server."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Any

import pytest

from aggregator.workers import ChunkedPool, run_calls, start_pool


def test_calls_of_one_loop_turn_go_as_chunks_and_a_failure_stays_with_its_call() -> None:
    pool, ready = start_pool(1, "test")
    try:
        ready.result(timeout=60)
        chunks: list[int] = []
        submit = pool.submit

        def counting_submit(fn: Any, *args: Any, **kwargs: Any) -> Future[Any]:
            chunks.append(len(args[1]))
            return submit(fn, *args, **kwargs)

        pool.submit = counting_submit  # type: ignore[method-assign,assignment]

        async def crawl_turn() -> list[Any]:
            chunked = ChunkedPool(pool, int, chunk=3)
            first = [chunked.submit(v) for v in ["1", "2", "x", "4"]]
            results = await asyncio.gather(*first, return_exceptions=True)
            later = await chunked.submit("16", base=16)
            return [*results, later]

        one, two, bad, four, later = asyncio.run(crawl_turn())
    finally:
        pool.shutdown()
    assert (one, two, four, later) == (1, 2, 4, 22)
    assert isinstance(bad, ValueError)
    assert "invalid literal for int()" in str(bad)
    assert chunks == [3, 1, 1]  # a full chunk at once, the rest at the end of the turn, then alone


def test_run_calls_reports_each_call() -> None:
    results = run_calls(int, [(("7",), {}), (("z",), {})])
    assert results[0] == (True, 7)
    assert results[1][0] is False
    assert isinstance(results[1][1], ValueError)


def test_a_package_main_is_never_preloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    from aggregator.workers import _main_module

    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name="pytest.__main__")  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert _main_module() == []
    main.__spec__ = types.SimpleNamespace(name="aggregator.cli")  # type: ignore[assignment]
    assert _main_module() == ["aggregator.cli"]
