"""The JSON API against the live server: its OpenAPI document checked by schemathesis (every
operation, generated requests, its default checks: no server error, responses that match the
schema, refused auth where auth is declared...), and what the documents say about the store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import fixture_articles
from tests.web.conftest import TOKEN, LiveServer, ReaderStore


def test_the_api_conforms_to_its_openapi_document(readonly_server: LiveServer, tmp_path: Path) -> None:
    """schemathesis against the live app: every operation, its default checks (no server error,
    status codes, content types, headers and bodies as documented, invalid input refused and
    valid input accepted, auth refused when missing), a bounded number of generated cases."""
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "--no-color",
            "run",
            readonly_server.base_url + "/api/openapi.json",
            "--max-examples",
            "40",
            "--workers",
            "1",
            "--seed",
            "15",
            "--generation-database",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
        cwd=tmp_path,  # its cache of crashes stays out of the work tree
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def get(server: LiveServer, path: str, **params: Any) -> Any:
    response = httpx.get(server.base_url + path, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_openapi_document_covers_the_api_and_only_the_api(readonly_server: LiveServer) -> None:
    doc = get(readonly_server, "/api/openapi.json")
    assert sorted(doc["paths"]) == [
        "/api/articles",
        "/api/articles/{article_id}",
        "/api/crawls",
        "/api/runs",
        "/api/search",
        "/api/sources",
        "/api/stories",
        "/api/stories/{story_id}",
        "/api/tags",
    ]
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_a_query_with_nothing_to_look_for_has_no_hits_and_says_why(readonly_server: LiveServer) -> None:
    found = get(readonly_server, "/api/search", q="-- -wind")
    assert (found["hits"], found["notice"]) == (
        [],
        "The query could not be read (it only excludes words; add a word to look for).",
    )
    assert get(readonly_server, "/api/search", q='"offshore wind')["hits"]


def test_search_collapses_a_story_into_one_hit_with_its_other_outlets(
    readonly_server: LiveServer, reader_store: ReaderStore
) -> None:
    found = get(readonly_server, "/api/search", q="astronauts lunar")
    japan = [
        h
        for h in found["hits"]
        if "space co-operation" in h["title"].lower().replace("cooperation", "co-operation")
    ]
    assert len(japan) == 1  # three outlets, one hit
    assert sorted(japan[0]["other_outlets"]) == sorted(
        {"Industry Wire", "Daily Ledger", "Metro Courier"} - {japan[0]["outlet"]}
    )
    assert japan[0]["other_copies"] == 2
    assert "[" in japan[0]["snippet"]  # the matched words are marked
    assert found["facets"]["total"] == 3  # every copy counts in the facets
    assert {f["value"] for f in found["facets"]["sources"]} == {
        "industry-wire-rss",
        "daily-ledger",
        "metro-courier",
    }


def test_filters_narrow_the_search_and_the_listing(readonly_server: LiveServer) -> None:
    energy = get(readonly_server, "/api/articles", tag="energy")
    tagged = [
        a for a in fixture_articles() if "energy" in [t.lower() for t in a["tags"]] and not a.get("private")
    ]
    assert energy["hits"]
    assert energy["facets"]["total"] == len(tagged)
    assert {f["value"] for f in energy["facets"]["tags"]} >= {"energy"}
    only = get(readonly_server, "/api/search", q="wind", source="daily-ledger")
    assert only["hits"] == []  # the Ledger's wind copy is an alias of the original, not an article
    dated = get(readonly_server, "/api/articles", since="2026-10-20", until="2026-10-21")
    assert all(h["published"][:10] in ("2026-10-20", "2026-10-21") for h in dated["hits"])


def test_an_article_says_where_its_fields_came_from(
    readonly_server: LiveServer, reader_store: ReaderStore
) -> None:
    hits = get(readonly_server, "/api/search", q="defence capability missiles")["hits"]
    article = get(readonly_server, f"/api/articles/{hits[0]['id']}")
    assert article["text_origin"] == "page"
    assert article["text_stage"] in ("dom", "jsonld", "relaxed", "fallback")
    assert {t["origin"] for t in article["tags"]} <= {"page", "feed", "source"}
    assert len(article["story_copies"]) == 2
    story = get(readonly_server, f"/api/stories/{article['story_id']}")
    assert sorted(story["outlets"]) == ["Daily Ledger", "Industry Wire", "Metro Courier"]
    assert story["copies"][0]["similarity"] == 1.0
    assert all(0.5 < c["similarity"] < 1.0 for c in story["copies"][1:])
    assert story["first_published"] < story["last_published"]


def test_sources_report_their_health(readonly_server: LiveServer) -> None:
    sources = {s["name"]: s for s in get(readonly_server, "/api/sources")}
    assert sources["broken-feed"]["state"] == "failing"
    assert sources["broken-feed"]["last_error"] == "HTTP 404 Not Found"
    assert sources["closed-feed"]["state"] == "disabled"
    assert sources["metro-courier"]["moved_from"].endswith("/old-courier.xml")
    assert sources["daily-ledger"]["state"] == "ok"
    assert sum(sources["daily-ledger"]["arrivals"]) == sources["daily-ledger"]["article_count"] == 2


def test_writes_need_the_token(readonly_server: LiveServer, writable_server: LiveServer) -> None:
    body = {"url": "https://publisher.example/feed.xml", "kind": "feed"}
    refused = httpx.post(
        readonly_server.base_url + "/api/sources", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert refused.status_code == 403  # no token configured: read-only, whatever is sent
    missing = httpx.post(writable_server.base_url + "/api/sources", json=body)
    assert missing.status_code == 401
    wrong = httpx.post(
        writable_server.base_url + "/api/sources", json=body, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    names = {s["name"] for s in get(writable_server, "/api/sources")}
    assert "publisher.example/feed.xml" not in names


@pytest.mark.postgres
def test_the_api_serves_a_postgresql_store(
    postgres_url: str, reader_store: ReaderStore, start_server: Any
) -> None:
    """Smoke test on PostgreSQL: a few sources and articles written through the store, read
    through the API (search on the weighted tsvector, facets, a story, sources)."""
    from datetime import UTC, datetime

    from aggregator.model import Article
    from aggregator.normalize import normalize_article
    from aggregator.store import Store

    now = datetime(2026, 11, 1, tzinfo=UTC)
    base = next(a for a in fixture_articles() if a["slug"] == "offshore-wind-auction-results")
    text = "\n\n".join(base["paragraphs"])
    with Store(postgres_url) as store:
        store.add_source("pg-wire", "feed", "https://wire.example/feed.xml", now=now)
        store.add_source("pg-copy", "feed", "https://copy.example/feed.xml", now=now)
        store.write_batch(
            [
                normalize_article(
                    Article(
                        url=f"https://{host}/turbines",
                        source=name,
                        title="Turbine deal",
                        text=text + extra,
                        tags=["energy"],
                        published=now,
                        site_name=site,
                        language="en",
                    ),
                    now=now,
                )
                for host, name, site, extra in [
                    ("wire.example", "pg-wire", "Wire", ""),
                    ("copy.example", "pg-copy", "Copy", "\n\nFollow the Copy on Twitter."),
                ]
            ],
            now=now,
        )
    server = start_server(postgres_url, None)
    found = get(server, "/api/search", q="offshore wind")
    assert len(found["hits"]) == 1
    assert found["hits"][0]["other_copies"] == 1
    assert found["facets"]["total"] == 2
    assert found["facets"]["tags"] == [{"value": "energy", "count": 2}]
    story = get(server, f"/api/stories/{found['hits'][0]['story_id']}")
    assert sorted(story["outlets"]) == ["Copy", "Wire"]
    assert {s["name"] for s in get(server, "/api/sources")} == {"pg-wire", "pg-copy"}
    page = httpx.get(server.base_url + "/", params={"q": "turbine"})
    assert page.status_code == 200
    assert "Turbine deal" in page.text
    server.process.terminate()
    server.process.wait(20)
