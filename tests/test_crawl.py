"""aggregator.crawl: how stored sources and -s overrides become Scrapy settings."""

from __future__ import annotations

import pytest

from aggregator.crawl import build_settings, parse_overrides, politeness_slots
from aggregator.errors import InvalidSetting
from aggregator.model import SourceKind
from aggregator.store import SourceInfo


def info(name: str, url: str, delay: float | None = None, concurrency: int | None = None) -> SourceInfo:
    return SourceInfo(
        name=name,
        kind=SourceKind.FEED,
        url=url,
        interval_seconds=3600,
        enabled=True,
        tags=(),
        disabled_reason=None,
        last_success_at=None,
        last_error=None,
        next_due_at=None,
        article_count=0,
        delay=delay,
        concurrency=concurrency,
    )


def test_politeness_slots_per_host_take_the_stricter_setting() -> None:
    slots = politeness_slots(
        [
            info("a", "https://news.example/rss", delay=2.0),
            info("b", "https://news.example/sitemap.xml", delay=5.0, concurrency=2),
            info("c", "https://news.example/other", concurrency=1),
            info("d", "https://plain.example/feed"),
        ]
    )
    assert slots == {"news.example": {"delay": 5.0, "concurrency": 1}}


def test_cmdline_overrides_win_over_project_settings() -> None:
    settings = build_settings("sqlite:////tmp/x.db", parse_overrides(["CONCURRENT_REQUESTS=32"]))
    assert settings.getint("CONCURRENT_REQUESTS") == 32
    assert settings.get("AGGREGATOR_DB") == "sqlite:////tmp/x.db"
    assert settings.getbool("ROBOTSTXT_OBEY") is True


def test_a_malformed_override_names_itself() -> None:
    with pytest.raises(InvalidSetting, match="-s expects NAME=VALUE, got 'NOEQUALS'") as bad:
        parse_overrides(["A=1", "NOEQUALS"])
    assert bad.value.pair == "NOEQUALS"


def test_fetch_without_store_runs_no_store() -> None:
    settings = build_settings("sqlite:////tmp/x.db", {}, store=False)
    assert settings.get("AGGREGATOR_DB") is None
    assert settings.getdict("ITEM_PIPELINES") == {"aggregator.pipelines.NormalizePipeline": 100}
