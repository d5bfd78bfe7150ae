"""Load the extraction rules (furniture phrases, block tokens, per-site rules) from data files.

Rules are data so that adding a publisher or a furniture phrase is a data change. This module is
the only place that knows the file formats; everything else sees the frozen dataclasses below.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from cssselect import GenericTranslator, SelectorError

_PUNCT = " \t\r\n.:;,!?…|-–—•·›»«>()[]"


def phrase_key(text: str) -> str:
    """The form phrases are compared in: case-folded, outer punctuation stripped."""
    return " ".join(text.strip(_PUNCT).split()).casefold()


@dataclass(frozen=True)
class FurnitureRules:
    exact: frozenset[str]
    prefixes: tuple[str, ...]
    prefix_max_words: int
    patterns: tuple[re.Pattern[str], ...]
    #: The patterns as two alternations (see :func:`combine`): those anchored at the start,
    #: tried there only, and the others, searched for.
    anchored_patterns: re.Pattern[str] | None
    floating_patterns: re.Pattern[str] | None
    block_tokens: frozenset[str]
    keep_tokens: frozenset[str]
    layout_tokens: frozenset[str] = frozenset()
    media_tokens: frozenset[str] = frozenset()
    section_headings: frozenset[str] = frozenset()
    hidden_classes: frozenset[str] = frozenset()
    #: Class-name words of a lead paragraph kept apart from the body's block (content.py).
    lead_tokens: frozenset[str] = frozenset()

    def opens_furniture_section(self, heading: str) -> bool:
        return phrase_key(heading) in self.section_headings

    def _starts_with_prefix(self, key: str) -> bool:
        """A whole-word prefix: "photo" opens "photo: ap", not "photos à l'appui"."""
        if not key.startswith(self.prefixes):  # the common case, decided in C
            return False
        return any(
            key.startswith(p) and (len(key) == len(p) or not key[len(p)].isalnum()) for p in self.prefixes
        )

    def is_furniture(self, paragraph: str, extra: frozenset[str] = frozenset()) -> bool:
        """True when a whole paragraph is page furniture rather than article text."""
        key = phrase_key(paragraph)
        if not key:
            return True
        if key in self.exact or key in extra:
            return True
        if len(key.split()) <= self.prefix_max_words and self._starts_with_prefix(key):
            return True
        stripped = paragraph.strip()
        if self.anchored_patterns is not None and self.anchored_patterns.match(stripped) is not None:
            return True
        return self.floating_patterns is not None and self.floating_patterns.search(stripped) is not None


@dataclass(frozen=True)
class SiteRules:
    """Selectors for one publisher; empty strings mean "use the generic rules"."""

    name: str
    domains: tuple[str, ...]
    body: str = ""
    title: str = ""
    dek: str = ""
    section: str = ""
    tags: str = ""
    authors: str = ""
    remove: tuple[str, ...] = ()
    phrases: frozenset[str] = field(default_factory=frozenset)

    def matches(self, host: str) -> bool:
        host = host.lower()
        return any(host == d or host.endswith("." + d) for d in self.domains)


def _strings(data: dict[str, Any], key: str, source: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{source}: {key!r} must be a list of strings")
    if any(not v.strip() for v in value):
        # An empty phrase or token would match everything.
        raise ValueError(f"{source}: {key!r} has an empty entry, which would match everything")
    return value


def _anchored_body(pattern: str) -> str | None:
    """The pattern less its leading ``^`` when every match of it must start at the beginning
    (a ``^`` and no ``|`` outside brackets and groups), else None."""
    if not pattern.startswith("^"):
        return None
    depth, escaped, in_class = 0, False, False
    for char in pattern[1:]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return None
    return pattern[1:]


def combine(patterns: list[str]) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """The patterns as two case-insensitive alternations: those anchored at the start, with
    their ``^`` taken off, to try at position 0 (``match``), and the others, to search for.

    One alternation of them all was tried at every position of a paragraph, each anchored
    branch failing there in turn: 60 µs a paragraph, 3% of the extraction time.
    """
    bodies = [_anchored_body(p) for p in patterns]
    anchored = [b for b in bodies if b is not None]
    floating = [p for p, b in zip(patterns, bodies, strict=True) if b is None]

    def alternation(parts: list[str]) -> re.Pattern[str] | None:
        return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE) if parts else None

    return alternation(anchored), alternation(floating)


@cache
def furniture_rules() -> FurnitureRules:
    source = "furniture.toml"
    data = tomllib.loads(resources.files(__package__).joinpath("rules", source).read_text("utf-8"))
    patterns = _strings(data, "patterns", source)
    anchored, floating = combine(patterns)
    return FurnitureRules(
        exact=frozenset(phrase_key(p) for p in _strings(data, "exact", source)),
        prefixes=tuple(phrase_key(p) for p in _strings(data, "prefix", source)),
        prefix_max_words=int(data.get("prefix_max_words", 30)),
        patterns=tuple(re.compile(p, re.IGNORECASE) for p in patterns),
        anchored_patterns=anchored,
        floating_patterns=floating,
        block_tokens=frozenset(t.lower() for t in _strings(data, "block_tokens", source)),
        keep_tokens=frozenset(t.lower() for t in _strings(data, "keep_tokens", source)),
        layout_tokens=frozenset(t.lower() for t in _strings(data, "layout_tokens", source)),
        media_tokens=frozenset(t.lower() for t in _strings(data, "media_tokens", source)),
        section_headings=frozenset(phrase_key(p) for p in _strings(data, "section_headings", source)),
        hidden_classes=frozenset(t.lower() for t in _strings(data, "hidden_classes", source)),
        lead_tokens=frozenset(t.lower() for t in _strings(data, "lead_tokens", source)),
    )


def parse_site_rules(text: str, source: str) -> SiteRules:
    """Parse one site file; raises ValueError naming the file when it is malformed."""
    data = tomllib.loads(text)
    domains = _strings(data, "domains", source)
    if not domains:
        raise ValueError(f"{source}: 'domains' must name at least one host")
    scalars = {}
    for key in ("body", "title", "dek", "section", "tags", "authors"):
        value = data.get(key, "")
        if not isinstance(value, str):
            raise TypeError(f"{source}: {key!r} must be a CSS selector string")
        scalars[key] = _check_selector(value, key, source) if value else ""
    removals = [_check_selector(s, "remove", source) for s in _strings(data, "remove", source)]
    return SiteRules(
        name=str(data.get("name", source)),
        domains=tuple(d.lower() for d in domains),
        remove=tuple(removals),
        phrases=frozenset(phrase_key(p) for p in _strings(data, "phrases", source)),
        **scalars,
    )


def _check_selector(selector: str, key: str, source: str) -> str:
    """Refuse a malformed CSS selector when the file is loaded, not on some page later."""
    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        raise ValueError(f"{source}: {key!r} is not a valid CSS selector: {selector!r} ({exc})") from exc
    return selector


@cache
def site_rules() -> tuple[SiteRules, ...]:
    folder = resources.files(__package__).joinpath("rules", "sites")
    rules = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            rules.append(parse_site_rules(entry.read_text("utf-8"), entry.name))
    return tuple(rules)


def rules_for_host(host: str) -> SiteRules | None:
    for rules in site_rules():
        if rules.matches(host):
            return rules
    return None
