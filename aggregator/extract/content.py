"""Main text: the element(s) holding the article body of a cleaned page, read block by block.

The best-scoring block (see scoring.py) is widened through thin wrappers, to the level of the
repeated units a body may be split into, and joined by the siblings of its kind or weight. It is
then read block by block: a block that is a furniture phrase, a byline, a date line or mostly
links is dropped, and a heading that opens a furniture section ("Related Stories") drops the
blocks under it, so furniture interleaved between paragraphs goes without taking the paragraphs
around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from lxml.html import HtmlElement

from aggregator.extract.names import name_words
from aggregator.extract.rules import FurnitureRules, SiteRules, furniture_rules
from aggregator.extract.scoring import (
    BLOCKS,
    PARAGRAPH_TAGS,
    Candidates,
    has_block_child,
    link_density,
    pick_best,
    score_candidates,
    text_len,
)
from aggregator.extract.text import clean_whitespace, count_words

_LEAF_TAGS = {"p", "h2", "h3", "h4", "h5", "h6", "pre", "li", "dd", "dt", "blockquote"}

_HEADINGS = {"h2", "h3", "h4", "h5", "h6"}

_NAME = r"[A-Z][\w.'’\-]+(?:\s+[A-Z][\w.'’\-]+){0,3}"
#: "By Jane Doe", "By Jane Doe and John Roe, Staff Writers", "By Jane Doe - 11/18/19 11:04 PM EST"

_BYLINE = re.compile(
    rf"^(?:[Bb]y|BY|[Ww]ritten by|[Vv]on|[Pp]ar|[Pp]or)\s+{_NAME}"
    rf"(?:\s*(?:,|and|&)\s*{_NAME})*(?:\s*[-–—|,•·]\s*.{{0,60}})?$"
)

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"

_DATE_LINE = re.compile(
    rf"^(?:(?:published|updated|posted|last updated)\s*:?\s*)?(?:\w+day,?\s+)?"
    rf"(?:{_MONTHS}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{_MONTHS}\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})"
    rf"(?:\s*(?:at\s*)?\d{{1,2}}[:.]\d{{2}}\s*(?:[ap]\.?m\.?)?(?:\s*[A-Z]{{2,4}})?)?$",
    re.IGNORECASE,
)


def find_containers(
    root: HtmlElement, site: SiteRules | None, candidates: Candidates | None = None
) -> list[HtmlElement]:
    """The element(s) holding the article body, in document order."""
    if site is not None and site.body:
        found = root.cssselect(site.body)
        if found:
            return list(found)
    # itemprop=articleBody weighs heavily in _class_weight but is no override: some pages mark
    # a teaser or a single paragraph with it.
    found = candidates if candidates is not None else score_candidates(root)
    scores, content = found.scores(), found.content
    if not scores:
        body = root.find(".//body")
        return [body if body is not None else root]
    best = pick_best(scores)
    marked = root.xpath("//*[@itemprop='articleBody']")
    if marked:
        # Structured markup names the body: trust it when it holds about as much text as the
        # winner (a marked teaser or a marked page-wide wrapper is not trusted).
        marked_len = len(clean_whitespace(marked[0].text_content()))
        best_len = len(clean_whitespace(best.text_content()))
        if 0.7 * best_len <= marked_len <= 2.0 * best_len:
            return [marked[0]]
    # A wrapper that holds little beyond the best block is the same container: climb through
    # it, so that a body split into many wrapped blocks is gathered from the right level.
    best_len = text_len(best)
    parent = best.getparent()
    while parent is not None and parent.tag not in ("body", "html") and best_len:
        if text_len(parent) > 1.02 * best_len:
            break
        best, parent = parent, parent.getparent()
    if parent is not None and parent.tag not in ("body", "html") and _repeated_unit(parent, found):
        # The body is a run of units (one per paragraph and picture: "paragraph_wrapper"), and
        # the best block is only the text inside one of them: gather the units.
        best, parent = parent, parent.getparent()
    content.setdefault(best, 0.0)
    if parent is None or parent.tag in ("html",):
        return [best]
    # Siblings join on what their paragraphs weigh, not on a promising class name.
    threshold = max(10.0, content[best] * 0.2)
    chosen: list[HtmlElement] = []
    for sibling in parent:
        if not isinstance(sibling.tag, str):
            continue
        if sibling is best:
            chosen.append(sibling)
            continue
        # A body split into several blocks of the same kind (between ads, say) is one body.
        same_kind = (
            sibling.tag == best.tag and _first_class(best) and _first_class(sibling) == _first_class(best)
        )
        # Same-kind blocks join on any paragraph of their own, or on a deeper one of some weight.
        if (sibling in content and (same_kind or content[sibling] >= threshold)) or (
            same_kind and found.subtree(sibling) >= 3
        ):
            chosen.append(sibling)
        elif sibling.tag in PARAGRAPH_TAGS or not has_block_child(sibling):
            text = clean_whitespace(sibling.text_content())
            if len(text) > 80 and link_density(sibling, len(text)) < 0.25:
                chosen.append(sibling)
    return chosen


def _first_class(el: HtmlElement) -> str:
    """The block's kind: its first class, or, for a wrapper without one around a single element,
    that element's kind ("<div><div class='paragraph'>" is a paragraph unit too)."""
    for _ in range(4):
        classes = (el.get("class") or "").split()
        if classes:
            return classes[0]
        children = [c for c in el if isinstance(c.tag, str)]
        if len(children) != 1:
            return ""
        el = children[0]
    return ""


def _repeated_unit(el: HtmlElement, found: Candidates) -> bool:
    """True when el has a sibling of its own kind (tag and first class) that holds paragraphs."""
    kind = _first_class(el)
    parent = el.getparent()
    if not kind or parent is None:
        return False
    return any(
        s is not el and s.tag == el.tag and _first_class(s) == kind and found.subtree(s) >= 3 for s in parent
    )


def _leaf_text(el: HtmlElement) -> list[str]:
    """The text of a block, split into paragraphs where it has a blank line (or <br><br>)."""
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str):
                if child.tag == "br":
                    parts.append("\n")
                else:
                    walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    raw = "".join(parts)
    paragraphs = re.split(r"\n[ \t\xa0]*\n", raw)
    return [clean_whitespace(p) for p in paragraphs if clean_whitespace(p)]


def _blocks(el: HtmlElement) -> Iterator[tuple[HtmlElement, list[str]]]:
    """Yield (block element, its paragraphs) for each leaf block in document order."""
    tag = el.tag
    if not isinstance(tag, str):
        return
    if tag == "tr":
        cells = [clean_whitespace(c.text_content()) for c in el if isinstance(c.tag, str)]
        row = " ".join(c for c in cells if c)
        if row:
            yield el, [row]
        return
    if tag in _LEAF_TAGS and not has_block_child(el):
        yield el, _leaf_text(el)
        return
    if tag == "h1":
        return
    inline: list[str] = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and child.tag in BLOCKS:
            yield from _flush(el, inline)
            inline = []
            yield from _blocks(child)
            inline.append(child.tail or "")
        elif isinstance(child.tag, str) and child.tag == "br":
            inline.append("\n")
            inline.append(child.tail or "")
        else:
            if isinstance(child.tag, str):
                inline.append(child.text_content())
            inline.append(child.tail or "")
    yield from _flush(el, inline)


def _flush(el: HtmlElement, inline: list[str]) -> Iterator[tuple[HtmlElement, list[str]]]:
    raw = "".join(inline)
    paragraphs = [clean_whitespace(p) for p in re.split(r"\n[ \t\xa0]*\n", raw)]
    paragraphs = [p for p in paragraphs if p]
    if paragraphs:
        yield el, paragraphs


def _keep(block: HtmlElement, paragraph: str, rules: FurnitureRules, extra: frozenset[str]) -> bool:
    if rules.is_furniture(paragraph, extra):
        return False
    words = count_words(paragraph)
    if (words <= 20 and _BYLINE.match(paragraph)) or (words <= 12 and _DATE_LINE.match(paragraph)):
        return False
    if _in_quote(block):
        # Quoted posts (embedded tweets) are link-heavy by nature and part of the story.
        return True
    if block.tag in ("li", "tr", "dd", "dt") or words < 25:
        text_len = len(clean_whitespace(block.text_content()))
        if link_density(block, text_len) > 0.6:
            return False
    return True


def _in_quote(el: HtmlElement) -> bool:
    node: HtmlElement | None = el
    for _ in range(4):
        if node is None:
            return False
        if node.tag == "blockquote":
            return True
        node = node.getparent()
    return False


#: How far up from the body's block, and how many blocks back at each level, a lead is looked for.
_LEAD_LEVELS = 3
_LEAD_SIBLINGS = 2
#: A lead is prose: a sentence or more, few links.
_LEAD_MIN_WORDS = 8
#: More blocks named for a lead than this in one block before the body: a teaser grid.
_LEAD_MAX_NAMED = 20


def _named_lead(el: HtmlElement, rules: FurnitureRules) -> bool:
    value = el.get("class")
    return bool(value) and any(_lead_name(n, rules.lead_tokens) for n in value.split())


@lru_cache(maxsize=8192)
def _lead_name(name: str, tokens: frozenset[str]) -> bool:
    return not name_words(name).isdisjoint(tokens)


def _same_text(text: str, dek: str) -> bool:
    """The lead is the dek the page's metadata gave (kept as the subtitle): the same words, or
    one holding the other."""
    if not dek:
        return False
    a, b = " ".join(text.casefold().split()), " ".join(dek.casefold().split())
    return a in b or b in a


def _lead_prose(el: HtmlElement, rules: FurnitureRules, dek: str) -> bool:
    """A sentence or more of prose, not under a title, not mostly links, not furniture, and not
    the dek the metadata already gave."""
    text = clean_whitespace(el.text_content())
    return (
        count_words(text) >= _LEAD_MIN_WORDS
        and not el.xpath(".//h1")
        and link_density(el, len(text)) < 0.3
        and not rules.is_furniture(text)
        and not _same_text(text, dek)
    )


def lead_blocks(container: HtmlElement, rules: FurnitureRules, *, dek: str = "") -> list[HtmlElement]:
    """The article's lead paragraph when the page keeps it in a block of its own just before the
    body's block ("teaser-text" before "news-text-wrap", "article-intro" before "article-body"):
    a block named for a lead among the two blocks before the container or before one of its
    three nearest ancestors, or inside such a block (a header holding title and lead), with a
    sentence of prose, and only one (several side by side are other stories' teasers). Scoring
    picks the block of paragraphs, and a one-paragraph lead beside it is too light to join it;
    a reader sees it as the first paragraph."""
    node = container
    for _ in range(_LEAD_LEVELS):
        parent = node.getparent()
        if parent is None or parent.tag in ("body", "html"):
            return []
        seen = 0
        for sibling in node.itersiblings(preceding=True):
            if not isinstance(sibling.tag, str):
                continue
            seen += 1
            if seen > _LEAD_SIBLINGS:
                break
            named = [el for el in sibling.iter() if isinstance(el.tag, str) and _named_lead(el, rules)]
            if len(named) > _LEAD_MAX_NAMED:
                continue  # a grid of teaser cards, not a lead
            passing = {el for el in named if _lead_prose(el, rules, dek)}
            # The outermost that reads as a lead: "article-intro" holding a label and the lead
            # paragraph; an "intro" that also holds the title fails, and its "chapo" is taken.
            leads = [
                el for el in named if el in passing and not any(a in passing for a in el.iterancestors())
            ]
            if len(leads) == 1:
                return leads
            # Several prose blocks named "teaser" side by side are other stories' teasers.
        node = parent
    return []


def extract_paragraphs(
    tree: HtmlElement,
    site: SiteRules | None = None,
    rules: FurnitureRules | None = None,
    candidates: Candidates | None = None,
    *,
    dek: str = "",
) -> list[str]:
    """The article body of a cleaned tree, as paragraphs; empty when nothing looks like text.

    ``candidates``: the tree's block scores when clean_tree has them (saves scoring again).
    """
    rules = rules or furniture_rules()
    extra = site.phrases if site is not None else frozenset()
    out: list[str] = []
    containers = find_containers(tree, site, candidates)
    if containers and not (site is not None and site.body):
        containers = lead_blocks(containers[0], rules, dek=dek) + containers
    for container in containers:
        in_furniture_section = False
        for block, paragraphs in _blocks(container):
            if block.tag in _HEADINGS:
                in_furniture_section = any(rules.opens_furniture_section(p) for p in paragraphs)
            if in_furniture_section:
                continue
            for paragraph in paragraphs:
                if _keep(block, paragraph, rules, extra) and (not out or out[-1] != paragraph):
                    out.append(paragraph)
    return out
