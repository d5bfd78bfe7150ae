"""Cleaning a page before its body is chosen: what is never text, and furniture by name and tag.

In three rounds: what is never text (scripts, hidden blocks) and blocks named for furniture that
can hold prose (comments, cookie notices, related stories); then the densest block of text left
is found, before layout names are read; then furniture tags (nav, footer, aside...) and
layout-named blocks go, except that block and every block around it. Wrappers named
"widget Blog", "has-sidebar" or "header-default" hold the article on real sites, and no name rule
can know that; where the text is can. A block holding most of the page's paragraph text is
never furniture either (unless it is a grid of linked teasers).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from lxml.html import HtmlElement

from aggregator.extract.names import PageNames, read_names
from aggregator.extract.rules import FurnitureRules, SiteRules
from aggregator.extract.scoring import Candidates, link_chars, pick_best, score_candidates, text_len

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


def drop(el: HtmlElement) -> None:
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
        drop(el)
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
            drop(el)

    sweep(strong)
    evidence = prose_evidence(tree)
    if relaxed:
        # Navigation, footers and asides still go (unless they hold most of the text); no name
        # is trusted, and no tag that has been seen wrapping a whole article.
        for el in list(tree.iter(*_USUALLY_FURNITURE)):
            if el.tag not in _MAY_WRAP_ARTICLE and not holds_most_text(el):
                drop(el)
        return Cleaned(evidence, None)
    found = score_candidates(tree)
    scores = found.scores()
    core = pick_best(scores) if scores else None
    if core is not None:
        protected.update(core.iterancestors())
        protected.add(core)

    for el in list(tree.iter(*_USUALLY_FURNITURE)):
        # A footer or an aside around the densest text holds a bio or a sidebar essay, not the
        # story (which is then the shorter text); a form or a header may wrap the whole page.
        keep = holds_main_text(el) if el.tag in _MAY_WRAP_ARTICLE else holds_most_text(el)
        if not keep:
            drop(el)
    if site is not None:
        for selector in site.remove:
            for el in tree.cssselect(selector):
                drop(el)
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
        n = text_len(p)
        if n >= 40 and link_chars(p) < 0.3 * n:
            total += n
    return total


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
