"""Reading the search filters from a request's query string, for pages and the API alike.

A browser sends every field of the search form, empty ones included ("since="), so empty means
"not set"; a value that cannot be used (a date that is no date, control characters) is the
reader's mistake and answers 400 with what is wrong, never a server error.
"""

from __future__ import annotations

from datetime import date

from aggregator.errors import InputError, InvalidDate
from aggregator.web.pages import MAX_PAGE, Filters

#: Longest value a filter may have (a query longer than this is no query a person typed).
MAX_LENGTH = 500
#: What a text filter may not hold: NUL, which PostgreSQL refuses in any string (the API's
#: OpenAPI document says so with this pattern).
TEXT_PATTERN = r"^[^\x00]*$"


class InvalidParameter(InputError):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def clean_text(name: str, value: str | None) -> str:
    """A filter's text, trimmed; a NUL (which PostgreSQL refuses in any string) is refused."""
    value = (value or "").strip()
    if len(value) > MAX_LENGTH:
        raise InvalidParameter(name, f"longer than {MAX_LENGTH} characters")
    if "\x00" in value:
        raise InvalidParameter(name, "contains a NUL character")
    return value


def clean_date(name: str, value: str | date | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidDate(value) from exc


def filters(
    *,
    q: str | None = None,
    tag: str | None = None,
    source: str | None = None,
    section: str | None = None,
    language: str | None = None,
    since: str | date | None = None,
    until: str | date | None = None,
    page: int = 1,
) -> Filters:
    """Filters from query-string values, checked (InvalidParameter / InvalidDate otherwise)."""
    if not 1 <= page <= MAX_PAGE:
        raise InvalidParameter("page", f"a page from 1 to {MAX_PAGE}")
    return Filters(
        q=clean_text("q", q),
        tag=clean_text("tag", tag),
        source=clean_text("source", source),
        section=clean_text("section", section),
        language=clean_text("language", language).lower(),
        since=clean_date("since", since),
        until=clean_date("until", until),
        page=page,
    )
