"""Process pools for a crawl's CPU work, started so that the download loop never waits for them.

A crawl runs its heavy stages in other processes: pages are extracted and normalized by a pool
(aggregator.ingest), batches are written by a process of their own (aggregator.store.writer).
The download loop only sends work and collects results, so the work runs beside it on the
machine's other cores.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import select
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: Imported once by the fork server, so that every worker forks from it ready to work.
PRELOAD = ["aggregator.ingest", "aggregator.store.writer"]


def start_pool(workers: int, name: str) -> tuple[ProcessPoolExecutor, Future[None]]:
    """A pool of ``workers`` processes, and a future done when all of them are up.

    forkserver, not fork: forking a process that runs the reactor's threads is not safe. The fork
    server imports the work's modules (and the main module, which every worker would otherwise
    import again) once. The first start waits for that import, a second or two, so the workers
    are started from a thread of their own; callers that must not block wait for the future.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*PRELOAD, *_main_module()])
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=exit_with,
                               initargs=(os.getpid(),))
    ready: Future[None] = Future()
    threading.Thread(target=_start_workers, args=(pool, workers, ready), name=f"{name}-start", daemon=True).start()
    return pool, ready


def exit_with(pid: int) -> None:
    """In a worker: exit as soon as process ``pid`` (the crawl that started us) is gone.

    A crawl killed with SIGKILL cannot stop its pool, and its workers would wait for work
    forever: each holds both ends of its task queue, so none ever sees the queue close (and the
    fork server lives on while they do). An unattended scheduler would collect them by the
    hundred. A thread waits on the crawl's pidfd and ends the worker when the crawl ends.
    """
    def watch() -> None:
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # not Linux 5.3+: look once a second instead
            while _alive(pid):
                time.sleep(1.0)
        else:
            select.select([fd], [], [])  # readable once the process has exited
        os._exit(1)

    threading.Thread(target=watch, name=f"exit-with-{pid}", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _main_module() -> list[str]:
    """The main module by name, as each worker would import it (``python -m aggregator.cli``),
    except a package's ``__main__`` (``python -m pytest``): multiprocessing skips those too, and
    importing one runs the program."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    name = spec.name if spec is not None else None
    return [name] if name and name != "__main__" and not name.endswith(".__main__") else []


def _start_workers(pool: ProcessPoolExecutor, workers: int, ready: Future[None]) -> None:
    try:
        for future in [pool.submit(os.getpid) for _ in range(workers)]:
            future.result()
        ready.set_result(None)
    except (BrokenExecutor, OSError, RuntimeError) as exc:
        ready.set_exception(exc)
    finally:
        if not ready.done():  # never leave a caller waiting
            ready.set_exception(BrokenExecutor("worker processes did not start"))


def run_calls(fn: Callable[..., T], calls: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> list[tuple[bool, Any]]:
    """Run ``fn`` on each (args, kwargs) in a worker: (True, result) or (False, the exception),
    so one failing call does not fail the others of its chunk."""
    out: list[tuple[bool, Any]] = []
    for args, kwargs in calls:
        try:
            out.append((True, fn(*args, **kwargs)))
        except Exception as exc:  # noqa: BLE001 -- handed back to the caller of that one call
            out.append((False, exc))
    return out


class ChunkedPool(Generic[T]):
    """Calls to a process pool, sent in chunks of those made in one turn of the event loop.

    Every task costs a round trip through the pool's queues and threads (a quarter of a
    millisecond of the download process's CPU a page); a crawl's callbacks resume many at a
    time, so the calls of one loop turn go as one task, at most ``chunk`` calls each.
    """

    def __init__(self, pool: ProcessPoolExecutor, fn: Callable[..., T], *, chunk: int = 8) -> None:
        self._pool = pool
        self._fn = fn
        self._chunk = chunk
        self._waiting: list[tuple[tuple[Any, ...], dict[str, Any], asyncio.Future[T]]] = []

    def submit(self, *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Queue one call (from the event loop's thread); its future resolves with fn's result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send)
        self._waiting.append((args, kwargs, future))
        if len(self._waiting) >= self._chunk:
            self._send()
        return future

    def _send(self) -> None:
        waiting, self._waiting = self._waiting, []
        if not waiting:
            return
        futures = [f for _, _, f in waiting]
        try:
            task = self._pool.submit(run_calls, self._fn, [(a, k) for a, k, _ in waiting])
        except (BrokenExecutor, RuntimeError) as exc:
            for future in futures:
                future.set_exception(exc)
            return
        loop = asyncio.get_running_loop()

        def settle_in_loop(done: Future[list[tuple[bool, Any]]]) -> None:
            if not loop.is_closed():  # a crawl that stopped has no one waiting any more
                loop.call_soon_threadsafe(_settle, done, futures)

        task.add_done_callback(settle_in_loop)


def _settle(done: Future[list[tuple[bool, Any]]], futures: list[asyncio.Future[Any]]) -> None:
    try:
        results = done.result()
    except (BrokenExecutor, OSError, RuntimeError) as exc:
        results = [(False, exc)] * len(futures)
    for future, (ok, value) in zip(futures, results, strict=True):
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
