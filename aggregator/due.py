"""When a source falls due again: pure scheduling maths, with time and chance passed in.

After a successful read a source waits its interval, spread by a random share (``jitter``) so
that sources added together do not fall due together forever. After failures it backs off
exponentially from its interval, capped at a week; a server's Retry-After wins. The store calls
:func:`next_due` when it records an outcome; the caller draws the jitter (reader's
``next_update_after(now, interval, jitter)`` shape), so tests fix both.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

#: The largest share of the interval by which a successful read's next due time is spread.
JITTER = 0.1
#: The longest a failing source waits before it is tried again.
MAX_BACKOFF = timedelta(days=7)


def next_due(
    now: datetime,
    interval: timedelta,
    failures: int = 0,
    retry_after: timedelta | None = None,
    jitter: float = 0.0,
) -> datetime:
    """The next time a source is due.

    Args:
        now: when the outcome was recorded.
        interval: the source's interval between crawls.
        failures: consecutive failures including this one (0 after a success).
        retry_after: what the server asked for (429/503 Retry-After), if anything.
        jitter: a share of the interval, in [-JITTER, JITTER]; applied after a success only.
    """
    if failures == 0:
        return now + interval * (1 + jitter)
    backoff = retry_after if retry_after is not None else interval * 2 ** min(failures, 20)
    return now + min(backoff, MAX_BACKOFF)


def random_jitter(rng: random.Random | None = None) -> float:
    """A jitter drawn uniformly from [-JITTER, JITTER]."""
    return (rng or random).uniform(-JITTER, JITTER)
