"""``aggregator schedule``: crawl sources as they fall due, for months, unattended.

Each cycle runs ``aggregator crawl --source ...`` for every due source in a child process: a fresh
Twisted reactor each time, no memory carried from one cycle to the next, and a crash of one crawl
cannot take the scheduler down. Between cycles it sleeps until the next source falls due.

Signals: the first SIGINT/SIGTERM is passed to the running crawl, which (as Scrapy does) stops
taking new requests, finishes the articles in flight and commits them; the scheduler then exits 0.
If the crawl has not finished within ``grace`` seconds it is killed (committed batches stay; the
rest is fetched again next run). A second signal kills the crawl at once.

One scheduler per database: a lock the kernel holds for us (a flock beside the SQLite file, a
PostgreSQL advisory lock), so a scheduler killed with ``kill -9`` frees it at once and can be
restarted straight away; the ``locks`` row and its heartbeat only tell ``status`` who holds it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType

from aggregator.outcomes import CrawlReport
from aggregator.store import Store

logger = logging.getLogger("aggregator.scheduler")

LOCK_NAME = "scheduler"
HEARTBEAT_S = 10.0
MAX_SLEEP_S = 60.0
#: ``aggregator crawl``'s exit code when it finished but some sources failed (not a failed crawl).
EXIT_PARTIAL = 3
#: With a shared frontier, the least time between two enqueue cycles.
FRONTIER_RECHECK_S = 30.0


@dataclass
class Scheduler:
    db_url: str
    overrides: list[str] = field(default_factory=list)
    #: Top-level options for each crawl (``--log-format json``...), so its lines match ours.
    log_options: list[str] = field(default_factory=list)
    grace: float = 60.0
    #: A shared frontier (redis:// URL): due sources are put there for the workers
    #: (``crawl --enqueue``) instead of being crawled by the scheduler's own child.
    frontier: str | None = None
    poll: float = MAX_SLEEP_S
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    signals_received: int = 0
    child: subprocess.Popen[bytes] | None = None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals_received += 1
        name = signal.Signals(signum).name
        if self.signals_received == 1:
            logger.info(
                "received %s: finishing the articles in flight, then stopping",
                name,
                extra={"event": "stopping"},
            )
            if self.child is not None and self.child.poll() is None:
                self.child.send_signal(signal.SIGTERM)
        else:
            logger.warning("received %s again: stopping now", name, extra={"event": "stopping_now"})
            if self.child is not None and self.child.poll() is None:
                self.child.kill()

    def run(self, *, once: bool = False) -> int:
        with Store(self.db_url) as store:
            store.acquire_lock(LOCK_NAME, self.owner, now=self.clock())
            previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
            logger.info("scheduler started (%s)", self.owner, extra={"event": "started", "db": self.db_url})
            worst = 0
            try:
                while not self.signals_received:
                    due = store.due_sources(self.clock())
                    if due:
                        code = self._crawl(store, [s.name for s in due])
                        worst = code if code not in (0, None) and worst in (0, EXIT_PARTIAL) else worst
                    if once or self.signals_received:
                        break
                    self._sleep(store, self._seconds_until_due(store))
            finally:
                store.release_lock(LOCK_NAME, self.owner)
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                logger.info("scheduler stopped", extra={"event": "stopped"})
        # Once (cron): the crawl's own exit code when it failed, so cron's mail says so. Running
        # for good, a failed crawl is logged and the next cycle tries again; a clean stop is 0.
        return worst if once else 0

    def _seconds_until_due(self, store: Store) -> float:
        first = store.next_due_at()
        if first is None:
            return self.poll
        # With a frontier, an enqueued source stays due until the workers finish it: look again
        # after a while, not every second.
        least = FRONTIER_RECHECK_S if self.frontier else 1.0
        return max(least, min(self.poll, (first - self.clock()).total_seconds()))

    def _sleep(self, store: Store, seconds: float) -> None:
        end = time.monotonic() + seconds
        last_beat = time.monotonic()
        while not self.signals_received and time.monotonic() < end:
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))
            if time.monotonic() - last_beat >= HEARTBEAT_S:
                self._heartbeat(store)
                last_beat = time.monotonic()

    def _heartbeat(self, store: Store) -> None:
        if not store.heartbeat(LOCK_NAME, self.owner, now=self.clock()):
            logger.error("lost the scheduler lock; stopping", extra={"event": "lock_lost"})
            self.signals_received = max(self.signals_received, 1)

    def _crawl(self, store: Store, names: list[str]) -> int:
        """Run one crawl in a child process; its exit code (a signal: 128 + its number)."""
        cmd = [sys.executable, "-m", "aggregator", "--db", self.db_url, *self.log_options]
        cmd += ["crawl", "--json", "--no-progress"]
        for name in names:
            cmd += ["--source", name]
        for override in self.overrides:
            cmd += ["-s", override]
        if self.frontier:
            cmd += ["--frontier", self.frontier, "--enqueue"]
        logger.info("crawling %d source(s)", len(names), extra={"event": "crawl_started", "sources": names})
        started = time.monotonic()
        # A session of its own: Ctrl-C in a terminal reaches the scheduler alone, which passes on
        # one SIGTERM. Signalled twice (directly and by us), Scrapy would stop uncleanly.
        self.child = subprocess.Popen(cmd, stdout=subprocess.PIPE, start_new_session=True)
        stop_asked_at: float | None = None
        last_beat = time.monotonic()
        while self.child.poll() is None:
            time.sleep(0.2)
            if self.signals_received and stop_asked_at is None:
                stop_asked_at = time.monotonic()
            if stop_asked_at is not None and time.monotonic() - stop_asked_at > self.grace:
                logger.warning(
                    "crawl did not stop within %.0f s; killing it",
                    self.grace,
                    extra={"event": "crawl_killed"},
                )
                self.child.kill()
            if time.monotonic() - last_beat >= HEARTBEAT_S:
                self._heartbeat(store)
                last_beat = time.monotonic()
        out = self.child.stdout.read() if self.child.stdout else b""
        code = self.child.returncode
        self.child = None
        report = _last_report(out.decode("utf-8", "replace"))
        seconds = time.monotonic() - started
        line = report.log_line() if report is not None else "no report (the crawl printed none)"
        logger.log(
            logging.INFO if code in (0, EXIT_PARTIAL) else logging.ERROR,
            "crawl %s (exit %s) in %.1f s: %s",
            "finished" if code in (0, EXIT_PARTIAL) else "failed",
            code,
            seconds,
            line,
            extra={
                "event": "crawl_finished",
                "exit_code": code,
                "summary": report.to_dict() if report is not None else {},
            },
        )
        return code if code >= 0 else 128 - code


def _last_report(output: str) -> CrawlReport | None:
    """The crawl's report: the last JSON line its ``crawl --json`` printed."""
    for line in output.splitlines()[::-1]:
        try:
            return CrawlReport.from_dict(json.loads(line))
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError):
            continue
    return None
