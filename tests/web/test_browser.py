"""The web app in a real browser: Debian's headless Chromium driven by Playwright, against
``aggregator serve`` on 127.0.0.1 over the crawled fixture store.

A reader searches, filters, pages, keys through results, opens a story and an article, looks at
the sources and tags; an editor signs in with the token and adds, crawls and removes a source.
Every page is screenshot (into docs/screenshots/, which README links, when AGGREGATOR_SCREENSHOTS
says so) and checked with axe-core
(vendored, MPL-2.0) for serious and critical accessibility violations, and for breaches of the
app's own Content-Security-Policy, in the same browser.

One browser for the session; each test opens its own context (cookies apart).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.conftest import HOSTILE, TOKEN, LiveServer, ReaderStore

pytest.importorskip("playwright", reason="playwright is a dev dependency (pip install -e '.[dev]')")

from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = Path(os.environ.get("AGGREGATOR_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Where each page's screenshot goes: a temporary folder, so that a test run leaves the work tree
#: clean; `AGGREGATOR_SCREENSHOTS=docs/screenshots make test` refreshes the ones README links.
SCREENSHOTS = Path(
    os.environ.get("AGGREGATOR_SCREENSHOTS") or Path(tempfile.gettempdir()) / "aggregator-screenshots"
)
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
#: axe-core's verdicts that fail a page.
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"Debian's chromium is not installed at {CHROMIUM} (make test installs it with apt-get)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must run the browser tests")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class Reader:
    """A browser tab on the app, which records what the page itself complains about."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base = base_url
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: str) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None
        assert response.status == 200, (path, response.status)

    def check(self, name: str) -> None:
        """Screenshot the page, then check it: no serious or critical axe violation, no
        Content-Security-Policy breach, no script of the stored text run (no dialog)."""
        self.page.wait_for_load_state("load")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        violations = self.page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                .map(v => ({id: v.id, impact: v.impact, help: v.help,
                            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
        )
        assert [v for v in violations if v["impact"] in BLOCKING] == [], name
        assert [e for e in self.console_errors if "Content Security Policy" in e] == [], name
        assert self.dialogs == [], name


@pytest.fixture
def reader(browser: Browser, readonly_server: LiveServer) -> Iterator[Reader]:
    yield from _reader(browser, readonly_server)


@pytest.fixture
def editor(browser: Browser, writable_server: LiveServer) -> Iterator[Reader]:
    yield from _reader(browser, writable_server)


def _reader(browser: Browser, server: LiveServer) -> Iterator[Reader]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # An init script reaches the page through the browser, not the page's CSP: the app's policy
    # stays exactly what it serves, and axe is there to run.
    context.add_init_script(path=str(AXE))
    context.set_default_timeout(30_000)
    try:
        yield Reader(context.new_page(), server.base_url)
    finally:
        context.close()


def test_a_reader_searches_filters_pages_and_keys_through_results(reader: Reader) -> None:
    page = reader.page
    reader.open("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Latest stories")
    page.get_by_label("Search", exact=True).fill("offshore wind")
    page.get_by_label("Search", exact=True).press("Enter")
    page.wait_for_url("**/?q=offshore+wind**")
    hits = page.locator("li.hit")
    expect(hits.first).to_contain_text("wind", ignore_case=True)
    expect(page.locator(".snippet mark").first).to_be_visible()
    reader.check("search")

    # Keys, on the newest stories: "/" focuses the box, j and k move between results.
    reader.open("/")
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.locator("h1").click()
    page.keyboard.press("j")
    expect(page.locator("a.hit-link").first).to_be_focused()
    page.keyboard.press("j")
    expect(page.locator("a.hit-link").nth(1)).to_be_focused()
    page.keyboard.press("k")
    expect(page.locator("a.hit-link").first).to_be_focused()

    # A facet narrows the search; the active filter can be removed again.
    reader.open("/?q=offshore+wind")
    page.locator("aside.facets").get_by_role("link", name="energy", exact=True).click()
    page.wait_for_url("**tag=energy**")
    expect(page.locator("aside.facets ul.active")).to_contain_text("tag: energy")
    assert hits.count() >= 1
    page.locator("aside.facets ul.active a").click()
    page.wait_for_url(lambda url: "tag=" not in url)

    # Filters from the form: a section and a date range.
    reader.open("/?section=Energy&since=2026-10-01&until=2026-10-31")
    expect(page.locator("details.filters")).to_have_attribute("open", "")
    expect(page.locator("aside.facets")).to_contain_text("section: Energy")

    # Pages: the newest stories, 20 to a page.
    reader.open("/")
    page.get_by_role("link", name="Next page →").click()
    page.wait_for_url("**page=2**")
    expect(page.locator("ol.hits")).to_have_attribute("start", "21")
    page.get_by_role("link", name="← Previous page").click()
    page.wait_for_url(lambda url: "page=" not in url)
    expect(page.locator("ol.hits")).to_have_attribute("start", "1")

    # A stray quote is read as written; a query with nothing to look for says so in one line.
    reader.open('/?q="offshore')
    expect(hits.first).to_be_visible()
    reader.open("/?q=-offshore")
    expect(page.get_by_role("status")).to_contain_text("could not be read (it only excludes words")
    expect(hits).to_have_count(0)


def test_a_reader_follows_a_story_across_outlets_to_an_article(
    reader: Reader, reader_store: ReaderStore
) -> None:
    page = reader.page
    reader.open("/?q=astronauts+lunar+mission")
    hit = page.locator("li.hit").filter(has_text="space")
    expect(hit).to_have_count(1)  # three outlets, one hit
    hit.get_by_role("link", name="also in 2 outlets").click()
    page.wait_for_url("**/stories/*")
    copies = page.locator("section.copy")
    expect(copies).to_have_count(3)
    expect(copies.nth(0)).to_contain_text("first published")
    expect(page.locator("h2", has_text="Daily Ledger")).to_be_visible()
    expect(page.locator("h2", has_text="Metro Courier")).to_be_visible()
    # The Ledger's copy uses US spelling and "Monday": the words differ, highlighted.
    expect(page.locator("section.copy ins").first).to_be_visible()
    expect(page.locator("section.copy del").first).to_be_visible()
    expect(page.locator("section.copy ins", has_text="cooperat").first).to_be_visible()
    reader.check("story")

    page.locator("section.copy.base h2 a").click()
    page.wait_for_url("**/articles/*")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Japan to boost space co-operation")
    expect(page.locator("dl.provenance")).to_contain_text("the page:")
    expect(page.locator("ul.tags")).to_contain_text("from the page")
    expect(page.get_by_role("link", name="Compare the 3 copies side by side")).to_be_visible()
    original = page.locator("a.original")
    expect(original).to_have_attribute("href", reader_store.japan_url)
    reader.check("article")

    reader.open("/stories")
    expect(page.locator("li.hit")).to_have_count(2)  # the Japan story and the paper mill's
    reader.check("stories")


def test_stored_text_is_shown_as_text(reader: Reader) -> None:
    """A paragraph that looks like markup is text on the page: no script runs, no tag renders."""
    page = reader.page
    reader.open("/?q=paper+mill&source=daily-ledger")
    page.locator("a.hit-link").first.click()
    page.wait_for_url("**/articles/*")
    body = page.locator("section.body")
    expect(body).to_contain_text(HOSTILE)
    assert body.locator("script, b").count() == 0
    assert reader.dialogs == []


def test_sources_and_tags(reader: Reader) -> None:
    page = reader.page
    reader.open("/sources")
    rows = page.locator("table.sources tbody tr")
    expect(rows).to_have_count(7)
    expect(rows.filter(has_text="broken-feed")).to_contain_text("HTTP 404 Not Found")
    expect(rows.filter(has_text="broken-feed")).to_contain_text("failing")
    expect(rows.filter(has_text="closed-feed")).to_contain_text("disabled")
    expect(rows.filter(has_text="metro-courier")).to_contain_text("moved from")
    expect(rows.filter(has_text="daily-ledger").locator("svg.spark polyline")).to_have_count(1)
    expect(page.get_by_role("heading", name="Add a source")).to_have_count(0)  # read-only
    reader.check("sources")

    reader.open("/tags")
    page.get_by_role("link", name="energy", exact=True).click()
    page.wait_for_url("**/tags/energy")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tag: energy")
    expect(page.get_by_role("link", name="Atom")).to_have_attribute("href", "/feeds/search.atom?tag=energy")
    reader.check("tag")
    reader.open("/tags")
    reader.check("tags")
    feed = page.request.get(reader.base + "/feeds/search.atom?tag=energy")
    assert feed.status == 200
    assert "<feed" in feed.text()


def test_an_editor_adds_crawls_and_removes_a_source_with_the_token(
    editor: Reader, writable_server: LiveServer, reader_store: ReaderStore
) -> None:
    page = editor.page
    editor.open("/sources")
    expect(page.get_by_role("heading", name="Add a source")).to_have_count(0)
    # Refused without signing in, even with a valid CSRF pair.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "agg_csrf")
    refused = page.request.post(
        editor.base + "/sources/add", form={"url": reader_store.fixture_base + "/x.xml", "csrf_token": csrf}
    )
    assert refused.status == 403

    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("The server's token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not the server's token")
    editor.check("sign-in")
    page.get_by_label("The server's token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/sources")
    expect(page.get_by_role("status").first).to_contain_text("Signed in")

    feed = reader_store.fixture_base + "/feeds/manufacturing.json"
    page.get_by_label("URL of a feed, a sitemap or a site").fill(feed)
    page.get_by_label("Kind").select_option("feed")
    page.get_by_label("Name (optional)").fill("web-added")
    page.get_by_role("button", name="Add source").click()
    expect(page.get_by_role("status").first).to_contain_text("added feed source 'web-added'")
    row = page.locator("table.sources tbody tr").filter(has_text="web-added")
    expect(row).to_contain_text("new")
    editor.check("sources-signed-in")

    # A form without its CSRF token is refused even for a signed-in editor.
    forged = page.request.post(editor.base + "/sources/remove", form={"name": "web-added"})
    assert forged.status == 403
    expect(row).to_have_count(1)

    row.get_by_role("button", name="Crawl web-added now").click()
    expect(page.get_by_role("status").first).to_contain_text("crawl of web-added started")
    deadline = time.monotonic() + 180
    while "ended with exit code" not in (page.locator("p.crawl").text_content() or ""):
        assert time.monotonic() < deadline, "the crawl started from the page did not end in time"
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("p.crawl")).to_contain_text("exit code 0")
    expect(page.locator("table.sources tbody tr").filter(has_text="web-added")).to_contain_text("ok")

    page.locator("table.sources tbody tr").filter(has_text="web-added").get_by_role(
        "button", name="Remove web-added"
    ).click()
    expect(page.get_by_role("status").first).to_contain_text("removed source 'web-added'")
    expect(page.locator("table.sources tbody tr").filter(has_text="web-added")).to_have_count(0)
    assert "web-added" not in {s["name"] for s in httpx.get(writable_server.base_url + "/api/sources").json()}
