"""What stands between the internet and the app: size caps, headers, CSRF, rate limits.

- Request bodies are capped (``[web] max_body_bytes``) before anything parses them.
- Every response carries security headers; app pages a strict CSP (no inline script or
  style), static archive and feed pages one that allows their inline styles but no script.
- Forms carry a CSRF token that must equal a cookie set with the page (double submit): a
  page on another site can post a form but cannot read or set our cookie. The RFC 8058
  one-click unsubscribe POST is exempt by design: its URL's token is the proof.
- Sign-ups are limited per client address and per email address in a sliding hour.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "publisher_csrf"
APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STATIC_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class TooLarge(Exception):
    """A request body went past the cap."""


class Guard:
    """ASGI middleware: the body cap and the headers every response gets."""

    def __init__(self, app: ASGIApp, max_body: int, static_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.max_body = max_body
        self.static_prefixes = static_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_body:
            await _refuse(send, 413, b"request too large")
            return
        static = scope["path"].startswith(self.static_prefixes)
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise TooLarge
            return message

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"  # links carry tokens
                headers["X-Frame-Options"] = "DENY"
                headers["Permissions-Policy"] = "interest-cohort=(), camera=(), microphone=()"
                headers["Content-Security-Policy"] = STATIC_CSP if static else APP_CSP
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        try:
            await self.app(scope, capped, with_headers)
        except TooLarge:
            await _refuse(send, 413, b"request too large")


async def _refuse(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def csrf_token(request: Request) -> tuple[str, bool]:
    """The page's CSRF token and whether the cookie must be (re)set."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if len(existing) == 43:
        return existing, False
    return secrets.token_urlsafe(32), True


def csrf_ok(request: Request, submitted: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), submitted.encode())


class RateLimit:
    """At most ``limit`` events per key in any sliding hour; remembers ``max_keys`` keys."""

    def __init__(self, limit: int, seconds: float = 3600.0, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.seconds = seconds
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> float:
        """Count one event; 0 if allowed, else the seconds until the next one is."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            events = self._events.pop(key, None) or deque()
            while events and events[0] <= moment - self.seconds:
                events.popleft()
            self._events[key] = events
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
            if len(events) >= self.limit:
                return events[0] + self.seconds - moment
            events.append(moment)
            return 0.0
