"""The extraction quality gate: our DEV figures may not fall below benchmarks/floors.json.

Like trafilatura's CI, which pins its F floors on its evaluation set, this runs our extractor on
the three DEV sets beside the checkout (../shared/benchmarks/extraction) and fails on any figure
under its floor. Floors are raised with `benchmarks/extraction.py --floors --raise-floors` as
quality rises; lowering one is a hand edit of floors.json that review sees.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

DATA = ROOT.parent / "shared" / "benchmarks" / "extraction"


@pytest.mark.slow
def test_dev_figures_hold_their_floors() -> None:
    if not (DATA / "dev").is_dir():
        pytest.skip("../shared/benchmarks/extraction is not beside this checkout")
    proc = subprocess.run(
        [sys.executable, "benchmarks/extraction.py", "--floors"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    below = [line for line in proc.stdout.splitlines() if line.startswith("BELOW FLOOR")]
    assert below == [], proc.stdout[-3000:]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "floors held" in proc.stdout


def test_floors_cover_every_set_and_its_headline_metric() -> None:
    floors = json.loads((ROOT / "benchmarks" / "floors.json").read_text("utf-8"))
    assert set(floors) == {"zyte", "fundus", "snippets"}
    assert {"F1", "P", "empty"} <= set(floors["zyte"])
    assert {"body_f1", "title_exact", "authors_f1", "date_day"} <= set(floors["fundus"])
    assert {"F", "R", "empty"} <= set(floors["snippets"])
    assert floors["zyte"]["empty"] == 0
    assert floors["snippets"]["empty"] == 0
