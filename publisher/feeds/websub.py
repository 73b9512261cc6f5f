"""Tell WebSub hubs that a feed changed (``hub.mode=publish``), and keep trying until they hear.

A ping is owed from the moment a feed's bytes change; it is recorded in the database first and
cleared only when a hub answers 2xx, so a hub that is down is pinged again on the next run.
A failing hub is logged, never fatal.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlencode

from ..store.protocols import PingStore
from ..urls import hide_password, scrub

log = logging.getLogger(__name__)


@dataclass
class PingReport:
    sent: int = 0
    failed: list[str] = field(default_factory=list)


def publish(hub: str, topic: str, timeout: float) -> str:
    """POST one publish notification; return "" on success or the reason it failed."""
    body = urlencode({"hub.mode": "publish", "hub.url": topic}).encode()
    request = urllib.request.Request(
        hub,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "publisher"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))
    return "" if 200 <= status < 300 else f"HTTP {status}"


def ping_hubs(
    store: PingStore, hubs: list[str], changed_topics: list[str], timeout: float
) -> PingReport:
    """Queue pings for the changed feeds, then send every ping still owed."""
    store.queue_pings(hubs, changed_topics)
    report = PingReport()
    for ping in store.pending_pings():
        if ping.hub not in hubs:  # a hub removed from the config is owed nothing
            store.ping_result(ping.id)
            continue
        error = publish(ping.hub, ping.topic, timeout)
        store.ping_result(ping.id, error)
        if error:
            hub = hide_password(ping.hub)  # a hub URL may carry a login
            error = scrub(error, ping.hub)
            log.warning("WebSub ping to %s for %s failed: %s (will retry)", hub, ping.topic, error)
            report.failed.append(f"{hub} {ping.topic}: {error}")
        else:
            report.sent += 1
    return report
