"""A sitemap (a sitemap index, a plain sitemap or a Google News sitemap) as a source.

Each run reads the sitemap (conditionally), and each child sitemap of an index not older than
the backfill window, and notes every page URL it has not seen before in ``source_pages``. Then
it fetches up to ``max_pages`` waiting pages, newest first, politely: robots.txt obeyed, one
request per host every ``delay_seconds`` (or the site's longer ``Crawl-delay``), at most
``concurrency`` at once, with the configured User-Agent. Each page is fetched once: it becomes
an article, or is recorded as having none (never fetched again), or is retried on later runs
until it has failed three times. Pages must be on the sitemap's own host, as the sitemap
protocol requires, so a sitemap cannot send the crawler anywhere else.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Generator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit

from ..config import SitemapSource
from ..errors import ArticleError
from ..models import SourcePage, SourceState
from ..store.protocols import SourceStateStore
from . import SiteContext, SourceItem
from .fetch import MAX_URL_LENGTH, FetchError, Response, url_problem
from .pages import PageHints, extract_article
from .polite import Robots, Throttle
from .polled import Polled, item_key
from .sitemapxml import SitemapEntry, parse_sitemap

log = logging.getLogger(__name__)

PARSER_VERSION = b"page-1"
MAX_ATTEMPTS = 3  # a page that failed this often is given up
MAX_CHILD_SITEMAPS = 50  # per run, newest first
ACCEPT_XML = "application/xml, text/xml;q=0.9, */*;q=0.1"
ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


def _site_host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def _hints(entry: SitemapEntry) -> dict[str, str]:
    hints = {"title": entry.title, "keywords": ", ".join(entry.keywords)}
    if entry.published is not None:
        hints["published"] = entry.published.isoformat()
    return {k: v for k, v in hints.items() if v}


def _page_hints(page: SourcePage) -> PageHints:
    published = page.hints.get("published")
    return PageHints(
        title=page.hints.get("title", ""),
        published=datetime.fromisoformat(published) if published else None,
        lastmod=page.lastmod,
        keywords=tuple(k.strip() for k in page.hints.get("keywords", "").split(",") if k.strip()),
    )


def _newest_first(page: SourcePage) -> float:
    hint = page.hints.get("published")
    when = datetime.fromisoformat(hint) if hint else page.lastmod or page.first_seen_at
    return -when.timestamp() if when else 0.0


class SitemapCrawler(Polled):
    """Yields the articles on the pages a sitemap lists, each page fetched once."""

    kind = "sitemap"
    accept = ACCEPT_XML

    def __init__(
        self,
        conf: SitemapSource,
        state: SourceState | None,
        store: SourceStateStore,
        site: SiteContext,
        now: datetime,
        user_agent: str,
    ) -> None:
        super().__init__(conf, state, store, site, now, user_agent)
        self.crawl = conf
        self.throttle = Throttle(conf.delay_seconds)
        self.robots = Robots(self._get, self.user_agent)
        self.unreachable = 0  # pages waiting because their host's robots.txt did not answer

    def prepare(self) -> None:
        self.throttle.wait(self.state.url)
        super().prepare()

    def _get(self, url: str) -> Response:
        """A request to the site (a sitemap, robots.txt), after this host's pause."""
        self.throttle.wait(url)
        return self.get(url)

    def _off_site(self, url: str) -> str:
        """Why ``url`` is not fetched: not http(s), or not on the sitemap's host (as configured,
        or where a permanent redirect moved it); "" when it may be."""
        if problem := url_problem(url):
            return problem
        hosts = {_site_host(self.conf.url), _site_host(self.state.url)}
        if _site_host(url) not in hosts:
            return f"not on the sitemap's host {_site_host(self.conf.url)!r}"
        return ""

    def read(self, answer: Response, known: Mapping[str, str]) -> Iterator[SourceItem]:
        first_poll = self.first_poll
        listed: list[SitemapEntry] = []
        if not self.same_as_last_time(answer):
            try:
                read = yield from self._read(answer)
            except FetchError as exc:  # a gzipped sitemap that is broken or too large
                yield self.fail(exc.reason, where=answer.url)
                return
            if read is None:
                return  # not a sitemap: _read recorded the failure
            listed = read
        self.succeed(answer)
        yield from self._crawl(listed, known, first_poll)

    def _read(self, answer: Response) -> Generator[SourceItem, None, list[SitemapEntry] | None]:
        """The page entries of the sitemap (and of an index's children), problems yielded;
        None when the document is no sitemap at all (a failure, recorded)."""
        conf = self.conf
        sitemap = parse_sitemap(answer.body, answer.url, conf.max_bytes, self.site.tz)
        if not sitemap.entries and sitemap.problem:
            yield self.fail(f"not a sitemap: {sitemap.problem}", where=answer.url)
            return None
        if sitemap.problem:
            yield ArticleError(answer.url, None, f"malformed sitemap ({sitemap.problem}); kept the {len(sitemap.entries)} entries that parsed")  # fmt: skip
        if sitemap.kind == "urlset":
            return sitemap.entries
        children = [c for c in sitemap.entries if c.lastmod is None or c.lastmod >= self.since]
        children.sort(key=lambda c: c.lastmod.timestamp() if c.lastmod else 0.0, reverse=True)
        entries: list[SitemapEntry] = []
        for child in children[:MAX_CHILD_SITEMAPS]:
            if problem := self._off_site(child.loc):
                yield ArticleError(child.loc, None, f"sitemap not followed: {problem}")
                continue
            try:
                response = self._get(child.loc)
                sub = parse_sitemap(response.body, response.url, conf.max_bytes, self.site.tz)
            except FetchError as exc:
                yield ArticleError(child.loc, None, f"cannot read the sitemap: {exc.reason}")
                continue
            if sub.kind == "index":
                yield ArticleError(child.loc, None, "an index inside a sitemap index is not followed")  # fmt: skip
                continue
            if sub.problem:
                yield ArticleError(child.loc, None, f"malformed sitemap ({sub.problem}); kept the {len(sub.entries)} entries that parsed")  # fmt: skip
            entries.extend(sub.entries)
        return entries

    def _crawl(
        self, listed: list[SitemapEntry], known: Mapping[str, str], first_poll: bool
    ) -> Iterator[SourceItem]:
        by_url: dict[str, SitemapEntry] = {}
        for entry in listed:
            by_url.setdefault(entry.loc.strip(), entry)
        seen = self.store.source_pages(self.name, urls=list(by_url)) if by_url else {}
        waiting = self.store.source_pages(self.name, statuses=["queued"])
        for url, entry in by_url.items():
            if url in seen:
                continue
            page = SourcePage(url, "queued", lastmod=entry.lastmod, hints=_hints(entry), first_seen_at=self.now)  # fmt: skip
            if item_key(self.name, url) in known:  # stored before its page was recorded
                self.record(replace(page, status="ok"))
                continue
            if problem := self._off_site(url):
                if len(url) <= MAX_URL_LENGTH:  # a longer one does not fit the table: report only
                    self.record(replace(page, status="failed", detail=problem))
                yield ArticleError(url[:200], None, f"page not fetched: {problem}")
                continue
            dated = entry.published or entry.lastmod
            if (dated is None and first_poll) or (dated is not None and dated < self.since):
                self.record(replace(page, status="old", detail="before the backfill window"))
                continue
            self.record(page)
            waiting[url] = page
        yield from self._fetch(self._allowed(sorted(waiting.values(), key=_newest_first)))

    def _allowed(self, waiting: list[SourcePage]) -> list[SourcePage]:
        """The first ``max_pages`` of ``waiting`` that robots.txt lets us fetch; the ones it
        forbids are recorded (and cost no request), the ones it cannot tell about yet wait."""
        batch: list[SourcePage] = []
        self.unreachable = 0
        for page in waiting:
            if len(batch) >= self.crawl.max_pages:
                break
            verdict = self.robots.verdict(page.url)
            if verdict == "allowed":
                batch.append(page)
            elif verdict == "blocked":
                log.info("%s: %s is disallowed by robots.txt; not fetched", self.name, page.url)
                detail = "disallowed by robots.txt"
                self.record(replace(page, status="blocked", fetched_at=self.now, detail=detail))
            else:
                self.unreachable += 1  # robots.txt unreachable: wait, uncounted, for a later run
        return batch

    def _fetch_one(self, page: SourcePage) -> Response | FetchError:
        """One page, after the host's pause (run in a worker)."""
        delay = max(self.crawl.delay_seconds, self.robots.crawl_delay(page.url) or 0.0)
        self.throttle.wait(page.url, delay)
        try:
            return self.get(page.url, accept=ACCEPT_HTML)
        except FetchError as exc:
            return exc

    def _fetch(self, batch: list[SourcePage]) -> Iterator[SourceItem]:
        """Fetch and extract ``batch``, at most ``concurrency`` requests at once."""
        if self.unreachable:
            yield ArticleError(self.state.url, None, f"robots.txt could not be read; {self.unreachable} page(s) wait for the next run")  # fmt: skip
        if not batch:
            return
        with ThreadPoolExecutor(self.crawl.concurrency, thread_name_prefix="crawl") as pool:
            for page, outcome in zip(batch, pool.map(self._fetch_one, batch), strict=True):
                tried = replace(page, fetched_at=self.now)
                if isinstance(outcome, FetchError):
                    attempts = page.attempts + 1
                    status = "failed" if attempts >= MAX_ATTEMPTS else "queued"
                    self.record(replace(tried, status=status, attempts=attempts, detail=outcome.reason))  # fmt: skip
                    again = "given up" if status == "failed" else "tried again on the next run"
                    yield ArticleError(page.url, None, f"cannot fetch the page: {outcome.reason}", f"attempt {attempts} of {MAX_ATTEMPTS}; {again}")  # fmt: skip
                else:
                    yield from self._extract(tried, outcome)

    def _extract(self, page: SourcePage, response: Response) -> Iterator[SourceItem]:
        key = item_key(self.name, page.url)
        link = response.url if not self._off_site(response.url) else page.url
        try:
            result = extract_article(
                response.body, link, key=key, source=self.name, hints=_page_hints(page),
                tz=self.site.tz, now=self.now,
            )  # fmt: skip
        except Exception as exc:  # the extractor on a hostile page: one page, not the run
            log.exception("%s: extracting %s failed", self.name, page.url)
            result = f"the extractor failed ({exc.__class__.__name__})"
        if isinstance(result, str):
            self.record(replace(page, status="empty", detail=result))
            yield ArticleError(page.url, None, f"no article on the page: {result}", "recorded; it will not be fetched again")  # fmt: skip
            return
        result.source_hash = hashlib.sha256(PARSER_VERSION + response.body).hexdigest()
        self.record(replace(page, status="ok", detail=""))
        yield result
