"""One HTTP HEAD request to a URL an article names, without letting it reach inside the network.

A lead-image URL is written by whoever writes the article. Fetched blindly, it turns the feed
builder into a proxy for the machine's own network: ``http://127.0.0.1:8080/admin/...``, the
cloud metadata service at ``169.254.169.254``, a printer on the LAN; and the answer's length
would be published as an enclosure. So before connecting, the host name is resolved here and
the request goes to that very address (no second lookup a DNS trick could change); every
address the name has must be public. Redirects are followed by hand, at most
``MAX_REDIRECTS``, each target checked the same way. No body is ever read, and a length beyond
``MAX_LENGTH`` is not believed.

``allow_private`` (``[feeds] media_allow_private``) lets loopback and private (RFC 1918,
unique-local, shared) addresses through, for a newsroom whose media server is on its own
network. Link-local (the metadata service), multicast, unspecified and reserved addresses are
refused whatever it says.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from typing import Any
from urllib.parse import urljoin, urlsplit

MAX_REDIRECTS = 3
MAX_LENGTH = 2**31  # 2 GiB: no lead image is larger; a bigger claim is not published
REDIRECTS = {301, 302, 303, 307, 308}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The URL may not be fetched (why is in the message; the URL itself is not repeated)."""


def address_allowed(ip: IPAddress, allow_private: bool) -> bool:
    """Whether a request may go to ``ip``."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return False
    if ip.is_loopback or ip.is_private or not ip.is_global:
        return allow_private
    return True


def pinned_address(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to for ``host``; Refused unless every address it has is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        if not address_allowed(ipaddress.ip_address(address.split("%", 1)[0]), allow_private):
            raise Refused(f"{host} is an internal address ({address}); not fetched")
    if not addresses:
        raise Refused(f"{host} has no address")
    return addresses[0]


def _connection(scheme: str, host: str, port: int, ip: str, timeout: float) -> Any:
    """An HTTP(S) connection to ``ip`` that speaks to (and verifies TLS for) ``host``."""
    if scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def connect_pinned(
        address: tuple[str, int], timeout: float | None = None, source: Any = None
    ) -> socket.socket:
        return socket.create_connection((ip, address[1]), timeout, source)

    # http.client opens its socket through this attribute (HTTPS then wraps that socket for
    # ``host``, so certificates are still checked against the name): the one place to pin.
    conn._create_connection = connect_pinned  # type: ignore[attr-defined]
    return conn


def head(url: str, timeout: float, allow_private: bool) -> tuple[int | None, str]:
    """(Content-Length, Content-Type) of ``url`` from a HEAD request; Refused or OSError if not.

    Length is None when the server does not say (or claims more than ``MAX_LENGTH``).
    """
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise Refused("only http and https URLs are fetched")
        port = parts.port or (443 if scheme == "https" else 80)
        ip = pinned_address(parts.hostname, port, allow_private)
        conn = _connection(scheme, parts.hostname, port, ip, timeout)
        try:
            target = parts.path or "/"
            conn.request("HEAD", target + (f"?{parts.query}" if parts.query else ""), headers={
                "User-Agent": "publisher"
            })  # fmt: skip
            response = conn.getresponse()
            status = response.status
            location = response.getheader("Location")
            length = response.getheader("Content-Length") or ""
            mime = (response.getheader("Content-Type") or "").split(";")[0].strip()
        finally:
            conn.close()
        if status in REDIRECTS and location:
            url = urljoin(url, location)
            continue
        if not 200 <= status < 300:
            raise OSError(f"HTTP {status}")
        size = int(length) if length.isdigit() else None
        return (size if size is not None and size <= MAX_LENGTH else None), mime
    raise Refused(f"more than {MAX_REDIRECTS} redirects")
