"""Property-based: extract_article never raises, whatever bytes or markup it is given."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator import extract_article
from aggregator.model import PAGE_TYPES

TAGS = st.sampled_from(
    [
        "p",
        "div",
        "article",
        "script",
        "h1",
        "a",
        "li",
        "ul",
        "meta",
        "title",
        "br",
        "time",
        "nav",
        "span",
        "html",
        "body",
        "head",
    ]
)


@st.composite
def markup(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 30))):
        tag = draw(TAGS)
        attrs = draw(
            st.sampled_from(
                [
                    "",
                    ' class="share"',
                    ' property="og:title" content="x"',
                    ' datetime="2026-13-45"',
                    ' itemprop="articleBody"',
                ]
            )
        )
        parts.append(f"<{tag}{attrs}>{draw(st.text(max_size=40))}")
        if draw(st.booleans()):
            parts.append(f"</{tag}>")
    return "".join(parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_never_raises_on_bytes(data: bytes) -> None:
    article = extract_article(data, "https://a.example/x")
    assert article.page_type in PAGE_TYPES


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markup(), st.sampled_from(["https://a.example/x", "", "not a url", "http://[::1]/2026/02/30/x"]))
def test_never_raises_on_markup(html: str, url: str) -> None:
    article = extract_article(html, url)
    assert article.page_type in PAGE_TYPES
    assert isinstance(article.text, str)
