"""HTTP GET for feed and sitemap sources: one small client that trusts nothing it is sent.

Only http and https URLs are fetched, and redirects are followed here, by hand (at most
``MAX_REDIRECTS``, never to another scheme), so a feed cannot send us to ``file:`` or ``ftp:``
and we know whether every hop was permanent (then the caller moves the stored URL). Every
request has a deadline for the whole exchange, not only per socket read, so a server that
trickles one byte a second cannot hold a collection up; and a size cap on the body as sent
and again after gzip is undone, because a few kilobytes of gzip can unpack to gigabytes.
"""

from __future__ import annotations

import http.client
import ssl
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from ..errors import PublisherError

MAX_REDIRECTS = 5
MAX_URL_LENGTH = 2000
CHUNK = 64 * 1024
REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT = {301, 308}


class FetchError(PublisherError):
    """A request that did not produce a usable answer (network, status, size, deadline)."""

    def __init__(
        self, url: str, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait (429, 503)


@dataclass(frozen=True)
class Response:
    """A successful (200) or not-modified (304) answer, its body already decompressed."""

    url: str  # the final URL, after redirects
    status: int
    body: bytes
    headers: Mapping[str, str]  # names in lower case
    moved_to: str = ""  # set when every redirect on the way was permanent (301, 308)

    @property
    def etag(self) -> str:
        return self.headers.get("etag", "")

    @property
    def last_modified(self) -> str:
        return self.headers.get("last-modified", "")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def url_problem(url: str) -> str:
    """Why ``url`` must not be fetched or linked to ("" when it is a plain http(s) URL)."""
    if len(url) > MAX_URL_LENGTH:
        return f"the URL is longer than {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"not an http(s) URL: {url[:80]!r}"
    if not parts.hostname:
        return f"no host in {url[:80]!r}"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "the URL contains spaces or control characters"
    return ""


def _opener() -> urllib.request.OpenerDirector:
    """An opener with http(s) and nothing else: no redirect, file, ftp or data handlers."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),  # honours http_proxy/https_proxy/no_proxy as urllib does
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(context=ssl.create_default_context()),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


_OPENER = _opener()


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def gunzip(data: bytes, max_bytes: int, url: str) -> bytes:
    """Undo gzip, refusing to produce more than ``max_bytes`` (a gzip bomb stops there)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise FetchError(url, f"broken gzip data ({exc})") from exc
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise FetchError(url, f"larger than {max_bytes:,} bytes once decompressed")
    return out


def _remaining(deadline: float, url: str, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError(url, f"no complete answer within {timeout:g} s")
    return left


def _read_body(
    resp: http.client.HTTPResponse, url: str, max_bytes: int, deadline: float, timeout: float
) -> bytes:
    length = resp.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise FetchError(url, f"the response is {int(length):,} bytes, over the {max_bytes:,} cap")
    chunks: list[bytes] = []
    size = 0
    while True:
        _remaining(deadline, url, timeout)
        chunk = resp.read1(CHUNK)  # one socket read: a trickling server is checked each time
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(url, f"the response is over the {max_bytes:,} byte cap")
        chunks.append(chunk)


def fetch(
    url: str,
    *,
    user_agent: str,
    timeout: float,
    max_bytes: int,
    etag: str = "",
    last_modified: str = "",
    accept: str = "*/*",
) -> Response:
    """GET ``url``; a Response for 200 or 304, FetchError for everything else.

    ``etag`` and ``last_modified`` make the request conditional. ``timeout`` bounds the whole
    exchange, redirects included (a read already waiting may overrun it by one socket timeout).
    """
    deadline = time.monotonic() + timeout
    headers = {"User-Agent": user_agent, "Accept": accept, "Accept-Encoding": "gzip"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current, permanent = url, True
    for _ in range(MAX_REDIRECTS + 1):
        if problem := url_problem(current):
            raise FetchError(current, problem)
        request = urllib.request.Request(current, headers=headers)
        try:
            resp = _OPENER.open(request, timeout=_remaining(deadline, current, timeout))
        except urllib.error.HTTPError as exc:
            with exc:
                status, location = exc.code, exc.headers.get("Location", "")
                if status in REDIRECTS and location:
                    current = urljoin(current, location.strip())
                    permanent = permanent and status in PERMANENT
                    continue
                answer = {k.lower(): v for k, v in exc.headers.items()}
            if status == 304:
                moved = current if permanent and current != url else ""
                return Response(current, 304, b"", answer, moved)
            raise FetchError(
                current,
                f"HTTP {status} {exc.reason}".strip(),
                status=status,
                retry_after=retry_after(answer.get("retry-after")),
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise FetchError(current, f"cannot fetch: {reason}") from exc
        with resp:
            try:
                body = _read_body(resp, current, max_bytes, deadline, timeout)
            except (http.client.HTTPException, OSError) as exc:
                raise FetchError(current, f"the connection broke while reading: {exc}") from exc
            answer = {k.lower(): v for k, v in resp.headers.items()}
        encoding = answer.get("content-encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            body = gunzip(body, max_bytes, current)
        elif encoding not in ("", "identity"):
            raise FetchError(current, f"unsupported Content-Encoding {encoding!r}")
        moved = current if permanent and current != url else ""
        return Response(current, resp.status, body, answer, moved)
    raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")
