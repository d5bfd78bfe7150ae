"""Process pools for a crawl's CPU work, started so that the download loop never waits for them.

A crawl runs its heavy stages in other processes: pages are extracted and normalized by a pool
(aggregator.ingest), batches are written by a process of their own (aggregator.store.writer).
The download loop only sends work and collects results, so the work runs beside it on the
machine's other cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import select
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, CancelledError, Future, ProcessPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: Imported once by the fork server, so that every worker forks from it ready to work.
#: aggregator._forkserver first: it makes the workers ignore the signals meant for the crawl.
PRELOAD = ["aggregator._forkserver", "aggregator.ingest", "aggregator.store.writer"]


def start_pool(workers: int, name: str) -> tuple[ProcessPoolExecutor, Future[None]]:
    """A pool of ``workers`` processes, and a future done when all of them are up.

    forkserver, not fork: forking a process that runs the reactor's threads is not safe. The fork
    server imports the work's modules (and the main module, which every worker would otherwise
    import again) once. The first start waits for that import, a second or two, so the workers
    are started from a thread of their own; callers that must not block wait for the future.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*PRELOAD, *_main_module()])
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_worker_started,
        initargs=(os.getpid(), name),
    )
    ready: Future[None] = Future()
    threading.Thread(
        target=_start_workers, args=(pool, workers, ready), name=f"{name}-start", daemon=True
    ).start()
    return pool, ready


def _worker_started(crawl: int, name: str) -> None:
    """A worker does not outlive its crawl (it ignores the crawl's signals: aggregator._forkserver),
    and says what it is (see name_process)."""
    name_process(f"agg-{name}")
    exit_with(crawl)


def name_process(name: str) -> None:
    """Name this process in ``ps``, ``top`` and /proc/PID/comm (Linux; at most 15 bytes), so an
    operator, or a crash test, can tell the writer from the extraction workers."""
    if sys.platform != "linux":
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass  # a name is a convenience


def process_name(pid: int) -> str:
    """What /proc/PID/comm says ("" when the process is gone or this is not Linux)."""
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return ""


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
    """The main module by name, as each worker would import it (``python -m some.module``),
    except a package's ``__main__`` (``python -m aggregator``, ``python -m pytest``):
    multiprocessing skips those too, and importing one runs the program."""
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


def run_calls(
    fn: Callable[..., T], calls: list[tuple[tuple[Any, ...], dict[str, Any]]]
) -> list[tuple[bool, Any]]:
    """Run ``fn`` on each (args, kwargs) in a worker: (True, result) or (False, the exception),
    so one failing call does not fail the others of its chunk."""
    out: list[tuple[bool, Any]] = []
    for args, kwargs in calls:
        try:
            out.append((True, fn(*args, **kwargs)))
        except Exception as exc:  # noqa: BLE001 -- handed back to the caller of that one call
            out.append((False, exc))
    return out


class WorkerCrashed(Exception):
    """A worker process died while running a call (killed, out of memory, a crash in C code)."""


class ChunkedPool(Generic[T]):
    """Calls to a process pool, sent in chunks of those made in one turn of the event loop.

    Every task costs a round trip through the pool's queues and threads (a quarter of a
    millisecond of the download process's CPU a page); a crawl's callbacks resume many at a
    time, so the calls of one loop turn go as one task, at most ``chunk`` calls each.

    A worker that dies breaks the whole pool and every task in it. The pool is then replaced and
    the calls of the broken tasks are tried again one at a time, everything else held back
    meanwhile: the others go through, and a call whose worker dies while it runs alone is the
    culprit and fails with :class:`WorkerCrashed`.
    """

    def __init__(
        self, fn: Callable[..., T], start: Callable[[], ProcessPoolExecutor], *, chunk: int = 8
    ) -> None:
        self._fn = fn
        self._start = start
        self._pool = start()
        self._generation = 0
        self._chunk = chunk
        self._waiting: list[_Call[T]] = []
        #: Calls of broken tasks, to be tried alone, one at a time (see _broken).
        self._suspects: deque[_Call[T]] = deque()
        self._trying: _Call[T] | None = None
        #: Calls that failed because their worker died under them alone.
        self.crashed = 0

    def submit(self, *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Queue one call (from the event loop's thread); its future resolves with fn's result."""
        loop = asyncio.get_running_loop()
        call = _Call[T](args, kwargs, loop.create_future())
        if not self._waiting:
            loop.call_soon(self._send_waiting)
        self._waiting.append(call)
        if len(self._waiting) >= self._chunk:
            self._send_waiting()
        return call.future

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _send_waiting(self) -> None:
        if self._suspects or self._trying is not None:
            return  # held back until the suspects are cleared
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), self._chunk):
            self._send(waiting[start : start + self._chunk])

    def _send(self, calls: list[_Call[T]]) -> None:
        generation = self._generation
        try:
            task = self._pool.submit(run_calls, self._fn, [(c.args, c.kwargs) for c in calls])
        except BrokenExecutor:
            self._broken(calls, generation)
            return
        except RuntimeError as exc:  # shut down: the crawl is over
            for call in calls:
                call.fail(exc)
            return
        loop = asyncio.get_running_loop()

        def settle_in_loop(done: Future[list[tuple[bool, Any]]]) -> None:
            if not loop.is_closed():  # a crawl that stopped has no one waiting any more
                loop.call_soon_threadsafe(self._settle, done, calls, generation)

        task.add_done_callback(settle_in_loop)

    def _settle(self, done: Future[list[tuple[bool, Any]]], calls: list[_Call[T]], generation: int) -> None:
        try:
            results = done.result()
        except BrokenExecutor:
            self._broken(calls, generation)
            return
        except CancelledError:  # the pool was shut down before it ran: the crawl is over
            for call in calls:
                call.future.cancel()
            return
        except (OSError, RuntimeError) as exc:
            results = [(False, exc)] * len(calls)
        for call, (ok, value) in zip(calls, results, strict=True):
            if ok:
                call.succeed(value)
            else:
                call.fail(value)
        if self._trying is not None and calls == [self._trying]:
            self._trying = None
            self._try_next_suspect()

    def _broken(self, calls: list[_Call[T]], generation: int) -> None:
        """A worker died under these calls: replace the pool (once per breakage) and find which."""
        if generation == self._generation:
            self._generation += 1
            _kill_workers(self._pool)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
        if self._trying is not None and calls == [self._trying]:
            self._trying = None
            self.crashed += 1
            calls[0].fail(
                WorkerCrashed(
                    "the worker process died while working on it alone"
                    " (killed, out of memory, or a crash in native code)"
                )
            )
        else:
            self._suspects.extend(calls)
        self._try_next_suspect()

    def _try_next_suspect(self) -> None:
        if self._trying is not None:
            return
        if self._suspects:
            self._trying = self._suspects.popleft()
            self._send([self._trying])
        elif self._waiting:
            self._send_waiting()


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL what is left of a broken pool's workers.

    The executor's own clean-up asks them to stop with SIGTERM and then joins them, but our
    workers ignore SIGTERM (aggregator/_forkserver.py: a Ctrl-C or a systemd stop must not kill
    a page half-way), so that join never returned and the crawl hung at exit after a worker died.
    A broken pool's queues may be in any state; nothing in its workers is worth waiting for.
    ``_processes`` is the executor's documented-in-source map of live workers (None once shut).
    """
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError):  # already gone, or already closed
            process.kill()


class _Call(Generic[T]):
    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any], future: asyncio.Future[T]) -> None:
        self.args = args
        self.kwargs = kwargs
        self.future = future

    def succeed(self, value: T) -> None:
        if not self.future.done():
            self.future.set_result(value)

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


def descendants(pid: int) -> list[int]:
    """Process ``pid``'s children, theirs, and so on (a crawl's fork server, workers and writer)."""
    found = []
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            with open(f"{task.path}/children") as children:
                for child in children.read().split():
                    found += [int(child), *descendants(int(child))]
    except OSError:  # gone meanwhile, or not Linux
        pass
    return found
