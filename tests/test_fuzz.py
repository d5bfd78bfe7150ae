"""Hostile input to every parser: no exception but the documented ones (issue #12).

Hypothesis throws bytes and text at extraction, feeds, sitemaps, OPML and TOML imports, and URL
canonicalization: random bytes, fragments of the formats, and the repository's own fixtures
with bytes cut, repeated or replaced. Each parser may only raise its documented error
(SourceError for feeds and sitemaps, InvalidSubscriptions for imports; extraction and
canonicalization never raise).

The budget is modest so that the suite stays fast: AGGREGATOR_FUZZ_EXAMPLES per test (default
150). tests/fuzz_atheris.py drives the same targets with coverage guidance, outside the suite.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator import extract_article
from aggregator.errors import InvalidSubscriptions, SourceError
from aggregator.feeds import parse_feed
from aggregator.normalize import canonical_url
from aggregator.sitemaps import parse_sitemap
from aggregator.subscriptions import parse_opml, parse_sources_toml
from tests.conftest import FIXTURES, PAGES

EXAMPLES = int(os.environ.get("AGGREGATOR_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a busy 2-core machine: time is not what is tested here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def _seeds(*paths: Path) -> list[bytes]:
    return [p.read_bytes()[:20000] for p in paths]


PAGE_SEEDS = _seeds(*sorted(PAGES.glob("*.html"))[:6])
FEED_SEEDS = _seeds(
    *(p for p in sorted((FIXTURES / "feeds").iterdir()) if p.suffix in (".xml", ".rdf", ".json"))
)
SITEMAP_SEEDS = _seeds(
    *sorted((FIXTURES / "site" / "sitemaps").glob("*.xml")), FIXTURES / "site" / "sitemap_index.xml"
)
OPML_SEEDS = _seeds(FIXTURES / "feeds" / "subscriptions.opml")
TOML_SEEDS = [(FIXTURES / "feeds" / "sources.toml").read_text("utf-8")]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed document with a few bytes cut, repeated, replaced or inserted."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        size = draw(st.integers(1, 64))
        match draw(st.sampled_from(["cut", "repeat", "replace", "insert", "truncate"])):
            case "cut":
                del data[at : at + size]
            case "repeat":
                data[at:at] = data[at : at + size] * draw(st.integers(2, 20))
            case "replace":
                data[at : at + size] = draw(st.binary(min_size=1, max_size=size))
            case "insert":
                data[at:at] = draw(st.sampled_from(MARKUP)).encode()
            case "truncate":
                del data[at:]
    return bytes(data)


#: Pieces of the formats, for documents built from them.
MARKUP = [
    "<",
    ">",
    "</",
    "/>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "&",
    "&amp;",
    "&lol9;",
    "&#0;",
    "&#xD800;",
    '<?xml version="1.0" encoding="utf-16"?>',
    "<!DOCTYPE x [<!ENTITY a 'aaaa'>]>",
    "<html>",
    "<body>",
    "<p>",
    "<article>",
    "<script>",
    '<meta charset="koi8-r">',
    '<rss version="2.0">',
    "<channel>",
    "<item>",
    "<link>",
    "<title>",
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    "<entry>",
    '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    "<url>",
    "<loc>",
    "<lastmod>",
    "<sitemapindex>",
    '<opml version="2.0">',
    '<outline xmlUrl="',
    '{"version": "https://jsonfeed.org/version/1.1", "items": [',
    "\x00",
    "\ufeff",
    "\u202e",
    "http://",
    "javascript:",
    "9999-99-99T99:99:99Z",
]


def documents(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    built = st.lists(st.sampled_from(MARKUP) | st.text(max_size=20), max_size=40).map(
        lambda parts: "".join(parts).encode("utf-8", "surrogatepass")
    )
    return st.one_of(st.binary(max_size=2000), built, mutated(seeds))


CONTENT_TYPES = st.sampled_from(
    [
        None,
        "text/html",
        "text/html; charset=utf-8",
        "text/html; charset=nonsense",
        "application/xml",
        "application/feed+json",
        "text/html; charset=utf-16",
        "image/png",
    ]
)


@FUZZ
@given(documents(PAGE_SEEDS), CONTENT_TYPES)
def test_extract_never_raises(data: bytes, content_type: str | None) -> None:
    article = extract_article(data, "https://fuzz.example/a/story.html", content_type=content_type)
    assert article.page_type in ("article", "listing", "error", "empty", "not_html")


@FUZZ
@given(documents(FEED_SEEDS), CONTENT_TYPES)
def test_feeds_raise_only_source_error(data: bytes, content_type: str | None) -> None:
    try:
        feed = parse_feed(data, "https://fuzz.example/feed.xml", content_type=content_type)
    except SourceError:
        return
    assert all(entry.link for entry in feed.entries)


@FUZZ
@given(documents(SITEMAP_SEEDS))
def test_sitemaps_raise_only_source_error(data: bytes) -> None:
    try:
        parse_sitemap(data, "https://fuzz.example/sitemap.xml")
    except SourceError:
        return


@FUZZ
@given(documents(OPML_SEEDS))
def test_opml_raises_only_invalid_subscriptions(data: bytes) -> None:
    try:
        parse_opml(data, "fuzz.opml")
    except InvalidSubscriptions:
        return


@FUZZ
@given(
    st.one_of(
        st.text(max_size=400),
        mutated([s.encode() for s in TOML_SEEDS]).map(lambda b: b.decode("utf-8", "replace")),
    )
)
def test_toml_import_raises_only_invalid_subscriptions(text: str) -> None:
    try:
        parse_sources_toml(text, "fuzz.toml")
    except InvalidSubscriptions:
        return


URL_PARTS = st.sampled_from(
    [
        "http://",
        "https://",
        "HTTP://",
        "ftp://",
        "//",
        "x.example",
        "m.x.example",
        "[::1]",
        "[::1",
        "xn--",
        ":80",
        ":443",
        ":99999",
        ":-1",
        ":abc",
        "/",
        "/amp/",
        "?",
        "&",
        "=",
        "utm_source=x",
        "#",
        "%",
        "%zz",
        "%00",
        "\\",
        " ",
        "\t",
        "@",
        "user:pass@",
        "..",
        "\u0130",
        "\ufeff",
    ]
)


@FUZZ
@given(st.one_of(st.text(max_size=200), st.lists(URL_PARTS | st.text(max_size=8), max_size=16).map("".join)))
def test_canonical_url_never_raises(url: str) -> None:
    canonical_url(url)


@FUZZ
@given(
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z]{1,10}(\.[a-z]{1,10}){1,3}", fullmatch=True),
    st.lists(st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True), max_size=5),
    st.lists(
        st.tuples(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), st.text("abc123-_", max_size=6)), max_size=4
    ),
)
def test_canonical_url_is_a_fixed_point(
    scheme: str, host: str, path: list[str], query: list[tuple[str, str]]
) -> None:
    """The canonical URL of a canonical URL is itself: stored keys never drift between crawls."""
    url = (
        f"{scheme}://{host}/"
        + "/".join(path)
        + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    )
    once = canonical_url(url)
    assert canonical_url(once) == once
