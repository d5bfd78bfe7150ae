"""Deployment with Scrapyd (issue #14), for real: ``scrapyd-deploy`` uploads the spiders to a
Scrapyd on a free loopback port (started in a temporary folder), and a worker started through
Scrapyd's HTTP API crawls the fixture site from the shared frontier into PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.devserver import SiteServer
from aggregator.frontier import Frontier
from tests.conftest import REDIS_URL, ROOT
from tests.test_crawl_e2e import expected_articles
from tests.test_frontier import add_sources, enqueue, sources_done, stored

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def api(base: str, path: str, data: list[tuple[str, str]] | None = None) -> dict:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(base + path, data=body, timeout=30) as response:
        return dict(json.loads(response.read()))


@pytest.fixture
def scrapyd(tmp_path: Path) -> Iterator[str]:
    """A Scrapyd of this test's own; its jobs inherit the environment (AGGREGATOR_ALLOW_PRIVATE)."""
    if shutil.which("scrapyd", path=str(BIN)) is None:
        pytest.fail("scrapyd is not installed: make installs the `deploy` extra")
    port = free_port()
    home = tmp_path / "scrapyd"
    home.mkdir()
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        "eggs_dir = eggs\nlogs_dir = logs\nitems_dir =\ndbs_dir = dbs\nmax_proc = 1\npoll_interval = 0.5\n",
        "utf-8",
    )
    proc = subprocess.Popen(
        [str(BIN / "scrapyd")], cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ
    )
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            api(base, "daemonstatus.json")
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("scrapyd did not start")
            time.sleep(0.2)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_deploy_and_run_a_worker_through_scrapyd(
    scrapyd: str, site_server: SiteServer, postgres_url: str, tmp_path: Path
) -> None:
    # scrapyd-deploy builds in the folder of scrapy.cfg: a copy, so the checkout stays clean.
    shutil.copytree(ROOT / "deploy", tmp_path / "project" / "deploy")
    shutil.copytree(ROOT / "spiders", tmp_path / "project" / "spiders")
    cfg = tmp_path / "project" / "deploy" / "scrapy.cfg"
    cfg.write_text(cfg.read_text("utf-8").replace("http://127.0.0.1:6800/", scrapyd), "utf-8")
    deployed = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "-v", "1"],
        cwd=cfg.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert deployed.returncode == 0, deployed.stderr
    assert '"status": "ok"' in deployed.stdout
    assert "worker" in api(scrapyd, "listspiders.json?project=aggregator")["spiders"]

    prefix = f"test-scrapyd-{uuid.uuid4().hex[:10]}"
    try:
        add_sources(site_server.base_url, postgres_url)
        enqueue(postgres_url, prefix)
        job = api(
            scrapyd,
            "schedule.json",
            [
                ("project", "aggregator"),
                ("spider", "worker"),
                ("setting", f"AGGREGATOR_DB={postgres_url}"),
                ("setting", f"AGGREGATOR_FRONTIER={REDIS_URL}"),
                ("setting", f"AGGREGATOR_FRONTIER_PREFIX={prefix}"),
                ("setting", "AGGREGATOR_WORKER_IDLE_EXIT=3"),
                ("setting", "AGGREGATOR_EXTRACT_WORKERS=1"),
                ("setting", "AUTOTHROTTLE_ENABLED=False"),
            ],
        )
        assert job["status"] == "ok", job
        deadline = time.monotonic() + 240
        while not any(
            j["id"] == job["jobid"] for j in api(scrapyd, "listjobs.json?project=aggregator")["finished"]
        ):
            assert time.monotonic() < deadline, "the Scrapyd job did not finish"
            time.sleep(0.5)
        expected = {site_server.base_url + path for path in expected_articles()}
        assert stored(postgres_url) == dict.fromkeys(expected, 1)
        assert all(sources_done(postgres_url).values())
    finally:
        Frontier(REDIS_URL, prefix=prefix).clear()
