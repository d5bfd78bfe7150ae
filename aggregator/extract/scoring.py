"""Block scores: which element holds the article body, readability-style.

Every paragraph-like block (a <p>, a list item, a table cell, a <div> without blocks inside, and
text written straight into a container) gets a score for its length and commas, discounted by
the share of it that is links; the score goes to its parent and half of it to its grandparent,
so the body's nearest common block collects the most. Class names that promise content
("article-body") or furniture ("sidebar") nudge a block's score in proportion to the text it
really holds. The scores are kept up to date as cleaning removes blocks (Candidates.prune), so a
page is scored once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from lxml.html import HtmlElement

from aggregator.extract.text import clean_whitespace

BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "thead",
    "tbody",
    "tr",
    "td",
    "th",
    "dl",
    "dd",
    "dt",
    "hr",
    "center",
    "address",
    "details",
    "summary",
}

PARAGRAPH_TAGS = {"p", "pre", "td", "blockquote", "li"}

_POSITIVE = re.compile(r"article|body|content|entry|main|post|story|text|prose|blog|news", re.IGNORECASE)

_NEGATIVE = re.compile(
    r"comment|meta|foot|sidebar|widget|related|promo|share|social|sponsor|teaser|card|list|"
    r"nav|menu|rail|aside|popular|trending|newsletter",
    re.IGNORECASE,
)

_WORD_SPLIT = re.compile(r"[\s_\-]+")

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@lru_cache(maxsize=8192)
def _split_names(value: str | None) -> tuple[frozenset[str], frozenset[str]]:
    # Cached: pages repeat the same class attributes hundreds of times ("col-md-6", "item").
    raw = value.split() if value else []
    words: set[str] = set()
    for name in raw:
        # "InlineImage-imageEmbedCaption" -> inline, image, embed, caption
        words.update(w.lower() for w in _WORD_SPLIT.split(_CAMEL.sub(" ", name)) if w)
    return frozenset(name.lower() for name in raw), frozenset(words)


def link_density(el: HtmlElement, text_len: int) -> float:
    if text_len == 0:
        return 0.0
    # (the length clean_whitespace would give, without its checks for invisible characters)
    link_len = sum(len(" ".join(a.text_content().split())) for a in el.iter("a"))
    return min(1.0, link_len / text_len)


def link_chars(el: HtmlElement) -> int:
    return sum(text_len(a) for a in el.iter("a"))


def _class_weight(el: HtmlElement) -> float:
    return _weight_of_names(el.get("class"), el.get("id"), el.get("role"), el.get("itemprop"))


@lru_cache(maxsize=4096)
def _weight_of_names(cls: str | None, id_: str | None, role: str | None, itemprop: str | None) -> float:
    weight = 100.0 if itemprop == "articleBody" else 0.0
    names = " ".join(n for value in (cls, id_, role) for n in _split_names(value)[0])
    if _POSITIVE.search(names):
        weight += 25
    if _NEGATIVE.search(names):
        weight -= 25
    return weight


def text_len(el: HtmlElement) -> int:
    """Characters of text, not counting whitespace (cheaper than cleaning it first)."""
    text: str = el.text_content()
    return len(text) - sum(text.count(c) for c in " \n\t\r")


def has_block_child(el: HtmlElement) -> bool:
    return any(isinstance(c.tag, str) and c.tag in BLOCKS for c in el)


@dataclass
class Candidates:
    """Readability-style block scores of a tree, kept up to date as blocks are removed.

    ``content``: a paragraph's score goes to its parent and half of it to its grandparent (the
    body is the paragraphs' nearest common block). ``subtree``: every paragraph below a block
    however deep, for deciding whether a block holds body text at all. Scoring reads the text of
    every paragraph; clean_tree scores once to find the densest block, removes furniture, then
    ``prune``s what it removed instead of scoring the whole page again.
    """

    content: dict[HtmlElement, float] = field(default_factory=dict)
    #: each scored unit (a paragraph, or a container's own text) -> its score and the blocks
    #: its content went to
    units: dict[HtmlElement, tuple[float, list[tuple[HtmlElement, float]]]] = field(default_factory=dict)

    def add(self, unit: HtmlElement, score: float, shares: list[tuple[HtmlElement, float]]) -> None:
        for el, value in shares:
            self.content[el] = self.content.get(el, 0.0) + value
        self.units[unit] = (score, shares)

    def subtree(self, el: HtmlElement) -> float:
        """The scores of the paragraphs below el and of the text written into el or below it
        (read when asked: few blocks are)."""
        units = self.units
        total = sum(units[x][0] for x in el.iter() if x in units)
        if el in units and units[el][1][0][0] is not el:  # el is a paragraph, not a container
            total -= units[el][0]
        return total

    def prune(self, root: HtmlElement) -> None:
        """Take out what units no longer under ``root`` gave, and the blocks removed with them."""
        for unit, (_, shares) in list(self.units.items()):
            # Walk up to the top of the unit's tree: root when it is still in the page, the
            # root of a removed block otherwise, below which everything is gone.
            gone = [unit]
            node = unit.getparent()
            while node is not None:
                gone.append(node)
                node = node.getparent()
            if gone[-1] is root:
                continue
            del self.units[unit]
            for target, value in shares:
                if target in gone:
                    self.content.pop(target, None)
                elif target in self.content:
                    self.content[target] -= value

    def scores(self) -> dict[HtmlElement, float]:
        # A promising class name counts in proportion to the text a node really holds, so an
        # empty "content-wrapper" cannot outrank the block of paragraphs next to it.
        return {el: c + _class_weight(el) * min(1.0, c / 20) for el, c in self.content.items()}


def score_candidates(root: HtmlElement) -> Candidates:
    """Score every block of the tree (see Candidates)."""
    found = Candidates()
    # Elements with a block child, found from the blocks' side: lxml filters tags in C.
    with_blocks = {el.getparent() for el in root.iter(*BLOCKS)}
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag not in PARAGRAPH_TAGS and el in with_blocks:
            # Text written straight into a container, between its blocks, is a paragraph too.
            raw = (el.text or "") + " ".join(c.tail or "" for c in el)
            if len(raw) < 100:  # (the cheap test first: cleaning only shortens)
                continue
            direct = clean_whitespace(raw)
            if len(direct) >= 100:
                own = float(1 + direct.count(",") + min(len(direct) // 100, 3))
                shares = [(el, own)]
                parent = el.getparent()
                if parent is not None:
                    shares.append((parent, own / 2))
                found.add(el, own, shares)
            continue
        if tag in PARAGRAPH_TAGS or (tag == "div" and el not in with_blocks):
            raw = el.text_content()
            if len(raw) < 25:
                continue
            text = clean_whitespace(raw)
            if len(text) < 25:
                continue
            commas = text.count(",") + text.count("、") + text.count("，")
            score = float(1 + commas + min(len(text) // 100, 3))
            score *= 1 - link_density(el, len(text))
            if tag == "li":
                score *= 0.5
            parent = el.getparent()
            if parent is None:
                continue
            grandparent = parent.getparent()
            shares = [(parent, score)]
            if grandparent is not None and isinstance(grandparent.tag, str):
                shares.append((grandparent, score * 0.5))
            found.add(el, score, shares)
    return found


def pick_best(scores: dict[HtmlElement, float]) -> HtmlElement:
    """The candidate with the best score once discounted by its link density.

    The discount only lowers a score, so candidates are taken in order of raw score and the
    search stops at the first whose raw score cannot beat the best discounted one: on a big page
    that spares reading the text of hundreds of wrappers.
    """
    best: HtmlElement | None = None
    best_score = float("-inf")
    for el, raw in sorted(scores.items(), key=lambda item: item[1], reverse=True):
        if raw <= best_score and (raw > 0 or best_score > 0):
            break  # (a negative score moves toward 0 when discounted, so those are all read)
        text_len = len(clean_whitespace(el.text_content()))
        score = raw * (1 - link_density(el, text_len))
        if score > best_score:
            best, best_score = el, score
    assert best is not None
    return best
