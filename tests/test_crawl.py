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


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("CONCURRENT_REQUESTS=abc", "-s CONCURRENT_REQUESTS=abc: expected an integer"),
        ("CONCURRENT_REQUESTS=0", "-s CONCURRENT_REQUESTS=0: must be at least 1"),
        ("DOWNLOAD_DELAY=-5", "-s DOWNLOAD_DELAY=-5: must not be negative"),
        ("DOWNLOAD_DELAY=inf", "-s DOWNLOAD_DELAY=inf: expected a finite number"),
        ("DOWNLOAD_TIMEOUT=soon", "-s DOWNLOAD_TIMEOUT=soon: expected a number"),
        ("ROBOTSTXT_OBEY=yes", "-s ROBOTSTXT_OBEY=yes: expected True or False"),
        ("DOWNLOAD_SLOTS=[1]", "-s DOWNLOAD_SLOTS=[1]: expected a JSON object"),
        (
            "NOT_A_SETTING=1",
            (
                "-s NOT_A_SETTING=1: unknown setting NOT_A_SETTING (an extension's setting passes with "
                "one of the prefixes REDIS_, SCHEDULER_, DUPEFILTER_, PLAYWRIGHT_, ZYTE_, EXT_)"
            ),
        ),
    ],
)
def test_a_bad_override_is_refused_before_anything_starts(pair: str, message: str) -> None:
    with pytest.raises(InvalidSetting) as bad:
        parse_overrides(["AUTOTHROTTLE_ENABLED=False", pair])
    assert str(bad.value) == message
    assert bad.value.pair == pair


def test_good_overrides_pass_as_scrapy_reads_them() -> None:
    pairs = [
        "DOWNLOAD_DELAY=0.5",  # an integer default Scrapy reads as seconds
        "DEPTH_PRIORITY=-1",  # priorities may be negative
        "ROBOTSTXT_OBEY=false",
        'DOWNLOAD_SLOTS={"a.example": {"delay": 2}}',
        "AGGREGATOR_BATCH_SIZE=50",
        "USER_AGENT=anything at all",
        "REDIS_URL=redis://127.0.0.1:6379/1",  # an extension's setting, by its prefix
    ]
    assert parse_overrides(pairs) == dict(p.split("=", 1) for p in pairs)


def test_fetch_without_store_runs_no_store() -> None:
    settings = build_settings("sqlite:////tmp/x.db", {}, store=False)
    assert settings.get("AGGREGATOR_DB") is None
    assert settings.getdict("ITEM_PIPELINES") == {"aggregator.pipelines.NormalizePipeline": 100}
