"""A real upstream newsroom on loopback: feeds, a news site, sitemaps and robots.txt.

Tests start it (``upstream()``), change what a path answers (``site.route(...)``), and
read back every request it received, with its headers and the time it arrived. Fixtures
live in ``tests/data/upstream``; their dates are written relative to the moment the server
started (``{{rfc822 -3h}}``, ``{{iso -2d +05:00}}``, ``{{day -1h}}``) so the backfill
window sees them as fresh, and ``{{base}}`` becomes the server's own URL.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "data" / "upstream"
TOKEN = re.compile(r"\{\{(rfc822|iso|day) ([-+]\d+)([mhd])(?: ([-+]\d\d:\d\d))?\}\}")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def when(now: datetime, offset: str, unit: str, zone: str | None = None) -> datetime:
    """``now`` moved by ``offset`` ``unit``s, in ``zone`` ("+05:00") or UTC."""
    moment = now + timedelta(**{UNITS[unit]: int(offset)})
    if zone:
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        sign = -1 if zone[0] == "-" else 1
        moment = moment.astimezone(timezone(sign * timedelta(hours=hours, minutes=minutes)))
    return moment


def render(text: str, base: str, now: datetime) -> str:
    def token(match: re.Match[str]) -> str:
        kind, offset, unit, zone = match.groups()
        moment = when(now, offset, unit, zone)
        if kind == "rfc822":
            return format_datetime(moment)
        if kind == "day":
            return moment.strftime("%-d %B %Y")
        return moment.isoformat()

    return TOKEN.sub(token, text.replace("{{base}}", base))


@dataclass
class Route:
    """What one path answers."""

    body: bytes | Callable[[], bytes] = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True  # answer with an ETag (the body's hash) and honour If-None-Match
    gzip: bool = False  # compress when the client accepts gzip
    length: bool = True  # send Content-Length (False: the body ends when the connection does)
    delay: float = 0.0  # seconds to wait before answering
    trickle: float = 0.0  # seconds between single bytes of the body (a slow server)


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


@dataclass
class Upstream:
    base: str
    now: datetime
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fixture(self, name: str) -> bytes:
        return render((FIXTURES / name).read_text(encoding="utf-8"), self.base, self.now).encode()

    def route(self, path: str, body: bytes | str = b"", **options: Any) -> Route:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(body=data, **options)
        return self.routes[path]

    def serve_fixture(self, path: str, name: str, content_type: str, **options: Any) -> Route:
        return self.route(path, self.fixture(name), content_type=content_type, **options)

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.route(path, status=status, headers={"Location": to}, etag=False)

    def paths(self) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests]

    def seen(self, path: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def forget(self) -> None:
        with self.lock:
            self.requests.clear()
            self.most_in_flight = 0

    def url(self, path: str) -> str:
        return self.base + path

    def news_site(self) -> None:
        """The Harbour Times' site: article pages, a section front, robots.txt, sitemaps."""
        pages = {
            "/news/port/cranes-arrive": "cranes-arrive.html",
            "/news/council/library-hours": "library-hours.html",
            "/drafts/embargoed-budget": "embargoed-budget.html",
            "/sport/": "sport-front.html",
        }
        for path, name in pages.items():
            self.serve_fixture(path, f"site/{name}", "text/html; charset=utf-8")
        self.serve_fixture("/robots.txt", "site/robots.txt", "text/plain")
        self.serve_fixture("/news-sitemap.xml", "site/news-sitemap.xml", "application/xml")
        self.serve_fixture("/sitemap-index.xml", "site/sitemap-index.xml", "application/xml")


def _handler(site: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with site.lock:
                site.requests.append(
                    Seen(self.command, self.path, dict(self.headers), time.monotonic())
                )
                site.in_flight += 1
                site.most_in_flight = max(site.most_in_flight, site.in_flight)
            route = site.routes.get(self.path)
            if route is not None and route.delay:
                time.sleep(route.delay)
            with site.lock:  # answered from here on: the client may already send the next
                site.in_flight -= 1
            self._answer(route)

        def _answer(self, route: Route | None) -> None:
            if route is None:
                self.send_error(404)
                return
            body = route.body() if callable(route.body) else route.body
            tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"' if route.etag else ""
            if tag and route.status == 200 and self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                self.send_header("ETag", tag)
                self.end_headers()
                return
            if route.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
                body = gzip.compress(body)
                route_headers = {**route.headers, "Content-Encoding": "gzip"}
            else:
                route_headers = route.headers
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            if tag:
                self.send_header("ETag", tag)
            for name, value in route_headers.items():
                self.send_header(name, value)
            if route.length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if route.trickle:
                    for byte in body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(route.trickle)
                else:
                    self.wfile.write(body)
            except OSError:
                pass  # the client gave up (a size cap, a deadline): that is what is tested

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def upstream() -> Iterator[Upstream]:
    """A threaded HTTP server on a free loopback port, stopped when the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler, bind_and_activate=False)
    server.daemon_threads = True
    server.request_queue_size = 128  # the default 5 drops parallel connects (1 s SYN retries)
    server.server_bind()
    server.server_activate()
    now = datetime.now(UTC).replace(microsecond=0)
    site = Upstream(f"http://127.0.0.1:{server.server_address[1]}", now)
    server.RequestHandlerClass = _handler(site)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
