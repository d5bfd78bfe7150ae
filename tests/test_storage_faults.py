"""A database that refuses writes: a full disk and a write lock another process holds (issue #12).

Each gives one clear line and an exit code that is not 0, and loses nothing already committed:
the file checks out, and the next crawl stores the rest exactly once.

The full disk is a file-size limit (``RLIMIT_FSIZE``, what ``ulimit -f`` sets) on the crawl and
every process it starts: a write past it fails with EFBIG as a full disk fails with ENOSPC, and it
needs neither root nor a loop device.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.devserver import SiteServer
from aggregator.errors import LockHeld, SourceError, StorageError
from tests.conftest import ROOT, run_cli
from tests.test_scheduler import EXPECTED, SLOW, add_fixture_sources, article_paths, stored_urls

#: Sets the file-size limit, then becomes the command (no preexec_fn: the test runs threads).
_LIMITED = (
    "import os, resource, sys; n = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (n, n)); os.execv(sys.argv[2], sys.argv[2:])"
)


def crawl_process(db: str, *, env: dict[str, str], fsize: int | None = None) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "aggregator", "--db", db, "crawl", "--all", "--no-progress", *SLOW]
    if fsize is not None:
        cmd = [sys.executable, "-c", _LIMITED, str(fsize), *cmd]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "AGGREGATOR_DB"} | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])


def check_and_complete(db: str, path: Path, committed: int, site: SiteServer) -> None:
    """Nothing committed was lost; the file is sound; the next crawl stores the rest once."""
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert count(path) >= committed
    result = run_cli("crawl", "--all", "-s", "AUTOTHROTTLE_ENABLED=False", db=db)
    assert result.code == 0, result.stderr
    final = stored_urls(db)
    assert len(final) == len(set(final)) == EXPECTED
    assert {u.removeprefix(site.base_url) for u in final} == article_paths()


@pytest.mark.slow
def test_a_full_disk_stops_the_crawl_with_one_line_and_loses_nothing(
    site_server: SiteServer, tmp_path: Path
) -> None:
    path = tmp_path / "full.db"
    db = f"sqlite:///{path}"
    add_fixture_sources(site_server.base_url, db)
    # Room for the first few batches in the write-ahead log, not for all 31 articles.
    proc = crawl_process(db, env={}, fsize=path.stat().st_size + 96 * 1024)
    _, err = proc.communicate(timeout=180)
    stderr = err.decode()
    assert proc.returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    assert "terminated abruptly" not in stderr  # the writer's own reason came back
    assert "could not store a batch of " in stderr
    assert ": cannot write to " + db + ": disk I/O error" in stderr or "database or disk is full" in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("aggregator: error: "), last
    committed = count(path)
    assert 0 < committed < EXPECTED
    check_and_complete(db, path, committed, site_server)


@pytest.mark.slow
def test_a_locked_database_stops_the_crawl_with_one_line_and_loses_nothing(
    site_server: SiteServer, tmp_path: Path
) -> None:
    path = tmp_path / "locked.db"
    db = f"sqlite:///{path}"
    add_fixture_sources(site_server.base_url, db)
    proc = crawl_process(db, env={"AGGREGATOR_BUSY_TIMEOUT": "1"})
    deadline = time.monotonic() + 120
    while count(path) < 6:
        assert proc.poll() is None, "the crawl ended before the lock was taken"
        assert time.monotonic() < deadline, "the crawl stored nothing in time"
        time.sleep(0.02)
    # Another program takes the write lock and keeps it until the crawl has given up.
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    committed = count(path)
    try:
        _, err = proc.communicate(timeout=180)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    stderr = err.decode()
    assert proc.returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    reason = f"cannot write to {db}: database is locked (another process holds its write lock; waited 1 s)"
    assert reason in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("aggregator: error: "), last
    check_and_complete(db, path, committed, site_server)


def test_errors_cross_processes_whole() -> None:
    """The writer and the workers send errors back pickled: message and attributes survive."""
    errors = [
        StorageError("sqlite:///x.db", "write to", "database or disk is full"),
        SourceError("https://x.example/feed", "not a feed"),
        LockHeld("scheduler", "host:1", datetime(2026, 1, 1, tzinfo=UTC)),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)
        assert copy.__dict__ == error.__dict__
