"""The small parts under the feed and sitemap sources: hostile XML, URL checks, item keys,
backoff, Retry-After, and the per-host throttle (on a fake clock)."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.sources.feedparse import parse_feed
from publisher.sources.fetch import retry_after, url_problem
from publisher.sources.polite import Throttle
from publisher.sources.polled import backoff, item_key
from publisher.sources.sitemapxml import parse_sitemap

UTC_ZONE = ZoneInfo("UTC")
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)


def test_a_billion_laughs_sitemap_is_not_expanded() -> None:
    body = (LAUGHS + "<urlset><url><loc>https://x.example/&lol9;</loc></url></urlset>").encode()
    start = time.process_time()
    sitemap = parse_sitemap(body, "https://x.example/s.xml", 10_000_000, UTC_ZONE)
    assert time.process_time() - start < 5  # generous: expanded, it would be 3 GB of "lol"
    assert all(len(e.loc) < 100 for e in sitemap.entries)


def test_external_entities_are_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    doctype = f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>'
    sitemap = parse_sitemap(
        (doctype + "<urlset><url><loc>https://x.example/&e;</loc></url></urlset>").encode(),
        "https://x.example/s.xml",
        1_000_000,
        UTC_ZONE,
    )
    assert "TOP-SECRET" not in repr(sitemap)
    feed = parse_feed(
        (
            doctype + '<rss version="2.0"><channel><title>t</title><item><title>&e;</title>'
            "<link>https://x.example/a</link></item></channel></rss>"
        ).encode(),
        "https://x.example/feed.xml",
    )
    assert "TOP-SECRET" not in repr(feed)


def test_json_feed_that_is_not_one() -> None:
    assert parse_feed(b'{"version": "1", "items": []}', "https://x.example/f.json").problem
    assert parse_feed(b"{\"a\": " + b"[" * 100_000, "https://x.example/f.json").problem.startswith("not valid JSON")  # fmt: skip
    odd = parse_feed(
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": true, "tags": "x",'
        b' "authors": 3, "url": "/a", "title": 5}]}',
        "https://x.example/f.json",
    )
    [entry] = odd.entries
    assert (entry.guid, entry.tags, entry.author, entry.title) == ("", [], "", "")
    assert entry.link == "https://x.example/a"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://x.example/a?b=1", ""),
        ("http://127.0.0.1:8080/feed", ""),
        ("javascript:alert(1)", "not an http(s) URL"),
        ("file:///etc/passwd", "not an http(s) URL"),
        ("ftp://x.example/f", "not an http(s) URL"),
        ("https:///path", "no host"),
        ("https://x.example:99999/", "not a valid URL"),
        ("https://x.example/a b", "spaces or control characters"),
        ("https://x.example/" + "a" * 2000, "longer than 2000"),
    ],
)
def test_url_problem(url: str, problem: str) -> None:
    found = url_problem(url)
    assert (problem in found) if problem else found == ""


def test_item_keys_are_stable_and_fit_the_guid_column() -> None:
    assert item_key("wire", "urn:1") == "wire:urn:1"
    long = "https://x.example/?" + "&".join(f"k{i}=v{i}" for i in range(100))
    key = item_key("wire", long)
    assert key == item_key("wire", long) and key.startswith("wire:sha256:") and len(key) < 100


def test_backoff_doubles_up_to_six_hours_and_honours_the_server() -> None:
    minutes = [backoff(n, None, None) / timedelta(minutes=1) for n in range(1, 9)]
    assert minutes == [5, 10, 20, 40, 80, 160, 320, 360]
    assert backoff(1, 60, None) == timedelta(minutes=60)  # never sooner than its interval
    assert backoff(1, None, 7200) == timedelta(hours=2)  # Retry-After
    assert backoff(1, None, 10**9) == timedelta(hours=24)  # ... within reason
    assert backoff(400, None, None) == timedelta(hours=6)


def test_retry_after_as_seconds_or_a_date() -> None:
    now = datetime(2026, 10, 7, 9, 0, tzinfo=UTC)
    assert retry_after("120") == 120
    assert retry_after("Wed, 07 Oct 2026 09:05:00 GMT", now) == 300
    assert retry_after("soon") is None and retry_after(None) is None


def test_the_throttle_spaces_one_host_and_not_others() -> None:
    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    throttle = Throttle(2.0, clock=lambda: clock[0], sleep=sleep)
    throttle.wait("https://a.example/1")
    throttle.wait("https://a.example/2")
    throttle.wait("https://b.example/1")  # another host: no wait
    throttle.wait("https://A.example/3", delay=5.0)  # same host, any case
    assert slept == [2.0, 2.0]
    throttle.wait("https://a.example/4")
    assert slept == [2.0, 2.0, 5.0]


def test_feedparser_is_given_a_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Handed bytes or a string, feedparser may open a local file or a URL of that name."""
    import feedparser

    seen: list[object] = []
    real = feedparser.parse
    monkeypatch.setattr(feedparser, "parse", lambda doc, **kw: seen.append(doc) or real(doc, **kw))  # fmt: skip
    parse_feed(b"/etc/hostname", "https://x.example/f")
    assert isinstance(seen[0], io.BytesIO)
