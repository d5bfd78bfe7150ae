"""Exports of stored articles. JSON lines: one object per article, every Article field plus
``aliases`` (the other URLs that served the same text)."""

from __future__ import annotations

import json
from typing import IO

from aggregator.store import Store


def export_jsonl(store: Store, out: IO[str]) -> int:
    """Write every stored article to ``out``; return how many were written."""
    count = 0
    for article, aliases in store.iter_articles():
        record = article.to_dict()
        record["aliases"] = aliases
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count
