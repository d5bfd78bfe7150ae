"""Duplicate detection: the same URL, the same text under another URL, the same story.

A crawl meets the same article many times (feed and sitemap both list it, a re-crawl fetches it
again). The :class:`Deduplicator` decides, for each normalized article, whether it is new, a
changed version of a stored article, an unchanged copy, or the same text under another URL (an
alias). It remembers what this crawl has already passed on, on top of what the store holds, so
two copies inside one batch are caught before either is committed.

Wire stories are republished by many outlets with small edits (spelling, dateline, a trailing
"Follow ... on Twitter", a local paragraph, only the first half). Those copies are one *story*:
:func:`story_signature` gives MinHash LSH band keys (over the whole text and over its lead, since
a shortened copy keeps the lead intact) to find candidates in an index of any size, and
:func:`same_story` decides on the exact shingle sets. Containment, not only Jaccard, makes a
half-length copy match; a minimum overlap and size ratio keep a follow-up that quotes a few
paragraphs of an earlier story apart from it.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

import numpy as np

from aggregator.model import Article

if TYPE_CHECKING:
    from datasketch import MinHash

#: MinHash size and banding: 16 bands of 3 rows (and 16 more for the lead) make pairs with
#: Jaccard 0.5 candidates with probability 0.88 per signature, and every labelled same-story pair
#: shares at least 14 of its 32 keys (fixtures/dedupe: MIN_BAND_HITS is 2), while no two
#: different stories share any. It was 42 bands (84 keys an article): the index is the writer's
#: cost at scale, and 32 keys an article cut it 2.6 times (benchmarks/store.py).
NUM_PERM = 48
BAND_ROWS = 3
SHINGLE = 3
#: Tokens of the lead that get their own bands.
LEAD_TOKENS = 60
#: Band numbers of the lead signature start here, so the two never collide in the index.
LEAD_BAND_OFFSET = 1000

#: Decision thresholds on exact shingle sets (see same_story).
MIN_CONTAINMENT = 0.7
MIN_JACCARD_FOR_UNEQUAL = 0.3
MIN_SHARED = 12
#: Texts shorter than this (in story tokens) are too little evidence to call two articles one
#: story: stubs that differ only in a number would otherwise merge.
MIN_STORY_TOKENS = 30

_TOKEN = re.compile(r"\w+")
#: US and UK spellings meet here, so "co-operation"/"cooperation" and "defence"/"defense" shingle
#: alike. Only shingles see this; the stored text keeps the outlet's spelling.
_SPELLING = (
    (re.compile(r"(?<=\w)isation$"), "ization"),
    (re.compile(r"(?<=\w{3})ise([ds]?)$"), r"ize\1"),
    (re.compile(r"(?<=\w{3})ising$"), "izing"),
    (re.compile(r"(?<=\w{2})our$"), "or"),
    (re.compile(r"(?<=\w{2})ours$"), "ors"),
    (re.compile(r"(?<=\w)ence$"), "ense"),
    (re.compile(r"(?<=\w)tre$"), "ter"),
    (re.compile(r"(?<=\w)tres$"), "ters"),
    (re.compile(r"(?<=\w)lled$"), "led"),
    (re.compile(r"(?<=\w)lling$"), "ling"),
)
#: Weekday and month names: one outlet writes "Monday", another "June 29".
_DATE_WORDS = frozenset(
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)


def story_tokens(text: str) -> list[str]:
    """Case-folded word tokens with hyphens joined, spellings unified, dates and numbers blanked."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"(?<=\w)[-‐‑](?=\w)", "", text)
    out = []
    for token in _TOKEN.findall(text):
        if token in _DATE_WORDS or token.isdigit():
            continue
        out.append(_unify_spelling(token))
    return out


@lru_cache(maxsize=65536)
def _unify_spelling(token: str) -> str:
    if len(token) < 5:
        return token
    for pattern, repl in _SPELLING:
        new = pattern.sub(repl, token)
        if new != token:
            return new
    return token


def shingles(tokens: list[str], size: int = SHINGLE) -> set[str]:
    if len(tokens) < size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


@lru_cache(maxsize=1)
def _template() -> MinHash:
    """datasketch rebuilds its permutations for every MinHash; they depend only on num_perm and seed."""
    from datasketch import MinHash  # imported where signatures are made: it pulls in scipy (0.6 s)

    return MinHash(num_perm=NUM_PERM, seed=7)


def shingle_hash(shingle: str) -> int:
    """datasketch's default hash of a shingle (sha1_hash32: the first 4 bytes of SHA-1, little
    endian), so stored band keys stay what they were."""
    return int.from_bytes(hashlib.sha1(shingle.encode("utf-8")).digest()[:4], "little")


def _minhash(hashes: list[int]) -> MinHash:
    """A MinHash of shingles hashed already: the lead's shingles are the text's first ones,
    so each shingle is hashed once for both signatures."""
    from datasketch import MinHash

    template = _template()
    m = MinHash(
        num_perm=NUM_PERM, seed=7, hashfunc=int, permutations=template.permutations, scheme=template.scheme
    )
    m.update_batch(hashes)
    return m


def _bands(m: MinHash, offset: int) -> list[int]:
    values = np.asarray(m.hashvalues, dtype=np.uint64)
    out = []
    for band, start in enumerate(range(0, NUM_PERM - BAND_ROWS + 1, BAND_ROWS)):
        # The band number is hashed in, so one key names one band: an index on the key alone
        # answers the lookup, whatever the database.
        data = struct.pack(">i", offset + band) + values[start : start + BAND_ROWS].tobytes()
        out.append(struct.unpack(">q", hashlib.blake2b(data, digest_size=8).digest())[0])
    return out


@dataclass(frozen=True)
class StorySignature:
    """LSH band keys of a text (signed 64-bit), for the whole text and for its lead."""

    bands: tuple[int, ...]


def story_signature(text: str) -> StorySignature:
    tokens = story_tokens(text)
    if len(tokens) < MIN_STORY_TOKENS:
        return StorySignature(())
    hashes = {s: shingle_hash(s) for s in shingles(tokens)}
    bands = _bands(_minhash(list(hashes.values())), 0)
    if len(tokens) > LEAD_TOKENS:
        bands += _bands(_minhash([hashes[s] for s in shingles(tokens[:LEAD_TOKENS])]), LEAD_BAND_OFFSET)
    return StorySignature(tuple(bands))


def story_shingles(text: str) -> set[str]:
    tokens = story_tokens(text)
    return shingles(tokens) if len(tokens) >= MIN_STORY_TOKENS else set()


def same_story(a: str | set[str], b: str | set[str]) -> bool:
    """Do two texts carry the same story (the same wire copy, edited), on exact shingle sets?

    The same story when the smaller text is mostly inside the larger (containment) and they share
    enough shingles; when the two differ much in length (one outlet ran only part of the story),
    their Jaccard must also show the smaller is a real copy, not a few quoted paragraphs.
    Either side may be given as its story_shingles(), to shingle a text once for many checks.
    """
    sa = a if isinstance(a, set) else story_shingles(a)
    sb = b if isinstance(b, set) else story_shingles(b)
    if not sa or not sb:
        return False
    shared = len(sa & sb)
    small = min(len(sa), len(sb))
    containment = shared / small
    if containment < MIN_CONTAINMENT or shared < min(MIN_SHARED, small):
        return False
    jaccard = shared / len(sa | sb)
    return jaccard >= MIN_JACCARD_FOR_UNEQUAL or small >= 0.9 * max(len(sa), len(sb))


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
    """Decides per article; remembers what it let through until the store holds it (forget)."""

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

    def forget(self, stored: Iterable[tuple[str, str]]) -> None:
        """Drop (canonical URL, content hash) pairs that are in the store now: the store answers
        for them, and a long crawl's memory stays flat instead of growing with every article."""
        for url, digest in stored:
            if self._hash_by_url.get(url) == digest:
                del self._hash_by_url[url]
            if digest and self._url_by_hash.get(digest) == url:
                del self._url_by_hash[digest]
