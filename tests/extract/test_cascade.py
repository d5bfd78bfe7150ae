"""The extraction cascade (aggregator.extract.cascade): each stage on a page that needs it.

Each page here is built so that the stages before the one under test fail on it for the reason
that stage exists; the assertion is on the text a reader would see, and on the stage recorded.
"""

from __future__ import annotations

import json

import pytest

from aggregator import extract_article

PARAGRAPHS = [
    f"Paragraph {i} of the report says the port handled {i * 1000} containers in March, a record"
    " for the season, officials said on Monday."
    for i in range(1, 9)
]


def test_a_plain_article_is_read_by_the_first_stage() -> None:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    got = extract_article(f"<html><body><article>{body}</article></body></html>", "https://a.example/x")
    assert got.text == "\n\n".join(PARAGRAPHS)
    assert got.text_stage == "dom"


@pytest.mark.parametrize(
    "wrapper",
    [
        "widget Blog",  # Blogger
        "elementor-widget-wrap",
        "p-body-main p-body-main--withSidebar",
        "page-outer bdaia-header-default",
        "field field--label-hidden",  # Drupal: 'hidden' is a modifier here, not a hiding class
        "overflow-hidden hidden-xs print-full",
        "card-header non-paywall",
    ],
)
def test_no_name_removes_the_block_that_holds_the_text(wrapper: str) -> None:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    page = (
        "<html><body><nav><a href='/'>Home</a> <a href='/a'>About</a></nav>"
        f'<div class="{wrapper}"><div class="post-body">{body}</div></div>'
        "<footer><p>Copyright 2026 Example Media, all rights reserved worldwide.</p></footer></body></html>"
    )
    got = extract_article(page, "https://a.example/x")
    assert got.text == "\n\n".join(PARAGRAPHS)


def test_a_fuller_jsonld_body_replaces_a_teaser() -> None:
    teaser = "<p>Ports handled more containers in March.</p>"
    ld = {"@type": "NewsArticle", "headline": "Port report", "articleBody": "\n".join(PARAGRAPHS)}
    page = (
        f'<html><head><script type="application/ld+json">{json.dumps(ld)}</script></head>'
        f"<body><article><h1>Port report</h1>{teaser}</article></body></html>"
    )
    got = extract_article(page, "https://a.example/x")
    assert got.text == "\n\n".join(PARAGRAPHS)
    assert got.text_stage == "jsonld"


def test_an_article_written_for_browsers_without_javascript_is_read_from_noscript() -> None:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    page = (
        "<html><body><div id='app'></div>"
        f"<noscript><div class='post-body'>{body}</div></noscript></body></html>"
    )
    got = extract_article(page, "https://a.example/x")
    assert got.text == "\n\n".join(PARAGRAPHS)
    assert got.text_stage == "relaxed"


def test_a_body_the_block_choice_cannot_gather_falls_back_to_trafilatura() -> None:
    # One paragraph in each of eight unrelated sections: no block holds more than one of them,
    # so the first stages keep one paragraph of eight, far less than the page shows.
    sections = "".join(
        f'<section class="block-{i}"><div class="inner-{i}"><p>{p}</p></div></section>'
        for i, p in enumerate(PARAGRAPHS)
    )
    page = (
        f"<html><body><header><a href='/'>Home</a></header>{sections}<footer>Contact</footer></body></html>"
    )
    got = extract_article(page, "https://a.example/x")
    assert got.text == "\n\n".join(PARAGRAPHS)
    assert got.text_stage == "fallback"


def test_no_text_no_stage() -> None:
    got = extract_article("<html><body><nav><a href='/'>Home</a></nav></body></html>", "https://a.example/x")
    assert got.text == ""
    assert got.text_stage == ""


def test_a_stub_the_evidence_agrees_with_is_still_checked_against_the_fallback() -> None:
    # A slideshow: one short <p> above captions held in <div>s. The page's paragraph evidence is
    # as short as the stub, so only the stub rule sends it on to the fallback.
    lead = "The port's year so far, in eight pictures."
    slides = "".join(f'<div class="slide"><div class="caption">{p}</div></div>' for p in PARAGRAPHS)
    page = (
        "<html><body><nav><a href='/'>Home</a></nav><article><h1>Port report</h1>"
        f"<p>{lead}</p><div class='slides'>{slides}</div></article><footer>Contact</footer></body></html>"
    )
    got = extract_article(page, "https://a.example/x")
    assert got.text == "\n\n".join([lead, *PARAGRAPHS])
    assert got.text_stage == "fallback"


def test_a_page_that_is_really_short_keeps_its_own_text() -> None:
    short = PARAGRAPHS[:2]
    body = "".join(f"<p>{p}</p>" for p in short)
    page = f"<html><body><nav><a href='/'>Home</a></nav><article>{body}</article></body></html>"
    got = extract_article(page, "https://a.example/x")
    assert got.text == "\n\n".join(short)
    assert got.text_stage == "dom"
