"""When a source falls due: the scheduling maths, with time and chance fixed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.due import JITTER, MAX_BACKOFF, next_due, random_jitter

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("failures", "retry_after", "jitter", "expected"),
    [
        (0, None, 0.0, NOW + HOUR),  # a success: the interval
        (0, None, 0.1, NOW + 1.1 * HOUR),  # spread by the jitter
        (1, None, 0.1, NOW + 2 * HOUR),  # a failure: backoff doubles the interval, no jitter
        (3, None, 0.0, NOW + 8 * HOUR),
        (30, None, 0.0, NOW + MAX_BACKOFF),  # capped at a week
        (1, timedelta(seconds=7200), 0.0, NOW + 2 * HOUR),  # the server's Retry-After wins...
        (5, timedelta(minutes=5), 0.0, NOW + timedelta(minutes=5)),  # ...even when it is sooner
        (1, timedelta(days=30), 0.0, NOW + MAX_BACKOFF),
    ],
)
def test_next_due(failures: int, retry_after: timedelta | None, jitter: float, expected: datetime) -> None:
    assert next_due(NOW, HOUR, failures, retry_after, jitter) == expected


def test_random_jitter_stays_in_its_range() -> None:
    rng = random.Random(7)
    draws = [random_jitter(rng) for _ in range(1000)]
    assert min(draws) >= -JITTER
    assert max(draws) <= JITTER
    assert len(set(draws)) == 1000
