"""The crawl's process pools: real worker processes, started through the fork server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import pytest

from aggregator.workers import ChunkedPool, WorkerCrashed, run_calls, start_pool


def counted(chunks: list[int]) -> Callable[[], ProcessPoolExecutor]:
    """start_pool for a ChunkedPool, recording the size of every task sent to the pools."""

    def start() -> ProcessPoolExecutor:
        pool, ready = start_pool(1, "test")
        ready.result(timeout=60)
        submit = pool.submit

        def counting_submit(fn: Any, *args: Any, **kwargs: Any) -> Future[Any]:
            chunks.append(len(args[1]))
            return submit(fn, *args, **kwargs)

        pool.submit = counting_submit  # type: ignore[method-assign,assignment]
        return pool

    return start


def test_calls_of_one_loop_turn_go_as_chunks_and_a_failure_stays_with_its_call() -> None:
    chunks: list[int] = []
    chunked = ChunkedPool(int, counted(chunks), chunk=3)

    async def crawl_turn() -> list[Any]:
        first = [chunked.submit(v) for v in ["1", "2", "x", "4"]]
        results = await asyncio.gather(*first, return_exceptions=True)
        later = await chunked.submit("16", base=16)
        return [*results, later]

    try:
        one, two, bad, four, later = asyncio.run(crawl_turn())
    finally:
        chunked.shutdown()
    assert (one, two, four, later) == (1, 2, 4, 22)
    assert isinstance(bad, ValueError)
    assert "invalid literal for int()" in str(bad)
    assert chunks == [3, 1, 1]  # a full chunk at once, the rest at the end of the turn, then alone


def int_or_die(value: str) -> int:
    """int(), except that "die" kills the worker process running it."""
    if value == "die":
        os._exit(9)
    return int(value)


def test_a_call_that_kills_its_worker_fails_alone_and_the_pool_is_replaced() -> None:
    chunks: list[int] = []
    chunked = ChunkedPool(int_or_die, counted(chunks), chunk=8)

    async def crawl_turn() -> list[Any]:
        first = await asyncio.gather(
            *[chunked.submit(v) for v in ["1", "die", "3", "4"]], return_exceptions=True
        )
        return [*first, await chunked.submit("5")]

    try:
        one, died, three, four, five = asyncio.run(crawl_turn())
    finally:
        chunked.shutdown()
    assert (one, three, four, five) == (1, 3, 4, 5)
    assert isinstance(died, WorkerCrashed)
    assert chunked.crashed == 1
    # The chunk of four broke the pool; its calls went again one at a time, then the next call.
    assert chunks == [4, 1, 1, 1, 1, 1]


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
    main.__spec__ = types.SimpleNamespace(name="aggregator.scheduler")  # type: ignore[assignment]
    assert _main_module() == ["aggregator.scheduler"]


def dispositions() -> tuple[bool, bool]:
    """In a worker: whether SIGINT and SIGTERM are ignored."""
    import signal

    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN, signal.getsignal(
        signal.SIGTERM
    ) == signal.SIG_IGN


def test_workers_ignore_the_crawls_signals_from_their_first_instruction() -> None:
    """No initializer here: the dispositions come from the fork server (aggregator._forkserver),
    so there is no moment after the fork when a Ctrl-C to the process group kills a worker."""
    import multiprocessing

    from aggregator.workers import PRELOAD

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        assert pool.submit(dispositions).result(timeout=60) == (True, True)
