"""Is this page an article? Listing, tag, search and error pages must not be stored as articles."""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from aggregator.model import ARTICLE, EMPTY, ERROR_PAGE, LISTING

_ERROR_TITLE = re.compile(
    r"\b(?:404|410|500|not found|page not found|no longer available|error|gone)\b", re.IGNORECASE
)
_LISTING_URL = re.compile(
    r"/(?:tag|tags|topic|topics|category|categories|search|author|page)/|[?&](?:q|s|page)=", re.IGNORECASE
)


def classify_page(
    tree: HtmlElement, *, url: str, title: str, words: int, typed_article: bool, og_type: str
) -> str:
    """One of the page types in aggregator.model, from structure and metadata.

    Structured data saying "article" is trusted unless the body is nearly empty. Otherwise a page
    is a listing when it is a grid of teasers (several headings that are links) or a URL that
    names a listing, and an article when it has a body of real length.
    """
    if words == 0:
        return EMPTY
    if _ERROR_TITLE.search(title) and words < 150:
        return ERROR_PAGE
    if typed_article:
        return ARTICLE if words >= 30 else LISTING
    teasers = len(tree.xpath("//*[self::h2 or self::h3 or self::h4][.//a[@href]]"))
    if og_type in ("website", "profile") and teasers >= 3:
        return LISTING
    if teasers >= 5 or _LISTING_URL.search(url):
        return LISTING
    return ARTICLE if words >= 80 else LISTING
