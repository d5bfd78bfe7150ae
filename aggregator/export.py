"""Exports of stored articles. JSON lines: one object per article, every Article field plus
``aliases`` (the other URLs that served the same text)."""

from __future__ import annotations

import json
from typing import IO

from aggregator.store import Store


def export_jsonl(store: Store, out: IO[str], *, one_per_story: bool = False) -> int:
    """Write every stored article to ``out``; return how many were written.

    Each record also carries ``story_urls``: the canonical URLs of the other articles carrying the
    same story. With ``one_per_story`` only the first-stored article of each story is written.
    """
    members = store.story_index()
    count = 0
    for article, aliases in store.iter_articles():
        others = [u for u in members.get(article.story_id or -1, []) if u != article.canonical_url]
        if one_per_story and members.get(article.story_id or -1, [article.canonical_url])[0] != article.canonical_url:
            continue
        record = article.to_dict()
        record["aliases"] = aliases
        record["story_urls"] = others
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count
