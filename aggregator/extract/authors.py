"""Bylines to author names: people's names in any script, and news agencies.

A byline field holds more than names: "By", job titles ("Staff Writer"), desks, dates, picture
credits ("Foto: Jane Doe", "(Image: Getty Images)"), the site's own name, several people joined
by a language's "and", and sometimes "Last, First". The words for each are data
(rules/bylines.toml). A name must look like one: at most five words, no digits or URLs, and in
scripts that have capitals, one capitalised word ("JANE DOE" and "Jane Doe" are names, "posted
yesterday" is not; Chinese and Japanese names have no capitals to look for).
"""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from aggregator.extract.text import clean_whitespace

_NOT_A_NAME = re.compile(r"\d|@|https?:|www\.|\.(?:com|org|net)\b|[<>{}=]", re.IGNORECASE)
#: "Brazil, Rachel": one comma between two single words is "Last, First".
_LAST_FIRST = re.compile(r"^([^\W\d_][\w'’-]*),\s*([^\W\d_][\w'’.-]*)$")
#: Initials or a desk code in brackets after a name: "Jane Doe (jd)", "(obe)".
_TRAILING_CODE = re.compile(r"\s*\((?:[a-z]{1,5}|[A-Z]{1,3})\)\s*$")
#: Only these scripts' letters have case, so only there a name needs a capital.
_CASED = re.compile(r"[A-Za-zÀ-ɏͰ-ϿЀ-ӿ]")
_STRIP = " .:;,-–—|•·/\\()[]*"


@dataclass(frozen=True)
class BylineRules:
    by_words: re.Pattern[str]
    splitter: re.Pattern[str]
    agencies: dict[str, str]
    role_words: frozenset[str]
    credit_prefixes: tuple[str, ...]
    credit_words: tuple[str, ...]


@cache
def byline_rules() -> BylineRules:
    data = tomllib.loads(
        resources.files("aggregator.extract").joinpath("rules", "bylines.toml").read_text("utf-8")
    )
    lower_only = {"di", "da", "od"}
    words = sorted(data["by_words"], key=len, reverse=True)
    any_case = "|".join(re.escape(w) for w in words if w not in lower_only)
    lower = "|".join(re.escape(w) for w in words if w in lower_only)
    by = re.compile(rf"^\s*(?:(?i:{any_case})|{lower})(?:\s*:\s*|\s+)")
    ands = "|".join(re.escape(w) for w in sorted(data["and_words"], key=len, reverse=True))
    splitter = re.compile(rf"\s*(?:[,;&|]|\s[/\-–—]\s|\s(?:{ands})\s)\s*", re.IGNORECASE)
    return BylineRules(
        by_words=by,
        splitter=splitter,
        agencies={_key(a): a for a in data["agencies"]},
        role_words=frozenset(w.casefold() for w in data["role_words"]),
        credit_prefixes=tuple(w.casefold() for w in data["credit_prefixes"]),
        credit_words=tuple(w.casefold() for w in data["credit_words"]),
    )


def _key(text: str) -> str:
    """The form names are compared in: case-folded letters and digits only."""
    return "".join(c for c in text.casefold() if c.isalnum())


def site_keys(site_name: str, host: str) -> frozenset[str]:
    """The ways a page names its own site: og:site_name, the host, the host's brand label."""
    keys = {_key(site_name)} if site_name else set()
    host = host.lower().removeprefix("www.")
    if host:
        keys.add(_key(host))
        labels = host.split(".")
        if len(labels) >= 2:
            keys.add(_key(labels[-2]))
    return frozenset(k for k in keys if len(k) >= 3)  # "a.example" has no brand to speak of


def _is_credit(part: str, rules: BylineRules) -> bool:
    folded = part.casefold()
    return folded.startswith(rules.credit_prefixes) or any(w in folded for w in rules.credit_words)


def _looks_like_name(part: str, rules: BylineRules) -> bool:
    words = part.split()
    if not words or len(words) > 5 or _NOT_A_NAME.search(part):
        return False
    if any(w.casefold().strip(".") in rules.role_words for w in words):
        return False
    if _CASED.search(part):
        return any(w[:1].isupper() for w in words)
    return any(c.isalpha() for c in part)


def _parts(raw: str, rules: BylineRules) -> list[str]:
    text = clean_whitespace(html.unescape(raw))
    text = rules.by_words.sub("", text)
    last_first = _LAST_FIRST.match(text)
    if last_first:
        return [f"{last_first.group(2)} {last_first.group(1)}"]
    out = []
    for part in rules.splitter.split(text):
        part = _TRAILING_CODE.sub("", rules.by_words.sub("", part)).strip(_STRIP)
        if part:
            out.append(part)
    return out


def clean_authors(values: Iterable[str], *, site: frozenset[str] = frozenset()) -> list[str]:
    """Names from byline values: people first, then agencies ("Jane Doe, AP" is both).

    ``site`` holds the keys (see site_keys) of the page's own site, which is never an author.
    """
    rules = byline_rules()
    people: list[str] = []
    agencies: list[str] = []
    seen: set[str] = set()
    for raw in values:
        if _is_credit(raw.strip(), rules):
            continue
        parts = _parts(raw, rules)
        if parts and _key(parts[0]) in site:
            continue  # "hessenschau.de, Frankfurt, Germany": the site's imprint, not a byline
        for part in parts:
            key = _key(part)
            if not key or key in seen or key in site or _is_credit(part, rules):
                continue
            if key in rules.agencies:
                seen.add(key)
                agencies.append(part)
            elif _looks_like_name(part, rules):
                seen.add(key)
                people.append(part)
    return people + agencies
