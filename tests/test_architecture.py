"""One direction of imports: the core never imports Scrapy or Twisted."""

from __future__ import annotations

import json
import subprocess
import sys

CORE = ["aggregator", "aggregator.extract", "aggregator.feeds", "aggregator.sitemaps", "aggregator.normalize",
        "aggregator.dedupe", "aggregator.store", "aggregator.export", "aggregator.devserver", "aggregator.cli"]


def test_core_does_not_import_scrapy() -> None:
    code = (f"import importlib, json, sys\nfor m in {CORE!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in ('scrapy', 'twisted'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
