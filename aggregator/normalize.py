"""Normalize an Article before dedupe and storage: canonical URL, clean text, UTC dates, tags.

Everything here is a pure function of the record (and of ``now``, passed in), so a re-crawl of an
unchanged page normalizes to exactly the same record and the same content hash.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import cache
from urllib.parse import urlsplit, urlunsplit

import ftfy
from w3lib.url import canonicalize_url, url_query_cleaner

from aggregator.dedupe import story_signature
from aggregator.extract import content_hash
from aggregator.extract.text import count_words
from aggregator.model import Article, Tag, merge_tags
from aggregator.tags import fold_tag, package_data

#: Dates this far past "now" are clock skew; later ones are errors and are dropped.
FUTURE_SKEW = timedelta(hours=26)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_AMP_PATH = re.compile(r"/amp(?P<slash>/)?$|/amp\.html?$|\.amp(?=\.html?$)|\.amp$", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v\xa0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANKS = re.compile(r"\n{3,}")


@cache
def tracking_params() -> tuple[frozenset[str], tuple[str, ...]]:
    """(exact names, prefixes) of tracking query parameters, from the data file."""
    names: set[str] = set()
    prefixes: list[str] = []
    for line in package_data("tracking_params.txt").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("*"):
            prefixes.append(line[:-1].lower())
        else:
            names.add(line.lower())
    return frozenset(names), tuple(prefixes)


def canonical_url(url: str) -> str:
    """The address that identifies an article: tracking parameters, fragment, default port,
    AMP and mobile variants removed; query sorted; scheme and host lower-cased."""
    url = url.strip()
    try:
        return _canonical(url)
    except ValueError:  # an address no one can fetch ("host:99999", "host:abc"): kept as given
        return url


def _canonical(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return url
    names, prefixes = tracking_params()
    if parts.query:
        keep = [
            pair
            for pair in parts.query.split("&")
            if pair and not _is_tracking(pair.split("=", 1)[0], names, prefixes)
        ]
        url = urlunsplit(parts._replace(query="&".join(keep)))
        url = url_query_cleaner(url, ("amp", "outputType"), remove=True, keep_fragments=True)
    parts = urlsplit(canonicalize_url(url))
    host = (parts.hostname or "").rstrip(".")
    port = parts.port if parts.port not in (None, _DEFAULT_PORTS.get(parts.scheme)) else None
    # Until nothing changes, so that the canonical URL of a canonical URL is itself
    # ("amp.m.example.com/story/amp/amp" is one page, whatever the order of its variants).
    stripped = True
    while stripped:
        stripped = False
        for prefix in ("m.", "mobile.", "amp."):
            if host.startswith(prefix) and host.count(".") >= 2:
                host = host[len(prefix) :]
                stripped = True
    netloc = f"{host}:{port}" if port else host
    path, previous = parts.path, None
    while path != previous:
        previous, path = path, _AMP_PATH.sub(lambda m: m.group("slash") or "", path)
    path = path or "/"
    return urlunsplit((parts.scheme, netloc, path, parts.query, ""))


def _is_tracking(name: str, names: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    name = name.lower()
    return name in names or name.startswith(prefixes)


#: A character ftfy might change: anything but printable ASCII, tab and newline, and "&" (an HTML
#: entity could start there). A line without one comes out of ftfy exactly as it went in.
_FTFY_MIGHT_CHANGE = re.compile(r"[^\t\x20-\x25\x27-\x7e]")


def fix_text(text: str) -> str:
    """ftfy.fix_text (mojibake, entities, NFC; quotes left curly), line by line as ftfy works,
    skipping the lines it would leave alone: most news text is plain, and ftfy's checks were a
    sixth of a crawl's CPU per page."""
    if not _FTFY_MIGHT_CHANGE.search(text.replace("\n", " ")):
        return text
    out = []
    # As ftfy does: entities are unescaped until the first line holding a "<" (HTML, then).
    unescape: str | bool = "auto"
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if unescape == "auto" and "<" in line:
            unescape = False
        if number < len(lines) - 1:
            line += "\n"  # ftfy's segments keep their line break ("\r\n" must stay one)
        if _FTFY_MIGHT_CHANGE.search(line.rstrip("\n")):
            line = ftfy.fix_text(line, normalization="NFC", uncurl_quotes=False, unescape_html=unescape)
        out.append(line)
    return "".join(out)


def clean_text(text: str) -> str:
    """NFC, mojibake repaired, spaces collapsed, paragraphs separated by exactly one blank line."""
    text = unicodedata.normalize("NFC", fix_text(text)).replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    paragraphs = [p.strip() for p in "\n".join(lines).split("\n\n")]
    return _BLANKS.sub("\n\n", "\n\n".join(p.replace("\n", " ") for p in paragraphs if p))


def clean_line(text: str) -> str:
    return " ".join(fix_text(text).split())


def to_utc(value: datetime | None, *, now: datetime) -> datetime | None:
    """Aware UTC; a naive date is taken as UTC; a date beyond now + skew is dropped."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value > now + FUTURE_SKEW:
        return None
    return value


def normalize_article(article: Article, *, now: datetime) -> Article:
    """Return a normalized copy; the input is not changed.

    The copy carries its fingerprints too (content hash, story band keys): they are functions of
    the normalized text, and computing them here puts them wherever normalization runs.
    """
    tags = merge_tags([], (Tag(fold_tag(t.name), t.origin) for t in article.tag_list()))
    text = clean_text(article.text)
    published = to_utc(article.published, now=now)
    updated = to_utc(article.updated, now=now)
    return article.with_tags(
        tags,
        url=article.url.strip(),
        canonical_url=canonical_url(article.canonical_url or article.url),
        title=clean_line(article.title),
        subtitle=clean_line(article.subtitle),
        authors=[clean_line(a) for a in article.authors if clean_line(a)],
        section=clean_line(article.section),
        dateline=clean_line(article.dateline),
        published=published,
        updated=updated if updated is None or published is None or updated >= published else None,
        language=article.language.strip().lower(),
        text=text,
        word_count=count_words(text),
        content_hash=content_hash(text) if text else "",
        story_bands=story_signature(text).bands,
        image_url=article.image_url.strip(),
    )
