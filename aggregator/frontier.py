"""The shared frontier's ledger in Redis: which sources are being crawled, and which of their
pages are still on their way to the store (issue #14).

With ``--frontier redis://...`` any number of crawl processes, on any machines, share one request
queue and one seen-URL filter: scrapy-redis's scheduler and dupefilter (spiders/frontier.py, the
Scrapy side). scrapy-redis forgets a request the moment a worker pops it, so a worker killed
mid-crawl takes its requests with it. This ledger is what lets the crawl notice and recover:

- ``{prefix}:sources`` — sources put in the frontier (``aggregator schedule``/``crawl --enqueue``)
  and not yet taken by a worker, as JSON.
- ``{prefix}:source:{name}`` — a hash: ``state`` (``enqueued``, ``read``, ``done``), when it was
  enqueued, the outcome of its own document (feed, sitemap) once read, and ``refetch`` once a
  page of it failed for now (its validators are then not kept: the next read is a full one).
- ``{prefix}:pending:{name}`` — the source's pages (canonical URLs) and child documents
  (``doc <url>``) handed to the frontier and not yet finished. A page is finished when its batch
  committed, or it was a duplicate, not an article, or failed at the publisher's end.
- ``{prefix}:seen`` — scrapy-redis's seen-URL filter (SHA-1 of the canonical URL). A finished
  page leaves it, so the filter holds what is in flight, not every URL ever crawled (the store
  knows those), and a page that failed is tried again next cycle.

A source is *done* (validators saved, next due time set: ``Store.record_source_success``) when
its document was read and its pending set is empty: whichever worker finishes the last page
marks it, through :meth:`Frontier.finish_page`. A worker that dies leaves pages pending, so the
source is never marked done; once its lease runs out (``AGGREGATOR_FRONTIER_LEASE``) the next
``schedule`` enqueues it again, the dead worker's pages leave the seen filter and are fetched
again, and whatever was stored already is skipped. Every transition is one Lua script, atomic
against the other workers.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from aggregator.errors import FrontierNotSet, FrontierUnavailable
from aggregator.model import SourceKind, SourceRef
from aggregator.normalize import canonical_url

DEFAULT_PREFIX = "aggregator"
#: Seconds a source may stay unfinished before ``schedule`` hands it out again (its worker died).
DEFAULT_LEASE = 3600.0

if TYPE_CHECKING:
    import redis


def redis_errors() -> tuple[type[Exception], ...]:
    """Redis errors a frontier call may meet (the server restarted, the network dropped).

    redis is imported here, not at the top: it is the ``redis`` extra, and every crawl imports
    this module (for PageTicket) whether it uses a frontier or not.
    """
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ResponseError)


def page_fingerprint(url: str) -> str:
    """The seen filter's key of a page: SHA-1 of its canonical URL, so that tracking-parameter,
    AMP and mobile variants of one article are one request."""
    return hashlib.sha1(canonical_url(url).encode("utf-8")).hexdigest()


def safe_url(url: str) -> str:
    """The Redis URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def source_to_json(source: SourceRef) -> str:
    return json.dumps(
        {
            "name": source.name,
            "kind": str(source.kind),
            "url": source.url,
            "tags": list(source.tags),
            "etag": source.etag,
            "last_modified": source.last_modified,
            "last_success": source.last_success.isoformat() if source.last_success else None,
        }
    )


def source_from_json(data: str | bytes) -> SourceRef:
    raw: dict[str, Any] = json.loads(data)
    return SourceRef(
        name=raw["name"],
        kind=SourceKind(raw["kind"]),
        url=raw["url"],
        tags=tuple(raw["tags"]),
        etag=raw["etag"],
        last_modified=raw["last_modified"],
        last_success=datetime.fromisoformat(raw["last_success"]) if raw["last_success"] else None,
    )


# KEYS: source hash, pending set, seen set, sources list. ARGV: now, lease, source JSON.
# Returns 1 when enqueued, 0 when the source is still in flight under a live lease.
_ENQUEUE = """
local state = redis.call('HGET', KEYS[1], 'state')
if state and state ~= 'done' then
  local since = tonumber(redis.call('HGET', KEYS[1], 'enqueued_at') or '0')
  if tonumber(ARGV[1]) - since < tonumber(ARGV[2]) then return 0 end
end
for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if string.sub(member, 1, 4) ~= 'doc ' then redis.call('SREM', KEYS[3], redis.sha1hex(member)) end
end
redis.call('DEL', KEYS[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'enqueued', 'enqueued_at', ARGV[1])
redis.call('RPUSH', KEYS[4], ARGV[3])
return 1
"""

# KEYS: source hash, pending set. ARGV: outcome JSON.
# The source's document was read (its pages claimed already); returns the outcome and the
# refetch flag when that makes the source done.
_READ = """
redis.call('HSET', KEYS[1], 'state', 'read', 'outcome', ARGV[1])
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[1], 'state', 'done')
  return {ARGV[1], redis.call('HGET', KEYS[1], 'refetch') or ''}
end
return false
"""

# KEYS: source hash, pending set, seen set. ARGV: member, forget (1: leave the seen filter),
# refetch (1: a page of the source failed for now, see Frontier.finish_page).
# Returns the source's outcome and the refetch flag when this was its last pending page and its
# document was read.
_FINISH = """
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return false end
if ARGV[2] == '1' then redis.call('SREM', KEYS[3], redis.sha1hex(ARGV[1])) end
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'refetch', '1') end
if redis.call('SCARD', KEYS[2]) == 0 and redis.call('HGET', KEYS[1], 'state') == 'read' then
  redis.call('HSET', KEYS[1], 'state', 'done')
  return {redis.call('HGET', KEYS[1], 'outcome'), redis.call('HGET', KEYS[1], 'refetch') or ''}
end
return false
"""


@dataclass(frozen=True)
class SourceDone:
    """A source the frontier found done: the outcome of its own document, and whether a page of
    it failed for now on some worker (its validators are then not kept; see
    CrawlSession.page_failed)."""

    outcome: dict[str, Any]
    refetch: bool = False


@dataclass(frozen=True)
class PageTicket:
    """What a page request carries through the frontier: its source and its key in the ledger."""

    source: str
    key: str


class Frontier:
    """The ledger of one shared frontier (see the module docstring). Not thread-safe; each
    process makes its own."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, lease: float = DEFAULT_LEASE) -> None:
        self.url = url
        self.prefix = prefix
        self.lease = lease
        import redis

        try:
            self.redis: redis.Redis = redis.Redis.from_url(
                url, decode_responses=True, socket_timeout=30, socket_connect_timeout=10
            )
        except ValueError as exc:
            raise FrontierUnavailable(safe_url(url), str(exc)) from exc
        self._enqueue = self.redis.register_script(_ENQUEUE)
        self._read = self.redis.register_script(_READ)
        self._finish = self.redis.register_script(_FINISH)

    # --- keys (spiders/frontier.py gives scrapy-redis the same names) --------------------------

    @property
    def requests_key(self) -> str:
        return f"{self.prefix}:requests"

    @property
    def seen_key(self) -> str:
        return f"{self.prefix}:seen"

    @property
    def sources_key(self) -> str:
        return f"{self.prefix}:sources"

    def _source_key(self, name: str) -> str:
        return f"{self.prefix}:source:{name}"

    def _pending_key(self, name: str) -> str:
        return f"{self.prefix}:pending:{name}"

    # --- calls ---------------------------------------------------------------------------------

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a Redis call; a connection or server error becomes one FrontierUnavailable."""
        try:
            return fn(*args, **kwargs)
        except redis_errors() as exc:
            raise FrontierUnavailable(safe_url(self.url), f"{what}: {exc}") from exc

    def check(self) -> None:
        """Raise FrontierUnavailable unless the server answers."""
        self._call("ping", self.redis.ping)

    def enqueue(self, sources: Iterable[SourceRef], *, now: float) -> list[str]:
        """Put sources in the frontier for the workers; returns the names put there. A source
        still in flight under a live lease is left alone; one whose lease ran out (its worker
        died) has its unfinished pages forgotten by the seen filter, so they are fetched again."""
        enqueued = []
        for source in sources:
            key = source.key
            keys = [self._source_key(key), self._pending_key(key), self.seen_key, self.sources_key]
            if self._call(
                "enqueue", self._enqueue, keys=keys, args=[now, self.lease, source_to_json(source)]
            ):
                enqueued.append(key)
        return enqueued

    def take_sources(self, count: int) -> list[SourceRef]:
        """Up to ``count`` sources waiting for a worker (removed from the frontier)."""
        raw = self._call("take sources", self.redis.lpop, self.sources_key, count) or []
        return [source_from_json(item) for item in raw]

    def claim(self, source: str, keys: Iterable[str]) -> None:
        """The source's pages (canonical URLs) or child documents (``doc_key``) are about to be
        handed to the frontier: they are pending until finished."""
        members = list(keys)
        if members:
            self._call("claim", self.redis.sadd, self._pending_key(source), *members)

    def source_read(self, source: str, outcome: Mapping[str, Any]) -> SourceDone | None:
        """The source's own document was read (its pages claimed first). Returns the outcome
        when the source is done with that (it listed nothing new)."""
        keys = [self._source_key(source), self._pending_key(source)]
        done = self._call("source read", self._read, keys=keys, args=[json.dumps(dict(outcome))])
        return SourceDone(json.loads(done[0]), done[1] == "1") if done else None

    def finish_page(
        self, ticket: PageTicket, *, forget: bool = True, refetch: bool = False
    ) -> SourceDone | None:
        """A page or child document of the source is finished. ``forget``: it leaves the seen
        filter (False when the filter entry belongs to another source's request). ``refetch``: a
        page of the source failed for now (a 5xx, a timeout), so whichever worker marks the
        source done must not keep its validators. Returns the source's outcome when this
        finished the source."""
        keys = [self._source_key(ticket.source), self._pending_key(ticket.source), self.seen_key]
        args = [ticket.key, "1" if forget else "0", "1" if refetch else "0"]
        done = self._call("finish page", self._finish, keys=keys, args=args)
        return SourceDone(json.loads(done[0]), done[1] == "1") if done else None

    def state(self, source: str) -> str | None:
        """``enqueued``, ``read``, ``done``, or None (never enqueued, or forgotten)."""
        value = self._call("state", self.redis.hget, self._source_key(source), "state")
        return str(value) if value is not None else None

    def waiting(self) -> int:
        """Sources and requests waiting in the frontier for a worker."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.llen(self.sources_key)
        pipe.zcard(self.requests_key)
        counts = self._call("count", pipe.execute)
        return int(counts[0]) + int(counts[1])

    def clear(self) -> None:
        """Remove every key under the prefix (tests, and a fresh start)."""
        keys = self._call("scan", lambda: list(self.redis.scan_iter(f"{self.prefix}:*", count=1000)))
        if keys:
            self._call("clear", self.redis.delete, *keys)

    def close(self) -> None:
        self.redis.close()


def doc_key(url: str) -> str:
    """The ledger's key of a child document (a sitemap listed by a sitemap index)."""
    return f"doc {url}"


def page_key(url: str) -> str:
    """The ledger's key of a page: its canonical URL (its SHA-1 is the seen filter's key)."""
    return canonical_url(url)


def frontier_from_options(overrides: Mapping[str, str], *, what: str) -> Frontier:
    """The frontier that ``-s``/``--frontier`` overrides and the environment name, for commands
    that use it without Scrapy (``crawl --enqueue``). Raises FrontierNotSet without one."""
    url = overrides.get("AGGREGATOR_FRONTIER") or os.environ.get("AGGREGATOR_FRONTIER", "")
    if not url:
        raise FrontierNotSet(what)
    prefix = overrides.get("AGGREGATOR_FRONTIER_PREFIX") or os.environ.get(
        "AGGREGATOR_FRONTIER_PREFIX", DEFAULT_PREFIX
    )
    lease = float(overrides.get("AGGREGATOR_FRONTIER_LEASE", DEFAULT_LEASE))
    return Frontier(url, prefix=prefix, lease=lease)
