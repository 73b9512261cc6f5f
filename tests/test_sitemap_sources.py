"""Sitemaps as sources, against a small news site on loopback: extraction with trafilatura,
robots.txt, pauses per host, a concurrency cap, pages fetched once, and the backfill window."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from publisher.config import Settings
from publisher.jobs import open_store, run_collect

from .sourcehelpers import config, poll, source, state_of, stored
from .upstream import Upstream, upstream

FAST = {"delay_seconds": 0, "concurrency": 2}


@pytest.fixture
def site() -> Iterator[Upstream]:
    with upstream() as running:
        running.news_site()
        yield running


def sitemap(tmp_path: Path, site: Upstream, path: str = "/news-sitemap.xml", **keys: Any) -> Settings:  # fmt: skip
    return config(tmp_path, source("sitemap", "harbour", site.url(path), **{**FAST, **keys}))


def test_article_pages_are_extracted(tmp_path: Path, site: Upstream) -> None:
    settings = sitemap(tmp_path, site)
    with open_store(settings) as store:
        report = run_collect(settings, store)
        found = stored(store, "harbour")
        pages = store.source_pages("harbour")
    assert report.added == 2
    cranes = found[f"harbour:{site.url('/news/port/cranes-arrive')}"]
    library = found[f"harbour:{site.url('/news/council/library-hours')}"]
    assert cranes.title == "Three giant cranes arrive at the container terminal"
    assert cranes.published == site.now - timedelta(hours=2)  # the page's own time, with zone
    assert cranes.author == "Priya Natarajan"
    assert cranes.section == "Port"
    assert cranes.link == site.url("/news/port/cranes-arrive")
    assert cranes.image_url == site.url("/images/cranes.jpg")
    assert cranes.summary.startswith("The ship-to-shore cranes, each taller than the cathedral")
    assert cranes.tags == ["port", "cranes", "shipping"]  # news:keywords, as the page has none
    html = cranes.content_html
    assert "<p>Three ship-to-shore cranes, each taller than the cathedral spire" in html
    assert f'href="{site.url("/news/port/crane-commissioning")}"' in html
    assert "Advertisement" not in html and "Privacy" not in html and "analytics" not in html
    assert "<h1>" not in html  # the headline is the title, not repeated in the text
    assert library.title == "Library to open on Sundays from next month"
    assert library.author == "Daniel Osei"  # from the page's JSON-LD
    assert library.published == site.now - timedelta(hours=5)
    assert library.section == "Council"
    # What became of every URL the sitemap listed:
    assert {url.removeprefix(site.base): p.status for url, p in pages.items()} == {
        "/news/port/cranes-arrive": "ok",
        "/news/council/library-hours": "ok",
        "/drafts/embargoed-budget": "blocked",
        "/sport/": "empty",
        "/news/port/old-lighthouse": "old",
        "https://elsewhere.example/news/copied-story": "failed",
    }
    reasons = {e.path.removeprefix(site.base): e.reason for e in report.errors}
    assert reasons == {
        "/sport/": "no article on the page: the page calls itself 'website' (og:type), not an article",
        "https://elsewhere.example/news/copied-story": "page not fetched: not on the sitemap's host '127.0.0.1'",
    }


def test_robots_txt_is_honoured(tmp_path: Path, site: Upstream) -> None:
    settings = config(
        tmp_path,
        source("sitemap", "harbour", site.url("/news-sitemap.xml"), **FAST),
        source(
            "sitemap", "greedy", site.url("/news-sitemap.xml"), user_agent="GreedyBot/2.0", **FAST
        ),
    )
    with open_store(settings) as store:
        run_collect(settings, store)
        assert len(stored(store, "harbour")) == 2
        assert stored(store, "greedy") == {}  # "User-agent: GreedyBot / Disallow: /"
        greedy = store.source_pages("greedy", statuses=["blocked"])
    assert "/drafts/embargoed-budget" not in site.paths()
    assert len(greedy) == 4  # every page it would have fetched
    # Each source asked for robots.txt once, as itself (the two run side by side).
    agents = sorted(r.headers["User-Agent"] for r in site.seen("/robots.txt"))
    assert agents == sorted(r.headers["User-Agent"] for r in site.seen("/news-sitemap.xml"))
    assert agents[0] == "GreedyBot/2.0" and agents[1].startswith("publisher/")


def test_a_page_without_an_article_is_not_fetched_again(tmp_path: Path, site: Upstream) -> None:
    settings = sitemap(tmp_path, site)
    with open_store(settings) as store:
        run_collect(settings, store)
        # The sitemap changes (a new story), so it is read again in full; the section front
        # it still lists was recorded as having no article and is not fetched again.
        printed = "/news/council/library-hours?print=1"
        site.serve_fixture(printed, "site/library-hours.html", "text/html")
        extra = (
            f"<url><loc>{site.url(printed)}</loc><lastmod>{site.now.isoformat()}</lastmod></url>"
        )
        body = site.fixture("site/news-sitemap.xml").replace(
            b"</urlset>", extra.encode() + b"</urlset>"
        )
        site.route("/news-sitemap.xml", body, content_type="application/xml")
        second = run_collect(settings, store)
        assert store.source_pages("harbour")[site.url("/sport/")].status == "empty"
    assert site.paths().count("/sport/") == 1
    assert site.paths().count("/news/port/cranes-arrive") == 1
    assert site.paths().count("/news-sitemap.xml") == 2
    assert second.duplicates == 0 and second.added == 1  # the print view: same text, new URL


def test_requests_to_one_host_are_spaced_by_the_delay(tmp_path: Path, site: Upstream) -> None:
    delay = 0.3
    settings = sitemap(tmp_path, site, delay_seconds=delay, concurrency=4)
    with open_store(settings) as store:
        assert run_collect(settings, store).added == 2
    times = sorted(r.at for r in site.requests)
    assert len(times) == 5  # sitemap, robots.txt, three pages
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= delay - 0.05, gaps  # a little slack for thread wake-up jitter


@pytest.mark.parametrize("cap", [1, 2])
def test_no_more_pages_at_once_than_the_concurrency_cap(
    tmp_path: Path, site: Upstream, cap: int
) -> None:
    for path in ("/news/port/cranes-arrive", "/news/council/library-hours", "/sport/"):
        site.routes[path].delay = 0.2
    settings = sitemap(tmp_path, site, concurrency=cap)
    with open_store(settings) as store:
        assert run_collect(settings, store).added == 2
    assert 1 <= site.most_in_flight <= cap


def test_a_sitemap_index_is_followed_and_old_children_are_skipped(
    tmp_path: Path, site: Upstream
) -> None:
    settings = sitemap(tmp_path, site, "/sitemap-index.xml")
    with open_store(settings) as store:
        assert run_collect(settings, store).added == 2
    assert "/news-sitemap.xml" in site.paths()
    assert "/sitemap-2019.xml" not in site.paths()  # lastmod 2019: older than the window


def test_pages_beyond_max_pages_wait_for_the_next_run(tmp_path: Path, site: Upstream) -> None:
    settings = sitemap(tmp_path, site, max_pages=1)
    with open_store(settings) as store:
        added = [run_collect(settings, store).added for _ in range(4)]
        assert store.source_pages("harbour", statuses=["queued"]) == {}
    # Newest first: the section front (no article), the cranes, then the library; the
    # sitemap answered 304 after the first run, and the queue carried on regardless.
    assert added == [0, 1, 1, 0]
    fetched = [p for p in site.paths() if p not in ("/news-sitemap.xml", "/robots.txt")]
    assert fetched == ["/sport/", "/news/port/cranes-arrive", "/news/council/library-hours"]
    assert len(site.seen("/news-sitemap.xml")) == 4
    assert [r.headers.get("If-None-Match") is not None for r in site.seen("/news-sitemap.xml")] == [False, True, True, True]  # fmt: skip


def test_failed_pages_are_retried_then_given_up(tmp_path: Path, site: Upstream) -> None:
    site.routes["/news/council/library-hours"].status = 500
    settings = sitemap(tmp_path, site)
    with open_store(settings) as store:
        reports = [run_collect(settings, store) for _ in range(4)]
        page = store.source_pages("harbour")[site.url("/news/council/library-hours")]
    assert (page.status, page.attempts, page.detail) == ("failed", 3, "HTTP 500 Internal Server Error")  # fmt: skip
    assert site.paths().count("/news/council/library-hours") == 3
    hints = [e.hint for r in reports for e in r.errors if "library-hours" in e.path]
    assert hints == [
        "attempt 1 of 3; tried again on the next run",
        "attempt 2 of 3; tried again on the next run",
        "attempt 3 of 3; given up",
    ]


def test_a_sitemap_that_cannot_be_read_is_backed_off(tmp_path: Path, site: Upstream) -> None:
    site.route("/news-sitemap.xml", "<html>maintenance</html>", content_type="text/html")
    settings = sitemap(tmp_path, site)
    t0 = site.now
    with open_store(settings) as store:
        report = poll(settings, store, t0)
        state = state_of(store, "harbour")
        assert poll(settings, store, t0 + timedelta(minutes=1)).errors == []
    assert report.errors[0].reason == "sitemap source 'harbour': not a sitemap: the root element is <html>, not <urlset> or <sitemapindex>"  # fmt: skip
    assert (state.failures, state.next_attempt_at) == (1, t0 + timedelta(minutes=5))
    assert site.paths() == ["/news-sitemap.xml"]


def test_a_damaged_sitemap_keeps_what_parses(tmp_path: Path, site: Upstream) -> None:
    whole = site.fixture("site/news-sitemap.xml").decode()
    cut = whole[: whole.index("<loc>", whole.index("library-hours"))]  # ends inside the 3rd <url>
    site.route("/news-sitemap.xml", cut, content_type="application/xml")
    settings = sitemap(tmp_path, site)
    with open_store(settings) as store:
        report = run_collect(settings, store)
        assert report.added == 2
    assert report.errors[0].reason.startswith("malformed sitemap (")
    assert report.errors[0].reason.endswith("kept the 2 entries that parsed")


def test_pages_wait_while_robots_txt_cannot_be_read(tmp_path: Path, site: Upstream) -> None:
    robots = site.routes["/robots.txt"]
    robots.status = 503  # "unreachable": RFC 9309 says assume everything is disallowed
    settings = sitemap(tmp_path, site)
    with open_store(settings) as store:
        first = run_collect(settings, store)
        assert first.added == 0
        assert first.errors[-1].reason == "robots.txt could not be read; 4 page(s) wait for the next run"  # fmt: skip
        assert len(store.source_pages("harbour", statuses=["queued"])) == 4
        robots.status = 404  # "unavailable": no rules at all, so even the drafts are fetched
        assert run_collect(settings, store).added == 3
        assert store.source_pages("harbour")[site.url("/drafts/embargoed-budget")].status == "ok"
    # Two pages are fetched at once (concurrency 2): which answer lands first varies.
    assert sorted(p for p in site.paths() if p.startswith("/news/")) == [
        "/news/council/library-hours",
        "/news/port/cranes-arrive",
    ]


def test_an_overlong_url_is_reported_not_stored(tmp_path: Path, site: Upstream) -> None:
    long = site.url("/news/" + "x" * 2100)
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{long}</loc><lastmod>{site.now.isoformat()}</lastmod></url></urlset>'  # fmt: skip
    site.route("/news-sitemap.xml", body, content_type="application/xml")
    settings = sitemap(tmp_path, site)
    with open_store(settings) as store:
        report = run_collect(settings, store)
        assert store.source_pages("harbour") == {}
    assert report.errors[0].reason == "page not fetched: the URL is longer than 2000 characters"
