"""What keeps the web app safe to run: security headers on every response, the write token,
signed sessions and CSRF checks on every form post.

- Read-only by default: without a token (``--token`` or AGGREGATOR_WEB_TOKEN) every write is
  refused. With one, a person signs in once with it (a signed, HttpOnly, SameSite=Strict session
  cookie follows) and the API takes it as ``Authorization: Bearer TOKEN``.
- CSRF: a double-submit cookie. Every HTML page sets a random ``agg_csrf`` cookie and every form
  carries the same value in a hidden field; a POST whose field does not match its cookie (a site
  elsewhere can make a browser send the cookie, never read it) is refused, whatever route it is
  for, because the check is the HTML router's own dependency.
- Content-Security-Policy allows only the app's own scripts and styles (no inline code at all),
  so stored text that slipped through escaping still could not run.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException, Request

CSRF_COOKIE = "agg_csrf"
CSRF_FIELD = "csrf_token"
SESSION_COOKIE = "agg_session"
#: How long a signed-in session lasts.
SESSION_SECONDS = 12 * 3600

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response (pages, API, static files,
    errors), unless a route set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class Guard:
    """The write token and the signatures of sessions made with it (a key per process: a
    restart signs everyone out)."""

    def __init__(self, token: str | None) -> None:
        self.token = token or None
        self._key = secrets.token_bytes(32)

    @property
    def writable(self) -> bool:
        return self.token is not None

    def token_matches(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def _sign(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    def new_session(self, now: float | None = None) -> str:
        issued = str(int(now if now is not None else time.time()))
        return f"{issued}.{self._sign('session:' + issued)}"

    def session_valid(self, value: str | None, now: float | None = None) -> bool:
        if not self.writable or not value or "." not in value:
            return False
        issued, signature = value.split(".", 1)
        if not issued.isdigit() or not hmac.compare_digest(signature, self._sign("session:" + issued)):
            return False
        age = (now if now is not None else time.time()) - int(issued)
        return 0 <= age < SESSION_SECONDS

    def signed_in(self, request: Request) -> bool:
        return self.session_valid(request.cookies.get(SESSION_COOKIE))

    def bearer_ok(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(given.strip())


def csrf_token(request: Request) -> str:
    """The page's CSRF value: the browser's cookie, or a new one the response will set."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if len(current) >= 32 and current.replace("-", "").replace("_", "").isalnum():
        return current
    fresh: str | None = getattr(request.state, "new_csrf", None)
    if fresh is None:
        fresh = secrets.token_urlsafe(32)
        request.state.new_csrf = fresh
    return fresh


async def csrf_guard(request: Request) -> None:
    """Dependency of every HTML route: a request that changes something (any method but GET and
    HEAD) must carry the CSRF field matching its cookie, and come from this site if it says
    where it comes from."""
    if request.method in ("GET", "HEAD"):
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, "this form was sent from another site")
    form = await request.form()
    given = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not isinstance(given, str) or not cookie or not hmac.compare_digest(given, cookie):
        raise HTTPException(403, "the form has expired or did not come from this site; reload the page")
