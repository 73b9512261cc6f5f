"""Upstream feeds as sources, against a real HTTP server on loopback: RSS, Atom and JSON Feed,
conditional GET, the backfill window, edits, damage, redirects, gzip, size caps and backoff."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from publisher.jobs import open_store, run_collect
from publisher.sources.fetch import FetchError, fetch

from .conftest import count_rows
from .sourcehelpers import config, poll, rss, source, state_of, stored
from .upstream import Upstream, upstream

RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml"
JSON_FEED = "application/feed+json"


@pytest.fixture
def site() -> Iterator[Upstream]:
    with upstream() as running:
        yield running


def test_rss_atom_and_json_feed_become_articles(tmp_path: Path, site: Upstream) -> None:
    site.serve_fixture("/rss.xml", "rss.xml", RSS)
    site.serve_fixture("/opinion/atom.xml", "atom.xml", ATOM)
    site.serve_fixture("/sport/feed.json", "feed.json", JSON_FEED)
    settings = config(
        tmp_path,
        source("feed", "harbour", site.url("/rss.xml")),
        source("feed", "opinion", site.url("/opinion/atom.xml")),
        source("feed", "sport", site.url("/sport/feed.json")),
    )
    now, base = site.now, site.base
    with open_store(settings) as store:
        report = run_collect(settings, store)
        # Two of three RSS items, both Atom entries, two JSON items: the rest are older than
        # the two-day backfill window. The JSON Feed's stray string is reported.
        assert report.added == 6
        assert [e.reason for e in report.errors] == [
            "malformed feed (item 3 is not an object); kept the 3 items that parsed"
        ]
        ferry = stored(store, "harbour")["harbour:harbour-times-48213"]
        wall = stored(store, "harbour")["harbour:harbour-times-48190"]
        pier = stored(store, "opinion")["opinion:tag:harbour-times.example,2026:opinion/9931"]
        letters = stored(store, "opinion")["opinion:tag:harbour-times.example,2026:opinion/9925"]
        regatta = stored(store, "sport")["sport:sport-7781"]
        cup = stored(store, "sport")["sport:sport-7779"]
    assert ferry.title == "Night ferry service resumes after six-week strike"
    assert ferry.link == f"{base}/news/transport/night-ferry-resumes"
    assert ferry.published == now - timedelta(hours=1)
    assert (ferry.author, ferry.section, ferry.tags) == ("Maya Okafor", "Transport", ["Transport", "Strikes"])  # fmt: skip
    assert ferry.image_url == f"{base}/images/ferry-dawn.jpg"
    assert ferry.summary == "Crews voted to accept a revised pay offer on Sunday evening."
    assert f'<a href="{base}/travel/ferry-timetable"' in ferry.content_html
    assert "<script" not in ferry.content_html and "onerror" not in ferry.content_html
    assert ferry.guid.startswith("tag:news.example.com,") and ferry.guid.endswith(":harbour:harbour-times-48213")  # fmt: skip
    assert wall.author == "Tom Reyes"  # "newsdesk@… (Tom Reyes)": the name, not the address
    assert wall.image_url == f"{base}/images/sea-wall.jpg"  # from the enclosure
    assert "<b>eighteen months</b>" in wall.content_html
    assert pier.title == "Why the port needs a second pier"  # markup in a title is dropped
    assert pier.link == f"{base}/opinion/second-pier"  # relative link resolved
    assert pier.author == "Leila Haddad"
    assert (pier.published, pier.updated) == (now - timedelta(hours=3), now - timedelta(hours=2))
    assert f'href="{base}/data/shipping-2025"' in pier.content_html
    assert letters.published == now - timedelta(hours=26)  # only <updated>: that is its date
    assert "the library's hours" in letters.content_html
    assert regatta.image_url == f"{base}/images/regatta.jpg"
    assert (regatta.author, regatta.tags) == ("Sam Whitlock", ["Sport", "Rowing"])
    assert cup.content_html.startswith("<p>United will meet their oldest rivals")
    assert cup.updated == now - timedelta(hours=10)


def test_second_poll_of_unchanged_feed_sends_if_none_match_and_adds_nothing(
    tmp_path: Path, site: Upstream
) -> None:
    modified = "Wed, 07 Oct 2026 09:00:00 GMT"
    site.serve_fixture("/rss.xml", "rss.xml", RSS, headers={"Last-Modified": modified})
    settings = config(tmp_path, source("feed", "harbour", site.url("/rss.xml")))
    with open_store(settings) as store:
        first = run_collect(settings, store)
        assert first.added == 2
        etag = state_of(store, "harbour").etag
        assert etag.startswith('"')
        site.forget()
        second = run_collect(settings, store)
        assert (second.added, second.updated, second.errors) == (0, 0, [])
        assert count_rows(store, "articles") == 2
        state = state_of(store, "harbour")
    [request] = site.seen("/rss.xml")
    assert request.headers["If-None-Match"] == etag
    assert request.headers["If-Modified-Since"] == modified
    assert request.headers["User-Agent"].startswith("publisher/")
    assert "https://news.example.com" in request.headers["User-Agent"]
    assert state.etag == etag and state.failures == 0 and state.last_success_at is not None


def test_backfill_window_takes_recent_items_and_never_older_ones(
    tmp_path: Path, site: Upstream
) -> None:
    now = site.now
    items = [
        {
            "guid": "a",
            "link": "https://upstream.example/a",
            "title": "An hour ago",
            "at": now - timedelta(hours=1),
        },
        {
            "guid": "b",
            "link": "https://upstream.example/b",
            "title": "47 hours ago",
            "at": now - timedelta(hours=47),
        },
        {
            "guid": "c",
            "link": "https://upstream.example/c",
            "title": "49 hours ago",
            "at": now - timedelta(hours=49),
        },
        {
            "guid": "d",
            "link": "https://upstream.example/d",
            "title": "Ten days ago",
            "at": now - timedelta(days=10),
        },
        {
            "guid": "e",
            "link": "https://upstream.example/e",
            "title": "Undated, first seen on day one",
            "at": None,
        },
    ]
    route = site.route("/feed.xml", rss("Wire", items), content_type=RSS)
    settings = config(tmp_path, source("feed", "wire", site.url("/feed.xml")))
    with open_store(settings) as store:
        first = poll(settings, store, now)
        assert sorted(a.title for a in stored(store, "wire").values()) == ["47 hours ago", "An hour ago"]  # fmt: skip
        assert first.added == 2
        assert store.source_pages("wire")["https://upstream.example/e"].status == "old"
        assert state_of(store, "wire").since == now - timedelta(days=2)

        # A day later the feed has a new dated item and a new undated one; the old ones are
        # still there, and still too old, however many polls go by.
        later = now + timedelta(days=1)
        items += [
            {"guid": "f", "link": "https://upstream.example/f", "title": "Fresh", "at": later},
            {
                "guid": "g",
                "link": "https://upstream.example/g",
                "title": "Undated, new",
                "at": None,
            },
        ]
        route.body = rss("Wire", items)
        second = poll(settings, store, later)
        assert second.added == 2
        titles = sorted(a.title for a in stored(store, "wire").values())
        assert titles == ["47 hours ago", "An hour ago", "Fresh", "Undated, new"]
        assert stored(store, "wire")["wire:g"].published == later  # undated: when first seen
        assert poll(settings, store, later + timedelta(hours=1)).added == 0


def test_edited_item_updates_its_article(tmp_path: Path, site: Upstream) -> None:
    now = site.now

    def atom(text: str, updated: str) -> bytes:
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            "<title>Wire</title><id>urn:wire</id><updated>2026-10-07T09:00:00Z</updated>"
            "<entry><title>Bridge closes for repairs</title><id>urn:wire:1</id>"
            '<link href="https://upstream.example/bridge"/>'
            f"<published>{(now - timedelta(hours=3)).isoformat()}</published>"
            f'<updated>{updated}</updated><content type="html">{text}</content></entry></feed>'
        ).encode()

    route = site.route("/atom.xml", atom("&lt;p&gt;Closed for a week.&lt;/p&gt;", (now - timedelta(hours=3)).isoformat()), content_type=ATOM)  # fmt: skip
    settings = config(tmp_path, source("feed", "wire", site.url("/atom.xml")))
    with open_store(settings) as store:
        assert poll(settings, store).added == 1
        [before] = stored(store, "wire").values()
        edited_at = now - timedelta(minutes=5)
        route.body = atom("&lt;p&gt;Closed for two weeks.&lt;/p&gt;", edited_at.isoformat())
        report = poll(settings, store)
        assert (report.added, report.updated) == (0, 1)
        [after] = stored(store, "wire").values()
    assert (after.id, after.key, after.guid) == (before.id, before.key, before.guid)
    assert after.content_html == "<p>Closed for two weeks.</p>"
    assert after.published == before.published
    assert before.updated == now - timedelta(hours=3) and after.updated == edited_at


def test_malformed_feed_is_reported_and_what_parses_is_kept(tmp_path: Path, site: Upstream) -> None:
    site.serve_fixture("/weather.xml", "malformed.xml", RSS)
    site.serve_fixture("/rss.xml", "rss.xml", RSS)
    settings = config(
        tmp_path,
        source("feed", "weather", site.url("/weather.xml")),
        source("feed", "harbour", site.url("/rss.xml")),
    )
    with open_store(settings) as store:
        report = run_collect(settings, store)
        titles = sorted(a.title for a in stored(store, "weather").values())
        assert titles == ["Flood barrier to close at high tide", "Gale warning for the coast tonight"]  # fmt: skip
        assert len(stored(store, "harbour")) == 2  # the next source goes on
        state = state_of(store, "weather")
    reasons = [(e.path, e.reason) for e in report.errors]
    assert reasons[0][0] == site.url("/weather.xml")
    assert reasons[0][1].startswith("malformed feed (") and "kept the 3 items that parsed" in reasons[0][1]  # fmt: skip
    assert reasons[1] == (f"{site.url('/weather.xml')} item 3", "the item 'Sunny spells return by the weekend' has no link")  # fmt: skip
    assert state.failures == 0 and state.last_success_at is not None


def test_permanent_redirect_moves_the_stored_url_and_temporary_does_not(
    tmp_path: Path, site: Upstream
) -> None:
    site.serve_fixture("/rss.xml", "rss.xml", RSS)
    site.serve_fixture("/opinion/atom.xml", "atom.xml", ATOM)
    site.redirect("/old/rss.xml", site.url("/rss.xml"), 301)
    site.redirect("/today.xml", "/opinion/atom.xml", 302)
    settings = config(
        tmp_path,
        source("feed", "harbour", site.url("/old/rss.xml")),
        source("feed", "opinion", site.url("/today.xml")),
    )
    with open_store(settings) as store:
        assert poll(settings, store).added == 4
        assert state_of(store, "harbour").url == site.url("/rss.xml")
        assert state_of(store, "harbour").configured_url == site.url("/old/rss.xml")
        assert state_of(store, "opinion").url == site.url("/today.xml")
        site.forget()
        assert poll(settings, store).added == 0
    assert sorted(site.paths()) == ["/opinion/atom.xml", "/rss.xml", "/today.xml"]


def test_redirect_to_another_scheme_is_refused(tmp_path: Path, site: Upstream) -> None:
    site.redirect("/evil.xml", "file:///etc/passwd", 301)
    settings = config(tmp_path, source("feed", "evil", site.url("/evil.xml")))
    with open_store(settings) as store:
        report = poll(settings, store)
        assert report.added == 0
        assert "not an http(s) URL: 'file:///etc/passwd'" in report.errors[0].reason
        assert state_of(store, "evil").failures == 1


def test_gzip_responses_are_read(tmp_path: Path, site: Upstream) -> None:
    site.serve_fixture("/rss.xml", "rss.xml", RSS, gzip=True)
    settings = config(tmp_path, source("feed", "harbour", site.url("/rss.xml")))
    with open_store(settings) as store:
        assert poll(settings, store).added == 2
    assert site.seen("/rss.xml")[0].headers["Accept-Encoding"] == "gzip"


def test_oversized_responses_are_refused_and_the_rest_goes_on(
    tmp_path: Path, site: Upstream
) -> None:
    padding = b"<!--" + b" " * 200_000 + b"-->"
    big = site.fixture("rss.xml").replace(b"<channel>", b"<channel>" + padding)
    site.route("/big.xml", big, content_type=RSS)  # announced by Content-Length
    site.route("/stream.xml", big, content_type=RSS, length=False)  # ends when the socket does
    site.route("/bomb.xml", big + b" " * 5_000_000, content_type=RSS, gzip=True)  # 5 MB, ~5 KB sent
    site.serve_fixture("/rss.xml", "rss.xml", RSS)
    cap = {"max_bytes": 100_000}
    settings = config(
        tmp_path,
        source("feed", "big", site.url("/big.xml"), **cap),
        source("feed", "stream", site.url("/stream.xml"), **cap),
        source("feed", "bomb", site.url("/bomb.xml"), **cap),
        source("feed", "harbour", site.url("/rss.xml"), **cap),
    )
    with open_store(settings) as store:
        report = poll(settings, store)
        assert report.added == 2 and set(stored(store, "harbour")) == {"harbour:harbour-times-48213", "harbour:harbour-times-48190"}  # fmt: skip
        assert count_rows(store, "articles") == 2
    reasons = {e.path: e.reason for e in report.errors}
    assert reasons[site.url("/big.xml")].endswith(" bytes, over the 100,000 cap")  # Content-Length
    assert "over the 100,000 byte cap" in reasons[site.url("/stream.xml")]
    assert "larger than 100,000 bytes once decompressed" in reasons[site.url("/bomb.xml")]


def test_errors_are_backed_off_and_recorded(tmp_path: Path, site: Upstream) -> None:
    route = site.route("/rss.xml", "oops", status=500, etag=False)
    site.route("/busy.xml", "later", status=503, etag=False, headers={"Retry-After": "3600"})
    settings = config(
        tmp_path,
        source("feed", "harbour", site.url("/rss.xml")),
        source("feed", "busy", site.url("/busy.xml")),
    )
    t0 = site.now
    with open_store(settings) as store:
        first = poll(settings, store, t0)
        assert [e.path for e in first.errors] == [site.url("/rss.xml"), site.url("/busy.xml")]
        state = state_of(store, "harbour")
        assert (state.failures, state.last_error, state.last_error_at) == (1, "HTTP 500 Internal Server Error", t0)  # fmt: skip
        assert state.next_attempt_at == t0 + timedelta(minutes=5) and state.last_success_at is None  # fmt: skip
        assert "next attempt in 5 min" in first.errors[0].hint
        assert state_of(store, "busy").next_attempt_at == t0 + timedelta(hours=1)  # Retry-After

        site.forget()
        assert poll(settings, store, t0 + timedelta(minutes=4)).errors == []
        assert site.paths() == []  # nobody is due: no request at all

        poll(settings, store, t0 + timedelta(minutes=6))
        assert site.paths() == ["/rss.xml"]
        state = state_of(store, "harbour")
        assert (state.failures, state.next_attempt_at) == (2, t0 + timedelta(minutes=16))

        route.status, route.body, route.content_type = 200, site.fixture("rss.xml"), RSS
        recovered = poll(settings, store, t0 + timedelta(minutes=16))
        assert recovered.added == 2
        state = state_of(store, "harbour")
    assert (state.failures, state.last_error, state.next_attempt_at) == (0, "", None)
    assert state.last_success_at == t0 + timedelta(minutes=16)
    assert state.last_error_at == t0 + timedelta(minutes=6)  # kept: when it last went wrong


def test_a_source_is_not_polled_before_every_minutes(tmp_path: Path, site: Upstream) -> None:
    site.serve_fixture("/rss.xml", "rss.xml", RSS)
    settings = config(tmp_path, source("feed", "harbour", site.url("/rss.xml"), every_minutes=60))
    t0 = site.now
    with open_store(settings) as store:
        poll(settings, store, t0)
        assert state_of(store, "harbour").next_attempt_at == t0 + timedelta(minutes=60)
        poll(settings, store, t0 + timedelta(minutes=30))
        assert len(site.seen("/rss.xml")) == 1
        poll(settings, store, t0 + timedelta(minutes=60))
    assert len(site.seen("/rss.xml")) == 2


def test_items_without_an_http_link_are_refused_one_by_one(tmp_path: Path, site: Upstream) -> None:
    now = site.now
    items = [
        {"guid": "1", "link": "javascript:alert(document.cookie)", "title": "Script", "at": now},
        {"guid": "2", "link": "ftp://upstream.example/file", "title": "FTP", "at": now},
        {"guid": "3", "link": "https://upstream.example/fine", "title": "Fine", "at": now},
    ]
    site.route("/feed.xml", rss("Wire", items), content_type=RSS)
    settings = config(tmp_path, source("feed", "wire", site.url("/feed.xml")))
    with open_store(settings) as store:
        report = poll(settings, store)
        assert [a.title for a in stored(store, "wire").values()] == ["Fine"]
    assert [(e.path, e.reason[:30]) for e in report.errors] == [
        (f"{site.url('/feed.xml')} item 1", "link refused: not an http(s) U"),
        (f"{site.url('/feed.xml')} item 2", "link refused: not an http(s) U"),
    ]


def test_items_are_deduplicated_by_guid_then_link_then_content(
    tmp_path: Path, site: Upstream
) -> None:
    now = site.now
    items = [
        {
            "guid": "1",
            "link": "https://upstream.example/a",
            "title": "Original",
            "body": "Words.",
            "at": now,
        },
        {"guid": "1", "link": "https://upstream.example/b", "title": "Same guid", "at": now},
        {"guid": "3", "link": "https://upstream.example/a", "title": "Same link", "at": now},
        {
            "guid": "4",
            "link": "https://upstream.example/d",
            "title": "Original",
            "body": "Words.",
            "at": now,
        },
        {"link": "https://upstream.example/e", "title": "No guid: the link is its id", "at": now},
    ]
    site.route("/feed.xml", rss("Wire", items), content_type=RSS)
    settings = config(tmp_path, source("feed", "wire", site.url("/feed.xml")))
    with open_store(settings) as store:
        report = poll(settings, store)
        assert sorted(stored(store, "wire")) == ["wire:1", "wire:https://upstream.example/e"]
    assert report.errors == [] and report.added == 2


def test_a_feed_body_naming_a_local_file_is_not_read(tmp_path: Path, site: Upstream) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss("Secret", [{"guid": "s", "link": "https://x.example/s", "title": "Secret", "at": site.now}]))  # fmt: skip
    site.route("/feed.xml", str(secret), content_type="text/plain")
    settings = config(tmp_path, source("feed", "wire", site.url("/feed.xml")))
    with open_store(settings) as store:
        report = poll(settings, store)
        assert count_rows(store, "articles") == 0
    assert report.errors[0].reason.startswith("feed source 'wire': not a feed:")


def test_a_server_that_trickles_is_cut_off_at_the_timeout(tmp_path: Path, site: Upstream) -> None:
    site.route("/slow.xml", b"<rss>" + b" " * 400, content_type=RSS, trickle=0.05)
    with pytest.raises(FetchError, match=r"no complete answer within 0.5 s"):
        fetch(site.url("/slow.xml"), user_agent="t", timeout=0.5, max_bytes=10_000)


def test_a_gzip_bomb_stops_at_the_cap(site: Upstream) -> None:
    site.route("/bomb.xml", b"\0" * 20_000_000, content_type=RSS, gzip=True)
    with pytest.raises(FetchError, match="larger than 1,000,000 bytes once decompressed"):
        fetch(site.url("/bomb.xml"), user_agent="t", timeout=10, max_bytes=1_000_000)
    assert len(gzip.compress(b"\0" * 20_000_000)) < 1_000_000


def test_feed_sources_on_postgresql(tmp_path: Path, site: Upstream, pg_url: str) -> None:
    site.serve_fixture("/rss.xml", "rss.xml", RSS)
    settings = config(tmp_path, source("feed", "harbour", site.url("/rss.xml")))
    settings = settings.model_copy(update={"database": settings.database.model_copy(update={"url": pg_url})})  # fmt: skip
    with open_store(settings) as store:
        assert store.engine.dialect.name == "postgresql"
        assert poll(settings, store).added == 2
        assert poll(settings, store).added == 0
        state = state_of(store, "harbour")
        assert state.etag and state.last_success_at is not None
        assert site.seen("/rss.xml")[1].headers["If-None-Match"] == state.etag


def test_the_same_bytes_again_are_not_parsed_again(
    tmp_path: Path, site: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    from publisher.sources import feed

    site.serve_fixture("/rss.xml", "rss.xml", RSS, etag=False)  # a server without validators
    settings = config(tmp_path, source("feed", "harbour", site.url("/rss.xml")))
    parsed: list[str] = []
    real = feed.parse_feed
    monkeypatch.setattr(feed, "parse_feed", lambda *a: parsed.append(a[1]) or real(*a))
    with open_store(settings) as store:
        assert poll(settings, store).added == 2
        assert poll(settings, store).added == 0
    assert len(site.seen("/rss.xml")) == 2 and len(parsed) == 1
    assert "If-None-Match" not in site.seen("/rss.xml")[1].headers
