"""One walk over a page that reads every element's names: what metadata and cleaning look for.

Metadata wants the elements whose class says dek, byline, date or breadcrumb; cleaning wants the
blocks whose class, id or role names furniture (and the ones hidden from view). Reading each
element's attributes once, in one Python walk, costs less than the dozen XPath scans with string
functions that did it before, or than two walks; and a class name's meaning is worked out once
per name, then remembered (pages repeat "col-md-6" hundreds of times, and sites share names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from lxml.html import HtmlElement

from aggregator.extract.rules import FurnitureRules

_WORD_SPLIT = re.compile(r"[\s_\-]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)

# What one name says, as bits. Furniture kinds in order of precedence: a hiding class wins,
# then a keep token over every furniture token, then prose furniture, media, layout.
LAYOUT, MEDIA, STRONG, KEEP, HIDES = 1, 2, 4, 8, 16
# Metadata hooks, read from class names only (substrings: "article-dek", "byline__author").
DEK, BYLINE, DATE, CRUMB = 32, 64, 128, 256
_FURNITURE_BITS = LAYOUT | MEDIA | STRONG | KEEP | HIDES
_DEK_CLASS = re.compile(r"^dek$|standfirst|subtitle|sub-?headline|article-summary|deck", re.IGNORECASE)
_DEK_TAGS = frozenset(("p", "h2", "div", "span"))
#: html, body, article, main: never furniture, whatever their names.
KEEP_ALWAYS = frozenset(("html", "body", "article", "main"))
#: Bounded memo: ids are unique ("post-12345"), and a crawl must not keep every one.
_MEMO_SIZE = 50_000


@dataclass
class PageNames:
    """The elements a page's names single out, each list in document order."""

    #: hidden from view, or named for furniture that can hold prose (comments, cookie notices)
    strong: list[HtmlElement] = field(default_factory=list)
    #: named for media (gallery, video): their prose is captions
    media: list[HtmlElement] = field(default_factory=list)
    #: named for layout furniture (sidebar, nav, header...), which also names article wrappers
    layout: list[HtmlElement] = field(default_factory=list)
    deks: list[HtmlElement] = field(default_factory=list)
    bylines: list[HtmlElement] = field(default_factory=list)
    dates: list[HtmlElement] = field(default_factory=list)
    crumbs: list[HtmlElement] = field(default_factory=list)
    tags: list[HtmlElement] = field(default_factory=list)


@cache
def _memo(rules: FurnitureRules) -> dict[str, int]:
    return {}


def name_words(name: str) -> set[str]:
    """The words of one class/id name, lower-cased, and the whole name:
    "InlineImage-imageEmbedCaption" -> inline, image, embed, caption."""
    lower = name.lower()
    if lower != name:
        words = {w.lower() for w in _WORD_SPLIT.split(_CAMEL.sub(" ", name)) if w}
    else:
        words = {w for w in lower.replace("_", "-").split("-") if w}
    words.add(lower)
    return words


def name_bits(name: str, rules: FurnitureRules) -> int:
    """What one class/id/role name says (the bits above)."""
    lower = name.lower()
    bits = 0
    if "byline" in lower or "author-name" in lower:
        bits |= BYLINE
    if "date" in lower or "time" in lower:
        bits |= DATE
    if "breadcrumb" in lower:
        bits |= CRUMB
    if _DEK_CLASS.search(lower):
        bits |= DEK
    if lower in rules.keep_tokens:
        return bits | KEEP
    if lower in rules.hidden_classes:
        return bits | HIDES
    words = name_words(name)
    if not words.isdisjoint(rules.block_tokens):
        return bits | STRONG
    if not words.isdisjoint(rules.media_tokens):
        return bits | MEDIA
    if not words.isdisjoint(rules.layout_tokens):
        return bits | LAYOUT
    return bits


def _bits_of(value: str | None, memo: dict[str, int], rules: FurnitureRules) -> int:
    """What a class/id/role attribute says: its names' bits, remembered for the whole value too
    (a page repeats the same class attribute on hundreds of elements)."""
    if not value:
        return 0
    bits = memo.get(value)
    if bits is None:
        bits = 0
        for name in value.split():
            b = memo.get(name)
            if b is None:
                b = memo.setdefault(name, name_bits(name, rules))
            bits |= b
        memo[value] = bits
    return bits


def read_names(tree: HtmlElement, rules: FurnitureRules) -> PageNames:
    """Walk the page once and sort out the elements its names single out.

    Only attributes single an element out, so an element without any is passed over after one
    call (``items()``, which also reads all of an element's attributes at once): most elements
    of a page have none, and the per-element Python was the largest cost of extraction.
    """
    memo = _memo(rules)
    if len(memo) > _MEMO_SIZE:
        memo.clear()
    found = PageNames()
    for el in tree.iter():
        items = el.items()
        if not items:
            continue
        tag = el.tag
        if not isinstance(tag, str):
            continue
        attrs = dict(items)
        bits = _bits_of(attrs.get("class"), memo, rules)
        itemprop = attrs.get("itemprop")
        if itemprop == "alternativeHeadline" or (bits & DEK and tag in _DEK_TAGS):
            found.deks.append(el)
        rel = attrs.get("rel")
        if rel == "tag" and tag == "a":
            found.tags.append(el)
        if bits & (BYLINE | DATE | CRUMB) or rel == "author" or itemprop == "author":
            if bits & BYLINE or rel == "author" or itemprop == "author":
                found.bylines.append(el)
            if bits & DATE:
                found.dates.append(el)
            if bits & CRUMB:
                found.crumbs.append(el)
        if tag in KEEP_ALWAYS:
            continue
        furniture = (
            bits | _bits_of(attrs.get("id"), memo, rules) | _bits_of(attrs.get("role"), memo, rules)
        ) & _FURNITURE_BITS
        style = attrs.get("style")
        if (
            furniture & HIDES
            or "hidden" in attrs
            or attrs.get("aria-hidden") == "true"
            or (style and _HIDDEN_STYLE.search(style))
        ):
            found.strong.append(el)
        elif furniture & KEEP:
            continue
        elif furniture & STRONG:
            found.strong.append(el)
        elif furniture & MEDIA:
            found.media.append(el)
        elif furniture & LAYOUT:
            found.layout.append(el)
    return found
