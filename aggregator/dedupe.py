"""Duplicate detection: the same URL, the same text under another URL.

A crawl meets the same article many times (feed and sitemap both list it, a re-crawl fetches it
again). The :class:`Deduplicator` decides, for each normalized article, whether it is new, a
changed version of a stored article, an unchanged copy, or the same text under another URL (an
alias). It remembers what this crawl has already passed on, on top of what the store holds, so
two copies inside one batch are caught before either is committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from aggregator.model import Article


class Verdict(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ALIAS = "alias"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    #: The canonical URL of the stored article this one is (itself unless an alias).
    canonical_url: str

    @property
    def is_duplicate(self) -> bool:
        return self.verdict in (Verdict.UNCHANGED, Verdict.ALIAS)


class KnownArticles(Protocol):
    """What the dedupe needs to know of stored articles (the Store implements it)."""

    def hash_for_url(self, canonical_url: str) -> str | None:
        """The content hash stored for a canonical URL, or None when unknown."""

    def url_for_hash(self, content_hash: str) -> str | None:
        """The canonical URL of a stored article with that content hash, or None."""


class Deduplicator:
    def __init__(self, known: KnownArticles) -> None:
        self._known = known
        self._hash_by_url: dict[str, str] = {}
        self._url_by_hash: dict[str, str] = {}

    def check(self, article: Article) -> Decision:
        """Classify a normalized article and remember it when it will be stored."""
        url, digest = article.canonical_url, article.content_hash
        stored_hash = self._hash_by_url.get(url) or self._known.hash_for_url(url)
        if stored_hash is not None:
            if stored_hash == digest:
                return Decision(Verdict.UNCHANGED, url)
            self._remember(url, digest)
            return Decision(Verdict.UPDATED, url)
        if digest:
            other = self._url_by_hash.get(digest) or self._known.url_for_hash(digest)
            if other is not None and other != url:
                return Decision(Verdict.ALIAS, other)
        self._remember(url, digest)
        return Decision(Verdict.NEW, url)

    def _remember(self, url: str, digest: str) -> None:
        self._hash_by_url[url] = digest
        if digest:
            self._url_by_hash.setdefault(digest, url)
