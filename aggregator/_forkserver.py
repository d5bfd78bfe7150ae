"""Imported by a crawl's fork server only (aggregator.workers.PRELOAD), never by the crawl.

Every worker the fork server forks inherits these dispositions, so it ignores SIGINT and SIGTERM
from its first instruction. Ctrl-C in a terminal, or systemd stopping a service, signals every
process of the crawl at once; a worker that died of it would take its batch or pages down while
the crawl, which got the same signal, is finishing them. Set in the pool's initializer instead,
they left a window while each worker started: a Ctrl-C then broke the whole pool (seen in
tests/test_scheduler.py once it stopped sleeping). The crawl shuts its pools down when it is done,
and a worker whose crawl is killed exits with it (aggregator.workers.exit_with).

multiprocessing's fork server imports its preload modules before it sets its own handlers, and
restores the ones it found in each child: those are these.

SIGXFSZ is ignored too, as Python ignores it in every main process: a file-size limit
(``ulimit -f``) then makes the writer's write fail with EFBIG, which SQLite reports as "database
or disk is full" like a full disk, instead of killing the writer without a word.
"""

from __future__ import annotations

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
