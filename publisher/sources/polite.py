"""Crawling other people's sites politely: robots.txt, and a pause between requests per host.

robots.txt is read once per host per run and obeyed as RFC 9309 says: a missing one (4xx)
allows everything; one that cannot be reached (5xx, 429, network) forbids everything for now,
so pages wait for a later run rather than being fetched against the site's wishes. A
``Crawl-delay`` longer than the configured pause is honoured (up to ``MAX_CRAWL_DELAY``).
"""

from __future__ import annotations

import threading
import time
import urllib.robotparser
from collections.abc import Callable
from typing import Literal
from urllib.parse import urlsplit

from .fetch import FetchError, Response

MAX_ROBOTS_BYTES = 500_000  # what Google reads of a robots.txt; the rest is ignored
MAX_CRAWL_DELAY = 60.0
Verdict = Literal["allowed", "blocked", "unknown"]


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


class Throttle:
    """At most one request per host every ``delay`` seconds, however many threads ask.

    Each caller reserves the next free slot for its host under a lock, then sleeps outside
    it until that slot: requests to one host start at least ``delay`` apart, while requests
    to different hosts do not wait for each other.
    """

    def __init__(
        self,
        delay: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.delay = delay
        self.clock = clock
        self.sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, url: str, delay: float | None = None) -> None:
        host = host_of(url)
        with self._lock:
            now = self.clock()
            slot = max(now, self._next.get(host, now))
            self._next[host] = slot + (self.delay if delay is None else delay)
        if slot > now:
            self.sleep(slot - now)


class Robots:
    """The robots.txt rules of each host a crawl touches, fetched on first need."""

    def __init__(self, get: Callable[[str], Response], user_agent: str) -> None:
        self.get = get
        self.user_agent = user_agent
        self._rules: dict[str, urllib.robotparser.RobotFileParser | Verdict] = {}
        self._lock = threading.Lock()

    def _load(self, host: str) -> urllib.robotparser.RobotFileParser | Verdict:
        try:
            response = self.get(host + "/robots.txt")
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                return "allowed"  # "unavailable": no rules
            return "unknown"  # "unreachable": assume everything is forbidden, for now
        rules = urllib.robotparser.RobotFileParser()
        text = response.body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
        rules.parse(text.splitlines())
        return rules

    def rules(self, url: str) -> urllib.robotparser.RobotFileParser | Verdict:
        host = host_of(url)
        with self._lock:  # one fetch per host, even when several workers ask at once
            if host not in self._rules:
                self._rules[host] = self._load(host)
            return self._rules[host]

    def verdict(self, url: str) -> Verdict:
        rules = self.rules(url)
        if isinstance(rules, str):
            return rules
        return "allowed" if rules.can_fetch(self.user_agent, url) else "blocked"

    def crawl_delay(self, url: str) -> float | None:
        rules = self.rules(url)
        if isinstance(rules, str):
            return None
        delay = rules.crawl_delay(self.user_agent)
        return min(float(delay), MAX_CRAWL_DELAY) if delay is not None else None
