"""The body text, by a cascade of stages: never nothing when a person would see an article.

The first stage is the precise one (furniture rules, then the densest block; see content.py). It
is right on most pages, and on the rest it fails quietly: a wrapper named like furniture, a body
in an unusual place. So its result is checked against what the page itself says about how much
text it holds (the JSON-LD ``articleBody``, the paragraphs outside navigation and footers), and
when it is empty or far shorter, the next stage tries:

1. ``dom``: furniture rules, densest block, block-by-block filtering.
2. ``jsonld``: the page's structured ``articleBody``, when clearly fuller than ``dom``.
3. ``relaxed``: the same block choice on a fresh parse where only what a browser would not
   show and blocks named for prose furniture (comments, cookie notices) are removed; layout
   names and furniture tags are not trusted, and ``<noscript>`` is read.
4. ``fallback``: trafilatura, a well-kept extractor with a different algorithm, as a last resort.

A body under a hundred words is asked about too, even when the evidence agrees with it: on pages
whose text sits in ``<div>``s and ``<br>``s the evidence is as short as the wrong choice. There a
later stage must be twice as long to win, so that a page that is really short keeps its text.

Measured on the three DEV sets (see benchmarks/extraction.py), stages 3 and 4 run on a few
percent of pages, so the median time is the first stage's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from lxml.html import HtmlElement

from aggregator.extract.clean import clean_tree
from aggregator.extract.content import extract_paragraphs
from aggregator.extract.names import PageNames
from aggregator.extract.rules import FurnitureRules, SiteRules
from aggregator.extract.text import clean_whitespace, count_words

logger = logging.getLogger(__name__)

#: The stages, in the order they are tried (Article.text_stage holds one of these, or "").
STAGES = ("dom", "jsonld", "relaxed", "fallback")

#: A result shorter than this share of the page's own evidence is taken as a failure.
_SHORT = 0.2
#: A later stage replaces an earlier result only when it is this much longer.
_BETTER = 1.2
#: The fallback's text is taken only from this many words up.
_MIN_WORDS = 10
#: A body under this many words is a stub or a fragment (a slideshow caption, the teaser above a
#: "read more"), whatever the page's own evidence says: the later stages are asked too.
_STUB_WORDS = 100
#: ...and a later stage replaces such a stub only when it is this much longer, so that a page
#: that really is short keeps its own text.
_STUB_BETTER = 2.0


@dataclass(frozen=True)
class Body:
    """The body text's paragraphs and the stage that produced them."""

    paragraphs: list[str]
    stage: str

    @property
    def chars(self) -> int:
        return sum(len(p) for p in self.paragraphs)


def extract_body(
    tree: HtmlElement,
    *,
    reparse: Callable[[], HtmlElement | None],
    html: str,
    url: str,
    article_body: str,
    rules: FurnitureRules,
    site: SiteRules | None,
    names: PageNames | None = None,
    dek: str = "",
) -> Body:
    """Run the stages until one gives a body that the page's evidence does not contradict.

    ``tree`` is cleaned in place by the first stage; ``reparse`` gives a fresh tree of the same
    page for the relaxed stage.
    """
    cleaned = clean_tree(tree, rules, site, names=names)
    evidence = max(cleaned.evidence, len(clean_whitespace(article_body)))
    best = Body(extract_paragraphs(tree, site, rules, cleaned.candidates, dek=dek), "dom")

    if article_body:
        ld_words = count_words(article_body)
        # Structured bodies are often truncated teasers; they win only when clearly fuller.
        if ld_words >= 80 and ld_words > 1.5 * sum(count_words(p) for p in best.paragraphs):
            parts = [clean_whitespace(p) for p in article_body.replace("\r", "").split("\n")]
            best = Body([p for p in parts if p and not rules.is_furniture(p)], "jsonld")

    if _holds(best, evidence):
        return best
    fresh = reparse()
    if fresh is not None:
        clean_tree(fresh, rules, site, relaxed=True)
        relaxed = Body(extract_paragraphs(fresh, site, rules, dek=dek), "relaxed")
        if relaxed.chars > _BETTER * best.chars:
            best = relaxed
    if _holds(best, evidence):
        return best
    fallback = Body(_trafilatura(html, url, rules), "fallback")
    # A library's last word counts only when it found prose, not a menu's "Home".
    needed = _STUB_BETTER if _plausible(best, evidence) else _BETTER
    if fallback.chars > needed * best.chars and count_words(" ".join(fallback.paragraphs)) >= _MIN_WORDS:
        best = fallback
    return best


def _plausible(body: Body, evidence: int) -> bool:
    """Not contradicted by the page's evidence: some text, not far shorter than the page holds."""
    return bool(body.paragraphs) and body.chars >= _SHORT * evidence


def _holds(body: Body, evidence: int) -> bool:
    """Plausible and long enough that no later stage need be asked."""
    return _plausible(body, evidence) and count_words(" ".join(body.paragraphs)) >= _STUB_WORDS


def _trafilatura(html: str, url: str, rules: FurnitureRules) -> list[str]:
    """trafilatura's text of the page, split into our paragraphs; [] when it has none."""
    try:
        import trafilatura
    except ImportError:  # pragma: no cover - a declared dependency
        return []
    try:
        text = trafilatura.extract(html, url=url, include_comments=False, include_tables=True)
    except Exception:
        logger.debug("trafilatura failed on %s", url, exc_info=True)
        return []
    if not text:
        return []
    parts = (clean_whitespace(line) for line in text.split("\n"))
    return [p for p in parts if p and not rules.is_furniture(p)]
