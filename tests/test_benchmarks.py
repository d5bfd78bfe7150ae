"""The benchmark scripts still run (at toy sizes). Their targets are judged on real runs with
``--check``, not here; without it a script exits 0 once it has printed its figures."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

CASES = [
    (["benchmarks/dedupe.py", "--sizes", "60,120", "--probes", "5"], "median at 120 / median at 60"),
    (["benchmarks/search.py", "--articles", "300", "--queries", "5"], "indexing: bare FTS5"),
    (["benchmarks/feeds.py", "--rounds", "2"], "our time / feedparser's"),
    (
        ["benchmarks/store.py", "--sizes", "300,600", "--queries", "5", "--probes", "5", "--index"],
        "with the search index: sync",
    ),
    (["benchmarks/crawl.py", "--pages", "40"], "ours / bare"),
    (["benchmarks/extraction.py", "--limit", "3"], "targets (issue #11), this run:"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("args", "expected"), CASES, ids=[c[0][0].split("/")[1] for c in CASES])
def test_benchmark_script_runs(args: list[str], expected: str) -> None:
    if (
        "extraction" in args[0]
        and not (ROOT.parent / "shared" / "benchmarks" / "extraction" / "dev").exists()
    ):
        pytest.skip("../shared/benchmarks is not beside this checkout")
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert expected in proc.stdout
