"""The web app's parts and its promises over HTTP: word diffs, sparklines, filters, security
headers, CSRF and the token, escaping, feeds, and `aggregator serve`'s own errors."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import date

import httpx
import pytest

from aggregator.errors import InvalidDate
from aggregator.web import params, wording
from aggregator.web.pages import Filters, snippet_parts
from aggregator.web.security import SECURITY_HEADERS, Guard
from aggregator.web.sparkline import sparkline
from tests.conftest import run_cli
from tests.web.conftest import HOSTILE, LiveServer


def test_compare_marks_the_words_a_copy_adds_and_drops() -> None:
    base = "Japan said June 29 it will boost defence.\n\nThe plan is new."
    copy = "TOKYO (AP) — Japan said Monday it will boost defense.\n\nThe plan is new."
    first, second = wording.compare(base, copy)
    changes = [(s.change, s.text) for s in first]
    assert changes == [
        (wording.Change.ADDED, "TOKYO (AP) —"),
        (wording.Change.SAME, "Japan said"),
        (wording.Change.REMOVED, "June 29"),
        (wording.Change.ADDED, "Monday"),
        (wording.Change.SAME, "it will boost"),
        (wording.Change.REMOVED, "defence."),
        (wording.Change.ADDED, "defense."),
    ]
    assert second == (wording.Segment(wording.Change.SAME, "The plan is new."),)
    assert wording.plain(base)[1] == (wording.Segment(wording.Change.SAME, "The plan is new."),)
    assert 0.5 < wording.similarity(base, copy) < 1


def test_a_dropped_paragraph_stays_a_paragraph_of_its_own() -> None:
    shown = wording.compare("One.\n\nTwo gone.\n\nThree.", "One.\n\nThree.")
    assert [[(s.change, s.text) for s in p] for p in shown] == [
        [(wording.Change.SAME, "One.")],
        [(wording.Change.REMOVED, "Two gone.")],
        [(wording.Change.SAME, "Three.")],
    ]


def test_sparkline_scales_to_its_box() -> None:
    line = sparkline([0, 2, 4])
    assert line.points == "0,22 60,12 120,2"
    assert (line.total, line.peak) == (6, 4)
    assert sparkline([0, 0]).points == "0,22 120,22"
    assert sparkline([]).points == ""


def test_filters_read_from_a_query_string() -> None:
    f = params.filters(q=" wind ", tag="", since="2026-10-01", until="2026-10-31", language="EN", page=2)
    assert f == Filters(q="wind", language="en", since=date(2026, 10, 1), until=date(2026, 10, 31), page=2)
    query = f.query(limit=5)
    assert query.until is not None
    assert query.until.date() == date(2026, 11, 1)  # the whole of the 31st
    assert f.params(page=1) == {"q": "wind", "language": "en", "since": "2026-10-01", "until": "2026-10-31"}
    with pytest.raises(InvalidDate):
        params.filters(since="yesterday")
    with pytest.raises(params.InvalidParameter, match="NUL"):
        params.filters(q="a\x00b")
    with pytest.raises(params.InvalidParameter, match="page"):
        params.filters(page=0)
    assert params.filters(until=date.max).query(limit=1).until is None


def test_snippet_parts() -> None:
    parts = snippet_parts("… the [offshore] [wind] auction")
    assert [(p.text, p.matched) for p in parts] == [
        ("… the ", False),
        ("offshore", True),
        (" ", False),
        ("wind", True),
        (" auction", False),
    ]


def test_sessions_are_signed_and_expire() -> None:
    guard = Guard("a-long-token")
    session = guard.new_session(now=1000)
    assert guard.session_valid(session, now=1001)
    assert not guard.session_valid(session, now=1000 + 13 * 3600)
    assert not guard.session_valid(session.replace(".", ".0"), now=1001)
    assert not Guard("a-long-token").session_valid(session, now=1001)  # another process's key
    assert not Guard(None).session_valid(session, now=1001)
    assert not Guard(None).token_matches("")


def test_every_response_carries_the_security_headers(readonly_server: LiveServer) -> None:
    for path in ("/", "/articles/1", "/api/sources", "/static/app.css", "/no-such-page", "/api/articles/0"):
        response = httpx.get(readonly_server.base_url + path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
    csp = SECURITY_HEADERS["content-security-policy"]
    assert "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp


def test_pages_answer_errors_as_pages(readonly_server: LiveServer) -> None:
    base = readonly_server.base_url
    missing = httpx.get(base + "/articles/999999")
    assert missing.status_code == 404
    assert "no article 999999" in missing.text
    bad_date = httpx.get(base + "/", params={"since": "yesterday"})
    assert bad_date.status_code == 400
    assert "not an ISO date: &#39;yesterday&#39;" in bad_date.text
    assert httpx.get(base + "/", params={"q": "wind", "since": "", "until": ""}).status_code == 200


def test_stored_text_is_escaped_in_the_html(readonly_server: LiveServer) -> None:
    base = readonly_server.base_url
    hits = httpx.get(base + "/api/search", params={"q": "filing claims", "source": "daily-ledger"}).json()[
        "hits"
    ]
    page = httpx.get(f"{base}/articles/{hits[0]['id']}").text
    assert "&lt;script&gt;alert(&#39;stored&#39;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert HOSTILE not in page  # only its escaped form


def test_a_read_only_server_refuses_every_change(readonly_server: LiveServer) -> None:
    with httpx.Client(base_url=readonly_server.base_url) as client:
        client.get("/sources")
        csrf = client.cookies["agg_csrf"]
        login = client.post("/login", data={"token": "anything-at-all", "csrf_token": csrf})
        assert login.status_code == 403
        assert "read-only" in login.text
        for path in ("/sources/add", "/sources/remove", "/sources/crawl"):
            assert (
                client.post(
                    path, data={"csrf_token": csrf, "name": "x", "url": "https://e.example/"}
                ).status_code
                == 403
            )
        assert client.post("/logout", data={}).status_code == 403  # no CSRF token: refused first


def test_csrf_is_checked_before_the_token(writable_server: LiveServer) -> None:
    with httpx.Client(base_url=writable_server.base_url) as client:
        client.get("/login")
        csrf = client.cookies["agg_csrf"]
        assert client.post("/login", data={"token": "web-test-token-0123456789"}).status_code == 403
        assert (
            client.post(
                "/login",
                data={"token": "web-test-token-0123456789", "csrf_token": csrf},
                headers={"Origin": "https://elsewhere.example"},
            ).status_code
            == 403
        )
        signed = client.post("/login", data={"token": "web-test-token-0123456789", "csrf_token": csrf})
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie


def test_feeds_of_a_search(readonly_server: LiveServer) -> None:
    base = readonly_server.base_url
    atom = httpx.get(base + "/feeds/search.atom", params={"q": "offshore wind"})
    assert atom.headers["content-type"].startswith("application/atom+xml")
    titles = [e.text for e in ET.fromstring(atom.text).iter("{http://www.w3.org/2005/Atom}title")]
    assert titles[0] == "Industry news: query offshore wind"
    assert any("Offshore wind" in (t or "") for t in titles[1:])
    feed = httpx.get(base + "/feeds/search.json", params={"tag": "energy"}).json()
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["items"]
    assert all("energy" in item["tags"] for item in feed["items"])


def test_serve_says_in_one_line_when_it_cannot_listen(db_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port), db=db_url, timeout=60)
    assert result.code == 1
    assert (
        result.stderr.strip()
        == f"aggregator: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    short = run_cli("serve", "--token", "short", db=db_url, timeout=60)
    assert short.code == 2
    assert "at least 8 characters" in short.stderr
    broken = run_cli("serve", db="postgresql+psycopg://nobody@127.0.0.1:1/none", timeout=60)
    assert broken.code == 1
    assert broken.stderr.startswith("aggregator: error: cannot open or migrate database")
    assert "Traceback" not in broken.stderr
