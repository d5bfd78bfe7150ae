from __future__ import annotations

from aggregator.dedupe import Deduplicator, Verdict
from aggregator.model import Article


class Known:
    def __init__(self, rows: dict[str, str]) -> None:
        self.rows = rows

    def hash_for_url(self, canonical_url: str) -> str | None:
        return self.rows.get(canonical_url)

    def url_for_hash(self, content_hash: str) -> str | None:
        return next((u for u, h in self.rows.items() if h == content_hash), None)


def art(url: str, digest: str) -> Article:
    return Article(url=url, canonical_url=url, content_hash=digest)


def test_verdicts_against_stored_articles() -> None:
    d = Deduplicator(Known({"https://a/1": "h1"}))
    assert d.check(art("https://a/1", "h1")).verdict is Verdict.UNCHANGED
    assert d.check(art("https://a/1", "h1b")).verdict is Verdict.UPDATED
    alias = d.check(art("https://b/copy", "h1"))
    # h1 is no longer the stored text of https://a/1 in this crawl, but the store still says so.
    assert alias.verdict is Verdict.ALIAS
    assert alias.canonical_url == "https://a/1"
    assert d.check(art("https://a/2", "h2")).verdict is Verdict.NEW


def test_copies_within_one_crawl_are_caught_before_storing() -> None:
    d = Deduplicator(Known({}))
    assert d.check(art("https://a/1", "h")).verdict is Verdict.NEW
    assert d.check(art("https://a/1", "h")).verdict is Verdict.UNCHANGED
    second = d.check(art("https://b/1", "h"))
    assert second.verdict is Verdict.ALIAS
    assert second.is_duplicate
