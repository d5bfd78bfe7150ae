"""extract_article on hand-made pages: furniture, metadata rules, charsets, bad input."""

from __future__ import annotations

import gzip
import warnings
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aggregator import extract_article
from aggregator.extract import MAX_HTML_CHARS, content_hash
from aggregator.extract.authors import clean_authors, site_keys
from aggregator.extract.dateline import split_dateline
from aggregator.extract.dates import parse_date
from aggregator.extract.decode import sniff_non_html
from aggregator.extract.metadata import strip_site_suffix
from aggregator.extract.rules import furniture_rules, parse_site_rules
from aggregator.model import ARTICLE, EMPTY, LISTING, NOT_HTML
from tests.conftest import SITE, fixture_articles, published_text

FURNITURE = (
    "Print this page",
    "Stories continue below",
    "Related Stories",
    "Share on Facebook",
    "Sign up for our",
    "Advertisement",
    "Read more:",
    "We use cookies",
    "Most read",
    "Staff Writer",
    "All rights reserved",
    "Photo:",
)

PARAGRAPHS = "".join(
    f"<p>Paragraph {i} of the story explains, at a length a reader would expect, what the company "
    f"announced and why analysts think it matters for the industry this year.</p>"
    for i in range(6)
)


def page(head: str = "", body: str = PARAGRAPHS) -> str:
    return f"<html><head>{head}</head><body><article>{body}</article></body></html>"


@pytest.mark.parametrize(
    "article", [a for a in fixture_articles() if not a.get("private")], ids=lambda a: a["slug"]
)
def test_fixture_site_article_pages(article: dict) -> None:
    when = datetime.fromisoformat(article["published"])
    path = f"{article['section'].lower()}/{when:%Y/%m}/{article['slug']}.html"
    got = extract_article((SITE / path).read_bytes(), f"http://127.0.0.1:8000/{path}")
    assert got.page_type == ARTICLE
    assert got.title == article["title"]
    assert got.subtitle == article["dek"]
    assert got.authors == article["authors"]
    assert got.published == when
    assert got.tags == article["tags"]
    assert got.section == article["section"]
    assert got.dateline == article.get("dateline", "")
    assert got.text == published_text(article)  # the dateline stays at its head, as published
    for phrase in FURNITURE:
        assert phrase not in got.text


@pytest.mark.parametrize(
    "path", ["index.html", "aerospace/index.html", "energy/index.html", "manufacturing/index.html"]
)
def test_listing_pages_are_not_articles(path: str) -> None:
    got = extract_article((SITE / path).read_bytes(), f"http://127.0.0.1:8000/{path}")
    assert got.page_type == LISTING


def test_interleaved_furniture_keeps_surrounding_paragraphs() -> None:
    body = (
        "<p>First paragraph of the report, long enough to be article text for certain.</p>"
        "<p>Stories continue below</p>"
        "<p><strong>Read more:</strong> <a href='/x'>Another headline entirely</a></p>"
        "<p>Second paragraph of the report, which the furniture must not take with it.</p>"
        "<p>Advertisement</p>" + PARAGRAPHS
    )
    got = extract_article(page('<meta property="og:type" content="article">', body), "https://a.example/s")
    paragraphs = got.text.split("\n\n")
    assert paragraphs[0].startswith("First paragraph")
    assert paragraphs[1].startswith("Second paragraph")
    assert "Stories continue below" not in got.text
    assert "Read more" not in got.text
    assert "Advertisement" not in got.text


def test_jsonld_metadata_wins_over_meta_tags() -> None:
    head = (
        '<title>Other | Site</title><meta property="og:title" content="OG title">'
        '<script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"WebSite",'
        '"name":"Trade Daily"},{"@type":"NewsArticle","headline":"LD headline",'
        '"datePublished":"2026-01-05T10:00:00Z","author":[{"@type":"Person","name":"Ana Ruiz"},'
        '{"@type":"Person","name":"Bo Chen"}],"keywords":"ports, shipping"}]}</script>'
    )
    got = extract_article(page(head), "https://trade.example/a")
    assert got.title == "LD headline"
    assert got.authors == ["Ana Ruiz", "Bo Chen"]
    assert got.published == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert got.tags == ["ports", "shipping"]
    assert got.site_name == "Trade Daily"


def test_broken_jsonld_is_skipped() -> None:
    head = (
        '<script type="application/ld+json">{"headline": "x", </script><meta property="og:title" content="T">'
    )
    assert extract_article(page(head), "https://a.example/").title == "T"


def test_date_from_url_when_page_has_none() -> None:
    got = extract_article(page("<title>x</title>"), "https://a.example/2025/07/14/story-slug/")
    assert got.published == datetime(2025, 7, 14)


def test_offset_dates_are_kept_aware() -> None:
    head = '<meta property="article:published_time" content="2026-02-01T08:30:00+09:00">'
    got = extract_article(page(head), "https://a.example/x")
    assert got.published == datetime(2026, 2, 1, 8, 30, tzinfo=timezone(timedelta(hours=9)))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["By Jane Doe, Staff Writer"], ["Jane Doe"]),
        (["By JANE DOE and John Smith"], ["JANE DOE", "John Smith"]),
        (["Jane Doe | Reuters"], ["Jane Doe", "Reuters"]),
        (["By The Associated Press"], ["The Associated Press"]),
        (["Von dpa"], ["dpa"]),
        (["https://example.com/author/jane"], []),
        (["By Ana Ruiz, Bo Chen"], ["Ana Ruiz", "Bo Chen"]),
        (["Updated March 3, 2026"], []),
        (["Brazil, Rachel"], ["Rachel Brazil"]),
        (["大渡 美咲"], ["大渡 美咲"]),
        (
            ["Trine Juncher Jørgensen og Tôrtia Reimer-Johansen"],
            ["Trine Juncher Jørgensen", "Tôrtia Reimer-Johansen"],
        ),
        (["Foto: Mads Claus Rasmussen"], []),
        (["Emma Mackenzie", "(Image: Getty Images)"], ["Emma Mackenzie"]),
        (["Jane Doe (jd)"], ["Jane Doe"]),
        (["Jane O&#8217;Neill"], ["Jane O’Neill"]),
        (["By Jane Doe - 11/18/19 11:04 PM EST"], ["Jane Doe"]),
    ],
)
def test_clean_authors(raw: list[str], expected: list[str]) -> None:
    assert clean_authors(raw) == expected


def test_the_site_itself_is_never_an_author() -> None:
    site = site_keys("Trade Daily", "www.tradedaily.example")
    assert clean_authors(["Trade Daily"], site=site) == []
    assert clean_authors(["tradedaily.example, Frankfurt, Germany"], site=site) == []
    assert clean_authors(["Jane Doe, Trade Daily"], site=site) == ["Jane Doe"]


@pytest.mark.parametrize(
    ("title", "site", "host", "expected"),
    [
        ("Big news today | Trade Daily", "Trade Daily", "", "Big news today"),
        ("Trade Daily - Big news today", "Trade Daily", "", "Big news today"),
        (
            "Ports: a long headline about ships - The Wire",
            "",
            "thewire.example",
            "Ports: a long headline about ships",
        ),
        ("Fire in a plant – heavy smoke", "", "morgenpost.example", "Fire in a plant – heavy smoke"),
        (
            "Patent case: phones to be destroyed | Golem.de",
            "",
            "www.golem.de",
            "Patent case: phones to be destroyed",
        ),
        ("A headline with no suffix", "Trade Daily", "", "A headline with no suffix"),
    ],
)
def test_strip_site_suffix(title: str, site: str, host: str, expected: str) -> None:
    assert strip_site_suffix(title, site, host) == expected


def test_entities_in_metadata_are_decoded() -> None:
    head = (
        '<meta property="og:title" content="R&amp;uuml;ckbau: K&amp;uuml;hlt&amp;uuml;rme">'
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Kohberger&#8217;s lawyers",'
        ' "description": "Prices rose by &#163;5 a tonne in May"}</script>'
    )
    got = extract_article(page(head), "https://a.example/x")
    assert got.title == "Kohberger’s lawyers"
    assert got.subtitle == "Prices rose by £5 a tonne in May"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Nov 18, 2019 11:34 PM EST", datetime(2019, 11, 18, 23, 34, tzinfo=timezone(timedelta(hours=-5)))),
        (
            "18 Nov 2019 11:34 IST",
            datetime(2019, 11, 18, 11, 34, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
        ("18 Nov 2019 11:34 AEST", datetime(2019, 11, 18, 11, 34, tzinfo=timezone(timedelta(hours=10)))),
        ("18 Nov 2019 11:34 AMT", datetime(2019, 11, 18, 11, 34)),  # Amazon or Armenia: no zone invented
        ("18 Nov 2019 11:34 XYZ", datetime(2019, 11, 18, 11, 34)),
    ],
)
def test_zone_abbreviations(written: str, expected: datetime) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dateutil's UnknownTimezoneWarning must not reach stderr
        got = parse_date(written)
    assert got == expected
    assert (got.utcoffset() if got else None) == expected.utcoffset()


@pytest.mark.parametrize(
    ("paragraph", "place", "rest"),
    [
        ("TOKYO — Japan said", "TOKYO", "Japan said"),
        ("TOKYO (AP) — Japan said", "TOKYO", "Japan said"),
        ("NEW YORK, June 3 (Reuters) - Stocks rose", "NEW YORK", "Stocks rose"),
        ("MIRABEL, Que. — A new plant", "MIRABEL, Que.", "A new plant"),
        ("Tokyo — not a dateline", "", "Tokyo — not a dateline"),
        ("The CEO - who spoke", "", "The CEO - who spoke"),
    ],
)
def test_split_dateline(paragraph: str, place: str, rest: str) -> None:
    assert split_dateline(paragraph) == (place, rest)


def test_furniture_rules_match_whole_paragraphs_only() -> None:
    rules = furniture_rules()
    assert rules.is_furniture("Print this page")
    assert rules.is_furniture("  Related Stories: ")
    assert rules.is_furniture("Follow Mari Yamaguchi on Twitter at https://twitter.com/mariyamaguchi")
    assert not rules.is_furniture("The company said it would print this page of its report.")


def test_site_rules_refuse_a_rule_that_matches_everything() -> None:
    with pytest.raises(ValueError, match="match everything"):
        parse_site_rules('domains = ["a.example"]\nphrases = [""]', "bad.toml")
    with pytest.raises(ValueError, match="domains"):
        parse_site_rules("domains = []", "nodomains.toml")
    with pytest.raises(ValueError, match="not a valid CSS selector"):
        parse_site_rules('domains = ["a.example"]\nbody = "div[["', "badcss.toml")


@pytest.mark.parametrize("data", [b"", b"   ", "<html><body></body></html>"])
def test_empty_input_gives_empty_record(data: bytes | str) -> None:
    got = extract_article(data, "https://a.example/x")
    assert got.text == ""
    assert got.page_type == EMPTY


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x00\x01\x02\xff\xfe", "binary data"),
        (gzip.compress(b"x" * 1000), "gzip data"),
        (b"%PDF-1.4 binary", "PDF"),
        (b'{"headline": "Ports reopen", "body": "Ships sailed on Monday, as they do."}', "JSON"),
        (b"[1, 2, 3]", "JSON"),
        (b"article p { color: #333; margin: 0 auto; }\n.byline { font-size: 12px }", "CSS"),
        (b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>x</title></channel></rss>', "RSS feed"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>', "Atom feed"),
        (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>', "sitemap"),
        (b"Just some words in a text file, no markup at all.", "plain text"),
    ],
)
def test_non_html_input_is_named_not_read(data: bytes, kind: str) -> None:
    assert sniff_non_html(data) == kind
    got = extract_article(data, "https://a.example/x")
    assert got.text == ""
    assert got.page_type == NOT_HTML


@pytest.mark.parametrize(
    "data",
    [
        b"<p>A fragment of HTML is still HTML.</p>",
        b'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
        b"<!DOCTYPE html><title>The feed of the week</title><p>rss and atom</p>",
    ],
)
def test_html_is_not_mistaken_for_other_documents(data: bytes) -> None:
    assert sniff_non_html(data) is None


def test_charset_from_http_header_beats_guessing() -> None:
    body = page(body="<p>" + "Caf\u00e9 \u201cquoted\u201d and na\u00efve r\u00e9sum\u00e9s. " * 12 + "</p>")
    got = extract_article(
        body.encode("cp1252"), "https://a.example/x", content_type="text/html; charset=windows-1252"
    )
    assert "Café “quoted” and naïve résumés." in got.text


def test_enormous_page_is_read_up_to_its_bound() -> None:
    filler = "<p>" + "filler sentence in the middle. " * 1000 + "</p>"
    huge = (
        "<html><body><article><p>"
        + "word " * 200
        + "</p>"
        + filler * (MAX_HTML_CHARS // len(filler) + 1)
        + "<p>The closing paragraph past the bound never reaches the record.</p></article></body></html>"
    )
    assert len(huge) > MAX_HTML_CHARS
    got = extract_article(huge, "https://a.example/x")
    assert got.text.startswith("word word word")
    assert "filler sentence" in got.text
    assert "closing paragraph" not in got.text


def test_furniture_heading_drops_its_whole_section() -> None:
    body = (
        PARAGRAPHS + "<h2>You may also like</h2><p>A teaser paragraph about another story, long enough"
        " to look like text if nothing knew better.</p><p>Another teaser in the same section.</p>"
        "<h2>What happens next</h2><p>The regulator will decide in the spring, officials said.</p>"
    )
    got = extract_article(page('<meta property="og:type" content="article">', body), "https://a.example/s")
    assert "teaser" not in got.text
    assert "What happens next" in got.text
    assert got.text.endswith("The regulator will decide in the spring, officials said.")


@pytest.mark.parametrize(
    "dek", ["Home", "Bei Google Play", "on Trade Daily", "Read more", "Den Podcast beenden?"]
)
def test_labels_are_not_deks(dek: str) -> None:
    head = f'<meta name="description" content="{dek}"><meta property="og:site_name" content="Trade Daily">'
    got = extract_article(page(head), "https://tradedaily.example/x")
    assert got.subtitle == ""


@pytest.mark.parametrize(
    ("keywords", "expected"),
    [
        ("/article, Ports", ["Ports"]),
        ("2019, 360, ..., Ports", ["Ports"]),
        ("LeBron James PROFESSIONAL_ATHLETE SPORTS_FIGURE, https://twitter.com/x", ["LeBron James"]),
        ("@lll, dass ein Grab-Lieferbote nach Singapur fliegen musste, Shipping", ["Shipping"]),
    ],
)
def test_junk_tags_are_dropped(keywords: str, expected: list[str]) -> None:
    got = extract_article(page(f'<meta name="keywords" content="{keywords}">'), "https://a.example/x")
    assert got.tags == expected


def test_furniture_patterns_anchored_at_the_start_are_tried_there_only() -> None:
    from aggregator.extract.rules import _anchored_body, combine

    assert _anchored_body("^Posted (?:in|on) .{0,80}$") == "Posted (?:in|on) .{0,80}$"
    # A top-level alternative may match anywhere: not anchored as a whole.
    assert _anchored_body("^Posted|Tweet") is None
    assert _anchored_body(r"^\d+ (?:comments?|shares?)$") == r"\d+ (?:comments?|shares?)$"
    assert _anchored_body("^[|(]x") == "[|(]x"
    assert _anchored_body(r"\[VIDEO\]") is None
    anchored, floating = combine(["^Posted (?:in|on) .{0,80}$", "^Posted|Tweet", r"\[VIDEO\]"])
    assert anchored is not None
    assert floating is not None
    assert anchored.match("posted in Energy")
    assert not anchored.match("We posted in Energy")
    assert floating.search("Then a Tweet")
    assert floating.search("Crash [VIDEO] today")
    assert combine([]) == (None, None)
    rules = furniture_rules()
    assert rules.is_furniture("Posted on 12 March 2025 by the desk")
    assert not rules.is_furniture("The plant posted on its website that output fell 12% in March.")
    assert rules.is_furniture("Minister resigns [VIDEO] after vote")


def _news_page(meta_description: str = "") -> str:
    body = "".join(
        f"<p>Paragraph {i} of the report says the cooperative will rebuild the mill's boiler house"
        f" over the summer and keep the staff of forty on full pay while the work goes on.</p>"
        for i in range(6)
    )
    meta = f'<meta property="og:description" content="{meta_description}">' if meta_description else ""
    return (
        f"<html><head><title>Mill rebuild</title>{meta}</head><body><div class='article'>"
        "<h1>Mill to rebuild its boiler house</h1>"
        "<div class='teaser-text'><p>The cooperative that owns the mill has voted to rebuild the"
        " boiler house rather than close the site.</p></div>"
        f"<div class='news-text-wrap'>{body}</div>"
        "</div><div class='footer'>Imprint</div></body></html>"
    )


def test_a_lead_kept_before_the_body_block_is_the_first_paragraph() -> None:
    """TYPO3's news pages (and many themes) keep the lead in a block of its own before the
    body's block; it is too light to join the body on weight, and a reader sees it first."""
    lead = (
        "The cooperative that owns the mill has voted to rebuild the boiler house rather than close the site."
    )
    article = extract_article(_news_page(), "https://mill.example/news/rebuild")
    assert article.text.split("\n\n")[0] == lead
    assert article.text.count("Paragraph") == 6
    assert "Imprint" not in article.text


def test_a_lead_the_metadata_gave_as_the_dek_is_not_repeated_in_the_text() -> None:
    lead = (
        "The cooperative that owns the mill has voted to rebuild the boiler house rather than close the site."
    )
    article = extract_article(_news_page(meta_description=lead), "https://mill.example/news/rebuild")
    assert article.subtitle == lead
    assert article.text.split("\n\n")[0].startswith("Paragraph 0")


def test_a_lead_under_a_label_is_kept_whole_and_teaser_cards_are_not_leads() -> None:
    from lxml import html as lxml_html

    from aggregator.extract.content import lead_blocks

    lead = "The cooperative that owns the mill has voted to rebuild the boiler house rather than close it."
    page = lxml_html.fromstring(
        "<div><header><h1>Mill</h1><div class='article-intro'><span class='intro-label'>Analysis</span>"
        f"<p>{lead}</p></div></header>"
        "<div class='col'><div class='article-body'><p>Body.</p></div></div></div>"
    )
    body = page.xpath("//div[@class='article-body']")[0]
    assert [el.get("class") for el in lead_blocks(body, furniture_rules())] == ["article-intro"]
    cards = "".join(
        f"<div class='teaser'><a href='/s{i}'>Story {i}</a> <p>A summary of another story told in about"
        f" twelve words for card {i}.</p></div>"
        for i in range(3)
    )
    grid = lxml_html.fromstring(
        f"<div><div class='related'>{cards}</div><div class='article-body'><p>Body.</p></div></div>"
    )
    assert lead_blocks(grid.xpath("//div[@class='article-body']")[0], furniture_rules()) == []


def test_content_hash_leaves_the_dateline_out() -> None:
    """Wire copies that differ only by their dateline are the same text (an alias, not a new
    article); the text keeps the dateline as published."""
    body = "Six offshore wind projects won contracts in the auction.\n\nThe grid link comes next."
    same = {content_hash(t) for t in (body, f"NEW YORK (AP) — {body}", f"NEW YORK — {body}")}
    assert same == {content_hash(body)}
    assert content_hash(f"BAAR, SWITZERLAND\n\n{body}") == content_hash(body)
    assert content_hash(f"Tokyo — not a dateline. {body}") != content_hash(body)
    assert content_hash(body.replace("Six", "Seven")) != content_hash(body)
