from __future__ import annotations

import json

from aggregator.dedupe import Deduplicator, Verdict, same_story, story_signature, story_tokens
from aggregator.model import Article
from tests.conftest import FIXTURES


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


def test_what_is_stored_is_forgotten_and_the_store_answers_for_it() -> None:
    known = Known({})
    d = Deduplicator(known)
    assert d.check(art("https://a/1", "h1")).verdict is Verdict.NEW
    assert d.check(art("https://a/1", "h2")).verdict is Verdict.UPDATED  # the newer text, pending
    known.rows["https://a/1"] = "h1"  # the first batch commits
    d.forget([("https://a/1", "h1")])
    # The pending newer text is still remembered: a third copy of it is unchanged, not an update.
    assert d.check(art("https://a/1", "h2")).verdict is Verdict.UNCHANGED
    known.rows["https://a/1"] = "h2"
    d.forget([("https://a/1", "h2")])
    assert (d._hash_by_url, d._url_by_hash) == ({}, {})
    assert d.check(art("https://b/copy", "h2")).verdict is Verdict.ALIAS  # from the store now


# --- stories: near-duplicates ---------------------------------------------------------------

PAIRS = json.loads((FIXTURES / "dedupe" / "pairs.json").read_text("utf-8"))


def test_pair_set_is_large_and_mixed() -> None:
    kinds = {p["kind"] for p in PAIRS}
    assert len(PAIRS) >= 40
    assert {
        "first-half-only",
        "same-event-independent-report",
        "follow-up-quoting-paragraphs",
        "update-of-same-url",
        "combined-edits",
    } <= kinds


def test_pair_precision_and_recall() -> None:
    tp = fp = fn = 0
    for pair in PAIRS:
        got = same_story(pair["a"], pair["b"])
        tp += got and pair["same"]
        fp += got and not pair["same"]
        fn += (not got) and pair["same"]
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.95, precision
    assert recall >= 0.95, recall


def test_lsh_finds_every_same_story_pair_as_a_candidate() -> None:
    """The exact check only sees what the band index proposes: candidates must not be missed."""
    from aggregator.store import Store

    missed = [
        p["id"]
        for p in PAIRS
        if p["same"]
        and len(set(story_signature(p["a"]).bands) & set(story_signature(p["b"]).bands)) < Store.MIN_BAND_HITS
    ]
    assert missed == []


def test_story_tokens_unify_wire_edits() -> None:
    assert story_tokens("Co-operation on defence, June 29") == story_tokens("cooperation on defense, Monday")


def test_pairs_file_is_current() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_pairs", FIXTURES / "dedupe" / "build_pairs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == PAIRS


def test_story_signature_keeps_datasketch_default_hashing() -> None:
    """Band keys are stored: computing them faster must not change them (they would no longer
    meet the keys of articles stored before)."""
    from datasketch import MinHash

    from aggregator.dedupe import LEAD_BAND_OFFSET, LEAD_TOKENS, NUM_PERM, _bands, shingles

    text = " ".join(f"word{i % 97} token{i % 13} item{i}" for i in range(120))
    tokens = story_tokens(text)

    def reference(items: set[str], offset: int) -> list[int]:
        m = MinHash(num_perm=NUM_PERM, seed=7)  # datasketch's own sha1_hash32
        m.update_batch([s.encode("utf-8") for s in items])
        return _bands(m, offset)

    expected = reference(shingles(tokens), 0) + reference(shingles(tokens[:LEAD_TOKENS]), LEAD_BAND_OFFSET)
    assert story_signature(text).bands == tuple(expected)
