"""Turn a page into an Article: metadata, main text without furniture, dateline, page type.

No network and no database: bytes in, record out. ``extract_article`` never raises on any input;
what it cannot read comes back as an empty record with ``page_type`` saying why.
"""

from __future__ import annotations

import hashlib
import logging
import re
from urllib.parse import urlsplit

from lxml import etree
from lxml import html as lxml_html

from aggregator.extract.cascade import extract_body
from aggregator.extract.dateline import drop_trailing_boilerplate, split_dateline
from aggregator.extract.decode import decode_html, sniff_non_html
from aggregator.extract.metadata import extract_metadata
from aggregator.extract.names import read_names
from aggregator.extract.pagetype import classify_page
from aggregator.extract.rules import furniture_rules, rules_for_host
from aggregator.extract.text import count_words, has_control_bytes, strip_control
from aggregator.model import EMPTY, NOT_HTML, Article

__all__ = ["MAX_HTML_CHARS", "content_hash", "extract_article"]

logger = logging.getLogger(__name__)

#: Pages are cut to this many characters before parsing: a bound on time and memory for
#: enormous or endless pages. Real articles are far below it.
MAX_HTML_CHARS = 3_000_000


def content_hash(text: str) -> str:
    """The hash that says "same text": sha256 of the case-folded words, without the dateline at
    the head of the text. Copies of a wire story that differ only by it ("TOKYO (AP) —",
    "TOKYO —", none) are the same text; the dateline is a field of its own."""
    first, sep, rest = text.lstrip().partition("\n\n")
    dateline, after = split_dateline(first)
    if dateline:
        text = f"{after}{sep}{rest}" if after else rest
    normalized = " ".join(text.casefold().split())
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


#: An XML declaration (XHTML pages): lxml refuses one in a decoded string, and the bytes are
#: already decoded by then, so it only has to go.
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _parser() -> lxml_html.HTMLParser:
    """lxml.html's parser with every element an HtmlElement, chosen in C. lxml.html's own lookup
    is a Python function called for each element the extractor touches (to make form fields
    FormElement, InputElement...): 8% of the extraction time, for classes we never use."""
    parser = lxml_html.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=False)
    parser.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=lxml_html.HtmlElement,
            comment=lxml_html.HtmlComment,
            pi=lxml_html.HtmlProcessingInstruction,
            entity=lxml_html.HtmlEntity,
        )
    )
    return parser


def _parse(text: str) -> lxml_html.HtmlElement | None:
    text = _XML_DECLARATION.sub("", text, count=1)
    if not text.strip():
        return None
    try:
        tree = lxml_html.document_fromstring(text, parser=_parser())
    except (etree.ParserError, ValueError):
        return None
    return tree


def extract_article(html: str | bytes, url: str, *, content_type: str | None = None) -> Article:
    """Extract the record of one page.

    Args:
        html: the page, as bytes (decoded from the header, BOM, meta or detection) or text.
        url: the address the page came from; resolves relative links and selects site rules.
        content_type: the HTTP Content-Type header, when known, for its charset.
    """
    article = Article(url=url, canonical_url=url, page_type=EMPTY)
    if sniff_non_html(html) is not None:
        article.page_type = NOT_HTML
        return article
    text = decode_html(html, content_type)
    if not isinstance(html, bytes) or has_control_bytes(html):
        text = strip_control(text)
    if len(text) > MAX_HTML_CHARS:
        logger.info("page %s is %d characters; reading the first %d", url, len(text), MAX_HTML_CHARS)
        text = text[:MAX_HTML_CHARS]
    tree = _parse(text)
    if tree is None:
        return article
    host = urlsplit(url).hostname or ""
    site = rules_for_host(host) if host else None
    rules = furniture_rules()
    names = read_names(tree, rules)
    hints = extract_metadata(tree, url, site, into=article, names=names)
    body = extract_body(
        tree,
        reparse=lambda: _parse(text),
        html=text,
        url=url,
        article_body=hints.article_body,
        rules=rules,
        site=site,
        names=names,
        dek=article.subtitle,
    )
    paragraphs = body.paragraphs

    # The title is metadata; a copy of it inside the body is furniture. (Not so the dek: a meta
    # description is often the first paragraph itself.)
    paragraphs = [p for p in paragraphs if p != article.title]
    paragraphs = drop_trailing_boilerplate(paragraphs)
    # The dateline is kept as a field and left at the head of the body, as published: the
    # structured truth of news pages (schema.org articleBody, fundus's paragraphs) has it there,
    # and a reader of the text sees it (content_hash leaves it out).
    dateline = split_dateline(paragraphs[0])[0] if paragraphs else ""

    body_text = "\n\n".join(paragraphs)
    words = count_words(body_text)
    article.dateline = dateline
    article.text = body_text
    article.text_stage = body.stage if body_text else ""
    article.word_count = words
    article.content_hash = content_hash(body_text) if body_text else ""
    article.page_type = classify_page(
        tree,
        url=url,
        title=article.title,
        words=words,
        typed_article=hints.typed_article,
        og_type=hints.og_type,
    )
    return article
