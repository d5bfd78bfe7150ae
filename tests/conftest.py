"""Shared fixtures: the fixture site on loopback HTTP, real SQLite files, the CLI in-process or in
a subprocess (a crawl needs a fresh Twisted reactor, and signals need a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from aggregator.cli import cli as aggregator_cli
from aggregator.devserver import SiteServer, serve

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SITE = FIXTURES / "site"
PAGES = FIXTURES / "pages"
POSTGRES_URL = os.environ.get("AGGREGATOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("AGGREGATOR_TEST_REDIS", "redis://127.0.0.1:6379/0")

# Every test crawls the fixture site on 127.0.0.1, which the SSRF guard (aggregator.netguard)
# refuses by default: allow private addresses for the whole session, child processes included.
# The guard's own tests (tests/test_netguard.py) turn it off explicitly.
os.environ["AGGREGATOR_ALLOW_PRIVATE"] = "1"


def fixture_articles() -> list[dict[str, Any]]:
    """The fixture publisher's articles, as fixtures/articles.toml declares them."""
    return list(tomllib.loads((FIXTURES / "articles.toml").read_text("utf-8"))["article"])


def published_text(article: dict[str, Any]) -> str:
    """A fixture article's body as its page shows it (fixtures/build_site.py) and extraction
    keeps it: the dateline, when it has one, at the head of the first paragraph."""
    paragraphs = list(article["paragraphs"])
    if article.get("dateline"):
        paragraphs[0] = f"{article['dateline']} — {paragraphs[0]}"
    return "\n\n".join(paragraphs)


@pytest.fixture(scope="session")
def fixture_site() -> Iterator[SiteServer]:
    """fixtures/site served on 127.0.0.1 for the whole test session."""
    with serve(SITE) as server:
        yield server


@pytest.fixture
def site_server(tmp_path: Path) -> Iterator[SiteServer]:
    """A private copy of the fixture site, for tests that count requests or change files."""
    import shutil

    root = tmp_path / "site"
    shutil.copytree(SITE, root)
    with serve(root) as server:
        yield server


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the local PostgreSQL's test database."""
    import uuid

    engine = create_engine(POSTGRES_URL)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:
        pytest.fail(f"the local PostgreSQL at {POSTGRES_URL} is not reachable: {exc}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, db: str | None = None, stdin: bytes | None = None, timeout: float = 120) -> Result:
    """Run ``aggregator`` in a subprocess: for crawls (a Twisted reactor runs once per process)."""
    cmd = [sys.executable, "-m", "aggregator"]
    if db:
        cmd += ["--db", db]
    env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DB"}
    proc = subprocess.run(
        [*cmd, *args], input=stdin, capture_output=True, timeout=timeout, cwd=ROOT, env=env, check=False
    )
    return Result(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))


def invoke(*args: str, db: str | None = None, stdin: bytes | None = None) -> Result:
    """Run ``aggregator`` in this process with click's runner: what needs no crawl."""
    runner = CliRunner()
    result = runner.invoke(
        aggregator_cli,
        [*(["--db", db] if db else []), *args],
        input=stdin,
        env={"AGGREGATOR_DB": None, "COLUMNS": "200"},
        catch_exceptions=False,
    )
    return Result(result.exit_code, result.stdout, result.stderr)
