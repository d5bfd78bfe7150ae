"""Saved pages next to their expected records: every field must match exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aggregator import extract_article
from tests.conftest import PAGES, ROOT, fixture_articles, published_text

GOLDEN = sorted(PAGES.glob("*.expected.json"))


@pytest.mark.parametrize("expected_file", GOLDEN, ids=[p.stem.removesuffix(".expected") for p in GOLDEN])
def test_page_matches_expected_record(expected_file: Path) -> None:
    expected = json.loads(expected_file.read_text("utf-8"))
    page = expected_file.with_name(expected_file.name.replace(".expected.json", ".html"))
    article = extract_article(page.read_bytes(), expected["url"])
    assert article.to_dict() == expected["record"]


def test_scraped_wire_story_record() -> None:
    """The page re-creating ../shared/examples/scraped-article.txt yields the record DESIGN.md asks for."""
    page = PAGES / "industrywire-japan-space-policy.html"
    article = extract_article(
        page.read_bytes(), "https://www.industrywire.example/aerospace/2020/06/japan-space-policy.html"
    )
    source = next(a for a in fixture_articles() if a["slug"] == "japan-space-policy")
    assert article.title == "Japan to boost space co-operation with U.S. in revised policy"
    assert (
        article.subtitle
        == "Japan will seek to co-operate with the U.S. in sending astronauts on an American lunar mission"
    )
    assert article.section == "Aerospace"
    assert article.tags == ["aerospace", "co-operation", "Japan", "US"]
    assert article.dateline == "TOKYO"
    assert article.text == published_text(source)
    for phrase in ("Stories continue below", "Print this page", "Related Stories", "Industry Aerospace"):
        assert phrase not in article.text


def test_wire_story_paragraphs_are_the_scraped_ones() -> None:
    """The fixture's paragraphs are the real scraped article's, furniture excluded."""
    scraped_file = ROOT.parent / "shared" / "examples" / "scraped-article.txt"
    if not scraped_file.exists():
        pytest.skip("../shared/examples is not beside this checkout")
    scraped = scraped_file.read_text("utf-8")
    source = next(a for a in fixture_articles() if a["slug"] == "japan-space-policy")
    for paragraph in source["paragraphs"]:
        assert paragraph in scraped
    assert "TOKYO — " + source["paragraphs"][0] in scraped
