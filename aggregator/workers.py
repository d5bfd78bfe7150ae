"""Process pools for a crawl's CPU work, started so that the download loop never waits for them.

A crawl runs its heavy stages in other processes: pages are extracted and normalized by a pool
(aggregator.ingest), batches are written by a process of their own (aggregator.store.writer).
The download loop only sends work and collects results, so the work runs beside it on the
machine's other cores.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor

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
    main = getattr(sys.modules["__main__"], "__spec__", None)
    context.set_forkserver_preload([*PRELOAD, *([main.name] if main is not None and main.name else [])])
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    ready: Future[None] = Future()
    threading.Thread(target=_start_workers, args=(pool, workers, ready), name=f"{name}-start", daemon=True).start()
    return pool, ready


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
