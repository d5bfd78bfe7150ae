"""Article metadata from a parsed page: structured data first, then meta tags, then the HTML.

Each field is read from several kinds of evidence in a fixed order of trust (JSON-LD, OpenGraph
and other <meta>, itemprop microdata, visible markup, the URL) and the first that speaks wins.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any
from urllib.parse import urljoin, urlsplit

from extruct.jsonld import JsonLdExtractor
from lxml import etree
from lxml.html import HtmlElement

from aggregator.extract.authors import clean_authors, site_keys
from aggregator.extract.dates import parse_date
from aggregator.extract.names import PageNames, read_names
from aggregator.extract.rules import SiteRules, furniture_rules
from aggregator.extract.text import clean_whitespace, count_words
from aggregator.model import Article, TagOrigin

_ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "blogposting",
    "opinionnewsarticle",
    "backgroundnewsarticle",
    "reviewnewsarticle",
    "report",
    "techarticle",
    "scholarlyarticle",
    "liveblogposting",
    "posting",
    "socialmediaposting",
}
_TITLE_SEPARATORS = re.compile(r"\s+[|–—:·•»-]\s+")
#: <meta> names that hold a byline, in order of trust.
_META_AUTHORS = (
    "author",
    "article:author",
    "article:byline",
    "parsely-author",
    "sailthru.author",
    "dc.creator",
    "cxenseparse:author",
    "byl",
)
_URL_DATE = re.compile(r"/(20\d{2}|19\d{2})[/-](\d{1,2})[/-](\d{1,2})(?:/|-|\b)")


@dataclass(frozen=True)
class PageHints:
    """What the metadata says about the page beyond the Article's own fields."""

    #: og:type, lower case ("article", "website", ...).
    og_type: str = ""
    #: True when structured data says the page is an article.
    typed_article: bool = False
    #: JSON-LD articleBody, when the page carries one (a candidate body for the cascade).
    article_body: str = ""


def _jsonld_objects(tree: HtmlElement, url: str) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, @graph members flattened; broken blocks skipped."""
    try:
        items = JsonLdExtractor().extract_items(tree, base_url=url)
        raw = list(items)
    except (ValueError, TypeError, KeyError):  # broken JSON-LD: skipped, the meta tags remain
        raw = []
    out: list[dict[str, Any]] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, list):
            for o in obj:
                walk(o)
        elif isinstance(obj, dict):
            out.append(obj)
            walk(obj.get("@graph"))

    walk(raw)
    return out


def _types(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type", "")
    values = t if isinstance(t, list) else [t]
    return {str(v).rsplit("/", 1)[-1].lower() for v in values}


def unescape(text: str) -> str:
    """Text with HTML entities decoded: JSON-LD and double-escaped meta tags carry them raw
    ("K&uuml;hlt&uuml;rme", "Kohberger&#8217;s")."""
    return clean_whitespace(html.unescape(text) if "&" in text else text)


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return unescape(value)
    if isinstance(value, dict):
        return _text_of(value.get("name") or value.get("@value") or "")
    if isinstance(value, list) and value:
        return _text_of(value[0])
    return ""


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    if isinstance(value, dict):
        if not value.get("name"):  # schema.org Person by parts
            parts = [value.get(k) for k in ("givenName", "familyName")]
            name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
            return [name] if name else []
        return _names(value.get("name", ""))
    if isinstance(value, str):
        return [value]
    return []


def _meta(tree: HtmlElement) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = el.get("content")
        if key and content and content.strip():
            found.setdefault(key, []).append(content.strip())
    return found


def _first_date(values: Iterable[str | None]) -> datetime | None:
    for v in values:
        d = parse_date(v)
        if d is not None:
            return d
    return None


#: An entity-type annotation some CMSs append to keywords ("LeBron James PROFESSIONAL_ATHLETE").
_TYPE_LABEL = re.compile(r"\s+[A-Z]+(?:_[A-Z]+)+\b|\s+PERSON\b|\s+ORGANIZATION\b")
_MAX_TAG_WORDS = 6


def _clean_tag(raw: str) -> str:
    """A tag as a reader would write it, or "" for what is no tag: paths ("/article"), handles,
    URLs, numbers, punctuation, sentences."""
    tag = _TYPE_LABEL.sub("", unescape(raw)).strip(" ,;#\"'.…")
    if not tag or len(tag) > 60 or len(tag.split()) > _MAX_TAG_WORDS:
        return ""
    if tag.startswith(("/", "@")) or "://" in tag or tag.casefold() in ("http", "https"):
        return ""
    if not any(c.isalpha() for c in tag):
        return ""
    return tag


def _dedupe_tags(tags: Iterable[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for raw in tags:
        tag = _clean_tag(raw)
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
    return out


def _split_keywords(value: Any) -> list[str]:
    if isinstance(value, list):
        return [k for v in value for k in _split_keywords(v)]
    if isinstance(value, str):
        return [k for k in re.split(r"[,;]", value) if k.strip()]
    return []


def _select_texts(tree: HtmlElement, selector: str) -> list[str]:
    if not selector:
        return []
    return [clean_whitespace(el.text_content()) for el in tree.cssselect(selector)]


def strip_site_suffix(title: str, site_name: str, host: str = "") -> str:
    """ "Headline | Site" -> "Headline": drop a leading or trailing part that names the site.

    Only a part that is the site's name (og:site_name, the host, the host's brand: "Golem.de",
    "FAZ.NET") goes; "Brand in Lichterfelde – Starke Rauchentwicklung" keeps its second clause.
    """
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    site = site_keys(site_name, host)

    def names_site(part: str) -> bool:
        key = "".join(c for c in part.casefold() if c.isalnum())
        if not key:
            return False
        return key in site or any(len(k) >= 4 and (k in key or key in k) for k in site)

    while len(parts) > 1 and names_site(parts[-1]):
        title = title[: title.rfind(parts[-1])].rstrip(" |–—:·•»-")
        parts = parts[:-1]
    if len(parts) > 1 and names_site(parts[0]):
        title = title[title.find(parts[1], len(parts[0])) :]
    return title


def _is_dek(text: str, title: str, site: frozenset[str]) -> bool:
    """A dek is a sentence about the story: not a label ("Home", "Bei Google Play"), not the
    title again, not a line about the site ("on NYPost.com", "AccuWeather.com Quick Look")."""
    if not text or text == title or furniture_rules().is_furniture(text):
        return False
    words = count_words(text)
    if words < 5:
        return False
    if words < 10:
        keys = {"".join(c for c in w.casefold() if c.isalnum()) for w in text.split()}
        if keys & site or any(len(k) > 4 and k.endswith(("com", "net", "org")) for k in keys):
            return False
    return True


def _same_site(a: str, b: str) -> bool:
    ha = (urlsplit(a).hostname or "").removeprefix("www.")
    hb = (urlsplit(b).hostname or "").removeprefix("www.")
    return bool(ha) and ha == hb


def _texts(elements: Iterable[HtmlElement]) -> Iterator[str]:
    for el in elements:
        text = clean_whitespace(el.text_content())
        if text:
            yield text


def _date_elements(marked: PageNames) -> Iterator[HtmlElement]:
    """The first element named for a date or time that holds no smaller one named for a date."""
    for el in marked.dates:
        if not any("date" in (d.get("class") or "") for d in el.iterdescendants()):
            yield el
            return


def _breadcrumb_leaf(marked: PageNames) -> str:
    """The last link of the page's breadcrumbs: the section."""
    for crumb in reversed(marked.crumbs):
        for a in reversed(list(crumb.iter("a"))):
            text = clean_whitespace(a.text_content())
            if text:
                return text
    return ""


def _lazy(tree: HtmlElement, xpath: str) -> Iterator[str]:
    """XPath string results, evaluated only when the iterator is first advanced."""
    yield from (str(v) for v in tree.xpath(xpath))


def _visible(tree: HtmlElement, xpath: str | etree.XPath) -> Iterator[str]:
    found = tree.xpath(xpath) if isinstance(xpath, str) else xpath(tree)
    for el in found:
        text = el if isinstance(el, str) else el.text_content()
        text = clean_whitespace(str(text))
        if text:
            yield text


def extract_metadata(
    tree: HtmlElement, url: str, site: SiteRules | None, into: Article, names: PageNames | None = None
) -> PageHints:
    """Read every metadata field of the page into the Article ``into``; missing fields stay as
    they are (empty). Returns what the page says beyond the Article's fields."""
    meta = _meta(tree)
    marked = names if names is not None else read_names(tree, furniture_rules())
    objects = _jsonld_objects(tree, url)
    articles = [o for o in objects if _types(o) & _ARTICLE_TYPES]
    ld: dict[str, Any] = articles[0] if articles else {}
    publisher = ld.get("publisher") if isinstance(ld.get("publisher"), dict) else {}
    websites = [o for o in objects if "website" in _types(o)]

    def m(*keys: str) -> str:
        for key in keys:
            if meta.get(key):
                return unescape(meta[key][0])
        return ""

    og_type = m("og:type").lower()
    into.site_name = (
        m("og:site_name", "application-name")
        or _text_of(publisher)
        or (_text_of(websites[0].get("name")) if websites else "")
    )

    site_title = _select_texts(tree, site.title) if site else []
    title = (
        (site_title[0] if site_title else "")
        or _text_of(ld.get("headline"))
        or m("og:title", "twitter:title", "dc.title", "title")
        or next(_visible(tree, "//h1"), "")
        or next(_visible(tree, "//title"), "")
    )
    host = urlsplit(url).hostname or ""
    into.title = strip_site_suffix(title, into.site_name, host)

    site_dek = _select_texts(tree, site.dek) if site else []
    own = site_keys(into.site_name, host)
    into.subtitle = next(
        (
            d
            for d in chain(
                site_dek[:1],
                _texts(marked.deks),
                (_text_of(ld.get("alternativeHeadline")), _text_of(ld.get("description"))),
                (m("og:description", "description", "twitter:description"),),
            )
            if _is_dek(d, into.title, own)
        ),
        "",
    )

    site_authors = _select_texts(tree, site.authors) if site else []
    meta_authors = [a for key in _META_AUTHORS for a in meta.get(key, []) if not a.startswith("http")]
    # The first kind of evidence that names someone wins (the page's own site never does).
    into.authors = (
        clean_authors(site_authors, site=own)
        or clean_authors(_names(ld.get("author")), site=own)
        or clean_authors(meta_authors, site=own)
        or clean_authors(list(_texts(marked.bylines))[:3], site=own)
    )

    # Each source is looked at only if the ones before it gave nothing (XPath is the cost).
    into.published = _first_date(
        chain(
            (
                _text_of(ld.get("datePublished")),
                _text_of(ld.get("dateCreated")),
                m(
                    "article:published_time",
                    "og:published_time",
                    "datepublished",
                    "pubdate",
                    "publishdate",
                    "date",
                    "dc.date",
                    "dc.date.issued",
                    "sailthru.date",
                    "parsely-pub-date",
                ),
            ),
            _lazy(tree, "//*[@itemprop='datePublished']/@datetime | //*[@itemprop='datePublished']/@content"),
            _lazy(tree, "//time[@datetime][1]/@datetime"),
            _texts(_date_elements(marked)),
        )
    )
    if into.published is None:
        match = _URL_DATE.search(url)
        if match:
            into.published = parse_date("-".join(match.groups()))
    into.updated = _first_date(
        chain(
            (
                _text_of(ld.get("dateModified")),
                m("article:modified_time", "og:updated_time", "datemodified", "last-modified"),
            ),
            _lazy(tree, "//*[@itemprop='dateModified']/@datetime"),
        )
    )

    site_section = _select_texts(tree, site.section) if site else []
    into.section = (
        (site_section[0] if site_section else "")
        or m("article:section", "section", "parsely-section")
        or _text_of(ld.get("articleSection"))
        or _breadcrumb_leaf(marked)
    )

    tag_sources: list[str] = []
    if site and site.tags:
        tag_sources += _select_texts(tree, site.tags)
    tag_sources += _split_keywords(meta.get("article:tag", []))
    tag_sources += _split_keywords(ld.get("keywords"))
    for kw in meta.get("keywords", []) + meta.get("news_keywords", []):
        tag_sources += _split_keywords(kw)
    if not tag_sources:
        tag_sources += list(_texts(marked.tags))
    tags = _dedupe_tags(tag_sources)

    lang = (
        tree.get("lang")
        or m("content-language", "og:locale", "dc.language")
        or _text_of(ld.get("inLanguage"))
    )
    into.language = re.split(r"[-_]", lang.strip().lower())[0] if lang else ""

    image = m("og:image", "og:image:url", "twitter:image", "twitter:image:src")
    if not image:
        ld_image = ld.get("image")
        image = ld_image.get("url", "") if isinstance(ld_image, dict) else _text_of(ld_image)
    into.image_url = urljoin(url, image) if image else ""

    for candidate in (*tree.xpath("//link[@rel='canonical']/@href"), m("og:url")):
        if candidate:
            absolute = urljoin(url, str(candidate).strip())
            if _same_site(absolute, url):
                into.canonical_url = absolute
                break

    into.tags = tags
    into.tag_origins = {t: str(TagOrigin.PAGE) for t in tags}
    body = ld.get("articleBody")
    return PageHints(
        og_type=og_type,
        typed_article=bool(articles) or og_type == "article",
        article_body=body if isinstance(body, str) else "",
    )
