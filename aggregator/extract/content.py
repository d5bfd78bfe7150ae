"""Main text: find the element that holds the article body and read its paragraphs.

The page is first stripped of what is never text (scripts, navigation, forms) and of blocks whose
class or id names furniture (share bars, related stories, newsletter boxes: tokens from the rules
file). Paragraph-like blocks then vote for their parent and grandparent, readability-style, and the
best-scoring container (plus siblings that score nearly as well) is read block by block. A block
that is a furniture phrase, a byline, or mostly links is dropped, so furniture interleaved between
paragraphs goes without taking the paragraphs around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree
from lxml.html import HtmlElement

from aggregator.extract.names import PageNames, read_names
from aggregator.extract.rules import FurnitureRules, SiteRules, furniture_rules
from aggregator.extract.text import clean_whitespace, count_words

_NEVER_TEXT = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "iframe",
    "button",
    "input",
    "select",
    "textarea",
    "object",
    "embed",
    "canvas",
    "audio",
    "video",
    "picture",
    "map",
)
#: Usually furniture, but some sites wrap the whole page in one (ASP.NET's <form>, a <header>
#: around the article): removed unless they hold most of the page's paragraph text.
_USUALLY_FURNITURE = (
    "form",
    "nav",
    "footer",
    "aside",
    "header",
    "figure",
    "figcaption",
    "dialog",
    "menu",
    "label",
)
#: Of those, the ones seen wrapping a whole article (ASP.NET pages are one <form>).
_MAY_WRAP_ARTICLE = ("form", "header")
_ALL_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
#: Paragraph score (see score_candidates) from which a layout-named block counts as prose.
_PROSE = 10.0
#: A block holding more than this share of the page's paragraph text is never furniture.
_MAIN_SHARE = 0.4
_BLOCKS = {
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
_LEAF_TAGS = {"p", "h2", "h3", "h4", "h5", "h6", "pre", "li", "dd", "dt", "blockquote"}
_HEADINGS = {"h2", "h3", "h4", "h5", "h6"}
_PARAGRAPH_TAGS = {"p", "pre", "td", "blockquote", "li"}
_POSITIVE = re.compile(r"article|body|content|entry|main|post|story|text|prose|blog|news", re.IGNORECASE)
_NEGATIVE = re.compile(
    r"comment|meta|foot|sidebar|widget|related|promo|share|social|sponsor|teaser|card|list|"
    r"nav|menu|rail|aside|popular|trending|newsletter",
    re.IGNORECASE,
)
_WORD_SPLIT = re.compile(r"[\s_\-]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
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


@lru_cache(maxsize=8192)
def _split_names(value: str | None) -> tuple[frozenset[str], frozenset[str]]:
    # Cached: pages repeat the same class attributes hundreds of times ("col-md-6", "item").
    raw = value.split() if value else []
    words: set[str] = set()
    for name in raw:
        # "InlineImage-imageEmbedCaption" -> inline, image, embed, caption
        words.update(w.lower() for w in _WORD_SPLIT.split(_CAMEL.sub(" ", name)) if w)
    return frozenset(name.lower() for name in raw), frozenset(words)


def _drop(el: HtmlElement) -> None:
    """Remove an element but keep its tail text, which belongs to the parent."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail and tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def clean_tree(
    tree: HtmlElement,
    rules: FurnitureRules,
    site: SiteRules | None,
    *,
    relaxed: bool = False,
    names: PageNames | None = None,
) -> Cleaned:
    """Remove, in place, everything that is never article text; return the page's prose evidence.

    Relaxed (the cascade's second try) stops after the first round and reads <noscript>.

    In three rounds: what is never text (scripts, hidden blocks) and blocks named for furniture
    that can hold prose (comments, cookie notices, related stories); then the densest block of
    text left is found, before layout names are read; then furniture tags (nav, footer, aside…)
    and layout-named blocks go, except that block and every block around it. Wrappers named
    "widget Blog", "has-sidebar" or "header-default" hold the article on real sites, and no
    name rule can know that; where the text is can.
    """
    etree.strip_elements(tree, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    if relaxed:
        # A page that writes its article into <noscript> for browsers without JavaScript
        # (Blogger's newer themes) is read there.
        etree.strip_tags(tree, "noscript")
    for el in list(tree.iter(*_NEVER_TEXT)):
        _drop(el)
    weight = _paragraph_weight(tree)
    total = weight.get(tree, 0)
    protected: set[HtmlElement] = set()

    def holds_most_text(el: HtmlElement) -> bool:
        if total == 0 or weight.get(el, 0) <= _MAIN_SHARE * total:
            return False
        # A grid of teasers (a linked heading over every paragraph) can outweigh a short
        # article; it is still furniture. (A listicle's headings are not links.)
        headings = len(el.xpath(".//h2[.//a]|.//h3[.//a]|.//h4[.//a]"))
        return headings < max(3, len(el.xpath(".//p")) // 2)

    def holds_main_text(el: HtmlElement) -> bool:
        return el in protected or holds_most_text(el)

    # The walk that read every name marked the blocks the rounds below visit.
    if names is None:
        names = read_names(tree, rules)
    strong, media, layout = names.strong, names.media, names.layout

    def sweep(marked: list[HtmlElement], prose: Candidates | None = None) -> None:
        doomed = []
        for el in marked:
            if holds_main_text(el):
                continue
            # Under a layout name, a heading or a block of real paragraphs is still text:
            # "article-subheadline", Elementor's text widgets, "headline-with-text".
            if prose is not None and (el.tag in _ALL_HEADINGS or prose.subtree(el) >= _PROSE):
                continue
            doomed.append(el)
        for el in doomed:
            # An ancestor may already be gone; removing a detached subtree is harmless.
            _drop(el)

    sweep(strong)
    evidence = prose_evidence(tree)
    if relaxed:
        # Navigation, footers and asides still go (unless they hold most of the text); no name
        # is trusted, and no tag that has been seen wrapping a whole article.
        for el in list(tree.iter(*_USUALLY_FURNITURE)):
            if el.tag not in _MAY_WRAP_ARTICLE and not holds_most_text(el):
                _drop(el)
        return Cleaned(evidence, None)
    found = score_candidates(tree)
    scores = found.scores()
    core = _pick_best(scores) if scores else None
    if core is not None:
        protected.update(core.iterancestors())
        protected.add(core)

    for el in list(tree.iter(*_USUALLY_FURNITURE)):
        # A footer or an aside around the densest text holds a bio or a sidebar essay, not the
        # story (which is then the shorter text); a form or a header may wrap the whole page.
        keep = holds_main_text(el) if el.tag in _MAY_WRAP_ARTICLE else holds_most_text(el)
        if not keep:
            _drop(el)
    if site is not None:
        for selector in site.remove:
            for el in tree.cssselect(selector):
                _drop(el)
    found.prune(tree)
    sweep(layout, prose=found)
    sweep(media)
    found.prune(tree)
    return Cleaned(evidence, found)


@dataclass(frozen=True)
class Cleaned:
    """What clean_tree learned on the way: the page's prose evidence (characters, see
    prose_evidence) and the block scores of the cleaned tree (None after a relaxed clean)."""

    evidence: int
    candidates: Candidates | None


_EVIDENCE_XPATH = (
    "//p[not(ancestor::nav or ancestor::footer or ancestor::aside or ancestor::header or ancestor::form)]"
)


def prose_evidence(tree: HtmlElement) -> int:
    """Characters of prose the page shows: paragraphs of 40 characters or more, few of them links,
    outside navigation, headers, footers, asides and forms (comments and the like already gone).
    """
    total = 0
    for p in tree.xpath(_EVIDENCE_XPATH):
        n = _text_len(p)
        if n >= 40 and _link_chars(p) < 0.3 * n:
            total += n
    return total


def _link_chars(el: HtmlElement) -> int:
    return sum(_text_len(a) for a in el.iter("a"))


def _paragraph_weight(tree: HtmlElement) -> dict[HtmlElement, int]:
    """Characters of <p> text under each element (the root included), in one pass."""
    weight: dict[HtmlElement, int] = {}
    for p in tree.iter("p"):
        n = len(p.text_content().strip())
        if not n:
            continue
        el: HtmlElement | None = p
        while el is not None:
            weight[el] = weight.get(el, 0) + n
            el = el.getparent()
    return weight


def _link_density(el: HtmlElement, text_len: int) -> float:
    if text_len == 0:
        return 0.0
    # (the length clean_whitespace would give, without its checks for invisible characters)
    link_len = sum(len(" ".join(a.text_content().split())) for a in el.iter("a"))
    return min(1.0, link_len / text_len)


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


def _text_len(el: HtmlElement) -> int:
    """Characters of text, not counting whitespace (cheaper than cleaning it first)."""
    text: str = el.text_content()
    return len(text) - sum(text.count(c) for c in " \n\t\r")


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


def _has_block_child(el: HtmlElement) -> bool:
    return any(isinstance(c.tag, str) and c.tag in _BLOCKS for c in el)


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
    with_blocks = {el.getparent() for el in root.iter(*_BLOCKS)}
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag not in _PARAGRAPH_TAGS and el in with_blocks:
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
        if tag in _PARAGRAPH_TAGS or (tag == "div" and el not in with_blocks):
            raw = el.text_content()
            if len(raw) < 25:
                continue
            text = clean_whitespace(raw)
            if len(text) < 25:
                continue
            commas = text.count(",") + text.count("、") + text.count("，")
            score = float(1 + commas + min(len(text) // 100, 3))
            score *= 1 - _link_density(el, len(text))
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


def _pick_best(scores: dict[HtmlElement, float]) -> HtmlElement:
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
        score = raw * (1 - _link_density(el, text_len))
        if score > best_score:
            best, best_score = el, score
    assert best is not None
    return best


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
    best = _pick_best(scores)
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
    best_len = _text_len(best)
    parent = best.getparent()
    while parent is not None and parent.tag not in ("body", "html") and best_len:
        if _text_len(parent) > 1.02 * best_len:
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
        elif sibling.tag in _PARAGRAPH_TAGS or not _has_block_child(sibling):
            text = clean_whitespace(sibling.text_content())
            if len(text) > 80 and _link_density(sibling, len(text)) < 0.25:
                chosen.append(sibling)
    return chosen


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
    if tag in _LEAF_TAGS and not _has_block_child(el):
        yield el, _leaf_text(el)
        return
    if tag == "h1":
        return
    inline: list[str] = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and child.tag in _BLOCKS:
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
        if _link_density(block, text_len) > 0.6:
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


def extract_paragraphs(
    tree: HtmlElement,
    site: SiteRules | None = None,
    rules: FurnitureRules | None = None,
    candidates: Candidates | None = None,
) -> list[str]:
    """The article body of a cleaned tree, as paragraphs; empty when nothing looks like text.

    ``candidates``: the tree's block scores when clean_tree has them (saves scoring again).
    """
    rules = rules or furniture_rules()
    extra = site.phrases if site is not None else frozenset()
    out: list[str] = []
    for container in find_containers(tree, site, candidates):
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
