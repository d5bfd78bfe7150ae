"""Where the crawler may go: public http(s) addresses only, unless the user allows more.

URLs come from users and from feeds and sitemaps that anyone can write. Left alone, a feed entry
``http://169.254.169.254/latest/meta-data/`` or a redirect to ``http://127.0.0.1:6379/`` would
make the crawler fetch a cloud's credentials or poke a service on the crawling machine (SSRF).
So every fetch (crawl, fetch, discovery in ``sources add``; redirects included, as Scrapy sends
each hop through the downloader middlewares) goes through :func:`check_url`: the scheme must be
http or https, and the host, a literal address or every address its name resolves to, must be a
global one: not loopback, private (RFC 1918, unique local), link-local (the metadata service),
shared (CGNAT), reserved, unspecified or multicast.

``--allow-private`` (a global option) or AGGREGATOR_ALLOW_PRIVATE=1 lifts the address check (the
scheme check stays): for crawling an intranet or a test site on 127.0.0.1. AGGREGATOR_ALLOW_HOSTS
(``host:port`` pairs, comma-separated) lifts it for those servers alone: ``aggregator demo``
allows its own loopback server that way and nothing else. ``push`` is not guarded: its target is
the user's own search engine, typically on their own network.

The core of it, with no Scrapy: aggregator/middlewares.py applies it to Scrapy's requests.
A name is resolved here and again by the downloader, so a name whose DNS answer changes in
between (rebinding) is not stopped; a literal address, a redirect and a plain private name are.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aggregator.errors import BlockedURL

ALLOWED_SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]


def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to ([] when it does not: the download will say so)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def why_not_public(address: IPAddress) -> str | None:
    """Why the crawler may not connect to ``address`` (None: it may)."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    for kind, test in (
        ("a loopback", address.is_loopback),
        ("a link-local (cloud metadata)", address.is_link_local),
        ("a private", address.is_private),
        ("an unspecified", address.is_unspecified),
        ("a multicast", address.is_multicast),
        ("a reserved", address.is_reserved),
    ):
        if test:
            return f"{address} is {kind} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def allow_private_from_env() -> bool:
    return os.environ.get("AGGREGATOR_ALLOW_PRIVATE", "").strip().lower() in ("1", "true", "yes")


def allowed_hosts_from_env() -> frozenset[str]:
    raw = os.environ.get("AGGREGATOR_ALLOW_HOSTS", "")
    return frozenset(part.strip().lower() for part in raw.split(",") if part.strip())


@dataclass
class Guard:
    """The check, with its configuration and a cache of resolved names (a crawl asks about one
    host thousands of times)."""

    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    resolver: Resolver = resolve
    _verdicts: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Guard:
        return cls(allow_private=allow_private_from_env(), allowed_hosts=allowed_hosts_from_env())

    def check(self, url: str) -> None:
        """Raise BlockedURL when the crawler may not fetch ``url``."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ALLOWED_SCHEMES:
            raise BlockedURL(url, f"scheme {parts.scheme or '(none)'!r} is not fetched (http and https only)")
        host = (parts.hostname or "").lower()
        if not host:
            raise BlockedURL(url, "no host")
        if self.allow_private:
            return
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            raise BlockedURL(url, "bad port") from None
        if f"{host}:{port}" in self.allowed_hosts:
            return
        if host not in self._verdicts:
            self._verdicts[host] = self._why_not(host)
        reason = self._verdicts[host]
        if reason is not None:
            raise BlockedURL(url, f"{reason} (--allow-private or AGGREGATOR_ALLOW_PRIVATE=1 allows it)")

    def _why_not(self, host: str) -> str | None:
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        addresses: Iterable[str] = [str(literal)] if literal is not None else self.resolver(host)
        for text in addresses:
            reason = why_not_public(ipaddress.ip_address(text.split("%", 1)[0]))
            if reason is not None:
                return (
                    reason
                    if literal is not None
                    else f"{host} resolves to {reason.split(' ', 1)[0]}, {reason}"
                )
        return None


def check_url(url: str, *, allow_private: bool | None = None) -> None:
    """Raise BlockedURL when the crawler may not fetch ``url`` (the environment's settings unless
    ``allow_private`` is given)."""
    guard = Guard.from_env()
    if allow_private is not None:
        guard.allow_private = allow_private
    guard.check(url)
