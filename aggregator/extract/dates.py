"""Dates as pages write them: ISO 8601 in metadata, prose and local zone names in bylines.

ISO 8601 goes through the standard library (50 times faster than dateutil); everything else
through dateutil, with the zone abbreviations of rules/timezones.toml. An abbreviation the table
does not know, or knows to be ambiguous, leaves the date naive: a date without a zone is right,
one with an invented zone is five hours wrong ("11:34 PM EST" is 04:34 UTC the next day).
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, timedelta, timezone, tzinfo
from functools import cache
from importlib import resources

from dateutil import parser as dateutil_parser

#: YYYY-MM-DD, then an optional time: what datetime.fromisoformat reads as dateutil does.
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)


@cache
def zone_offsets() -> dict[str, timezone]:
    """Zone abbreviation -> fixed offset, from rules/timezones.toml (ambiguous ones left out)."""
    data = tomllib.loads(
        resources.files("aggregator.extract").joinpath("rules", "timezones.toml").read_text("utf-8")
    )
    ambiguous = {a.upper() for a in data.get("ambiguous", [])}
    return {
        name.upper(): timezone(timedelta(minutes=int(minutes)), name.upper())
        for name, minutes in data["offsets"].items()
        if name.upper() not in ambiguous
    }


def _zone(name: str | None, offset: int | None) -> tzinfo | None:
    """dateutil's tzinfos hook: a numeric offset as written, a known abbreviation, else naive."""
    if offset is not None:
        return timezone(timedelta(seconds=offset))
    if name is None:
        return None
    return zone_offsets().get(name.upper())


def parse_date(value: str | None) -> datetime | None:
    """Parse a machine-readable or written date; None when it is not a plausible date."""
    if not value:
        return None
    value = value.strip()
    if not value or len(value) > 80:
        return None
    try:
        if _ISO_DATE.match(value):
            parsed = datetime.fromisoformat(value)
        else:
            parsed = dateutil_parser.parse(value, fuzzy=False, tzinfos=_zone)
    except (ValueError, OverflowError, TypeError):
        try:
            parsed = dateutil_parser.parse(value, fuzzy=True, tzinfos=_zone)
        except (ValueError, OverflowError, TypeError):
            return None
    if not 1990 <= parsed.year <= 2100:
        return None
    return parsed
