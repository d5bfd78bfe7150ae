"""The web app's write actions: add or remove a source, start a crawl.

Adding a source and crawling run ``aggregator`` itself in a child process, never in the web
process: a crawl needs Twisted's reactor (one per process, and it would stall the server), and
going through the command line gives the web form exactly the command's checks and messages
(URL checks, discovery of a site's feeds). The database URL goes to the child in AGGREGATOR_DB,
not on its command line, where any user of the machine could read a password in it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aggregator.errors import SourceNotFound
from aggregator.model import SourceKind
from aggregator.store import Store

#: Seconds an ``aggregator sources add`` may take (discovery fetches a page or two).
ADD_TIMEOUT = 120


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str


def _env(db_url: str) -> dict[str, str]:
    return {**os.environ, "AGGREGATOR_DB": db_url}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix("aggregator: ") if lines else ""


def add_source(
    command: tuple[str, ...], db_url: str, url: str, *, kind: SourceKind | None, name: str
) -> Outcome:
    """``aggregator sources add URL [--kind K] [--name N]`` in a child process: its verdict."""
    argv = [*command, "sources", "add", url]
    if kind is not None:
        argv += ["--kind", str(kind)]
    if name:
        argv += ["--name", name]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=ADD_TIMEOUT, env=_env(db_url), check=False
        )
    except subprocess.TimeoutExpired:
        return Outcome(False, f"adding {url} took longer than {ADD_TIMEOUT} s; try again with a kind")
    if proc.returncode != 0:
        return Outcome(False, _last_line(proc.stderr) or f"adding {url} failed (exit {proc.returncode})")
    return Outcome(True, _last_line(proc.stdout) or f"added {url}")


def remove_source(store: Store, name: str) -> Outcome:
    try:
        store.remove_source(name)
    except SourceNotFound as exc:
        return Outcome(False, str(exc))
    return Outcome(True, f"removed source {name!r} (its articles stay)")


@dataclass(frozen=True)
class CrawlState:
    """The crawl the web app started last, if any."""

    pid: int
    sources: tuple[str, ...]
    started_at: datetime
    #: None while it runs.
    exit_code: int | None
    message: str

    @property
    def running(self) -> bool:
        return self.exit_code is None


class CrawlLauncher:
    """Starts ``aggregator crawl`` in a child process, one at a time, and tells how it went.

    The child runs in a session of its own, so a Ctrl-C meant for the server does not cut a
    crawl's batch in half; :meth:`stop` (the server's shutdown) sends it SIGTERM, which a crawl
    answers by finishing its batch.
    """

    def __init__(self, command: tuple[str, ...], db_url: str) -> None:
        self.command = command
        self.db_url = db_url
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self._sources: tuple[str, ...] = ()
        self._started: datetime | None = None

    def start(self, sources: tuple[str, ...], *, now: datetime) -> Outcome:
        """Crawl these sources (every due one when empty), unless a crawl is still running."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return Outcome(False, f"a crawl is already running (pid {self._proc.pid})")
            self._cleanup()
            fd, log = tempfile.mkstemp(prefix="aggregator-web-crawl-", suffix=".log")
            argv = [*self.command, "crawl", "--no-progress"]
            for name in sources:
                argv += ["--source", name]
            with os.fdopen(fd, "wb") as err:
                self._proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    env=_env(self.db_url),
                    start_new_session=True,
                )
            self._log = Path(log)
            self._sources = sources
            self._started = now
            what = ", ".join(sources) if sources else "every due source"
            return Outcome(True, f"crawl of {what} started (pid {self._proc.pid})")

    def state(self) -> CrawlState | None:
        with self._lock:
            proc = self._proc
            if proc is None or self._started is None:
                return None
            code = proc.poll()
            message = ""
            if code is not None and self._log is not None and self._log.exists():
                message = _last_line(self._log.read_text("utf-8", "replace"))
            return CrawlState(proc.pid, self._sources, self._started, code, message)

    def wait(self, timeout: float) -> int | None:
        """The exit code of the current crawl once it ends (None: still running at the timeout)."""
        proc = self._proc
        if proc is None:
            return None
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 30) -> None:
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self._cleanup()

    def _cleanup(self) -> None:
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None
