"""What feed and sitemap sources share: state kept between runs, when a source is due,
backing off from one that fails, and the backfill window.

A polled source reads its state when the collection starts and hands it back to the store
only in ``commit``, which the collector calls after the source's articles are stored: a saved
ETag therefore always stands behind stored articles, never in front of lost ones.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import quote

from ..config import FeedSource, SitemapSource
from ..errors import ArticleError
from ..models import SourcePage, SourceState
from ..store.protocols import SourceStateStore
from . import SiteContext, SourceItem
from .fetch import FetchError, Response, fetch

log = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(minutes=5)
BACKOFF_MAX = timedelta(hours=6)
RETRY_AFTER_MAX = timedelta(hours=24)
# The tag: id built from a key must fit its column (600): long guids are hashed instead.
MAX_QUOTED_KEY = 400


def item_key(source: str, ident: str) -> str:
    """``<source>:<guid or URL>``, stable across runs; a very long one becomes a hash."""
    key = f"{source}:{ident}"
    if len(quote(key, safe="/:._-~")) <= MAX_QUOTED_KEY:
        return key
    return f"{source}:sha256:{hashlib.sha256(ident.encode('utf-8')).hexdigest()}"


def _body_hash(response: Response) -> str:
    return hashlib.sha256(response.body).hexdigest()


def backoff(failures: int, every_minutes: int | None, retry_after: float | None) -> timedelta:
    """How long to leave a source alone after ``failures`` failed polls in a row: 5 min,
    doubling to 6 h; never sooner than its own interval or than the server asked."""
    delay: timedelta = min(BACKOFF_FIRST * 2 ** min(failures - 1, 16), BACKOFF_MAX)
    if every_minutes:
        delay = max(delay, timedelta(minutes=every_minutes))
    if retry_after is not None:
        delay = max(delay, min(timedelta(seconds=retry_after), RETRY_AFTER_MAX))
    return delay


class Polled:
    """The part of a feed or sitemap source that deals with its state; subclasses fetch."""

    kind = ""
    accept = "*/*"

    def __init__(
        self,
        conf: FeedSource | SitemapSource,
        state: SourceState | None,
        store: SourceStateStore,
        site: SiteContext,
        now: datetime,
        user_agent: str,
    ) -> None:
        self.name = conf.name
        self.conf = conf
        self.store = store
        self.site = site
        self.now = now
        self.user_agent = conf.user_agent or user_agent
        if state is None or state.configured_url != conf.url or state.kind != self.kind:
            # New, or pointed elsewhere in the config: forget validators and redirects.
            since = state.since if state is not None and state.kind == self.kind else None
            state = SourceState(conf.name, self.kind, conf.url, conf.url, since=since)
        self.state = state
        self.first_poll = state.since is None
        self.due = self._due(now)
        self.pages: dict[str, SourcePage] = {}  # recorded in commit, after the articles
        self.polled = False  # whether this run touched the source (and its state is saved)
        self.answer: Response | ArticleError | None = None  # this run's poll, by ``prepare``

    def _due(self, now: datetime) -> bool:
        """A failing source waits out its backoff; a healthy one its ``every_minutes``, read
        from the config each run (so a changed interval applies at once)."""
        state = self.state
        if state.failures:
            return state.next_attempt_at is None or state.next_attempt_at <= now
        every = self.conf.every_minutes
        last = state.last_attempt_at
        return every is None or last is None or last + timedelta(minutes=every) <= now

    @property
    def since(self) -> datetime:
        """Items dated before this are not taken (fixed at the first successful poll)."""
        return self.state.since or self.now - timedelta(days=self.conf.backfill_days)

    def get(self, url: str, *, conditional: bool = False, accept: str = "") -> Response:
        """GET with this source's agent, timeout and size cap (FetchError on failure)."""
        return fetch(
            url,
            user_agent=self.user_agent,
            timeout=self.conf.timeout,
            max_bytes=self.conf.max_bytes,
            etag=self.state.etag if conditional else "",
            last_modified=self.state.last_modified if conditional else "",
            accept=accept or self.accept,
        )

    def poll(self) -> Response | ArticleError | None:
        """Fetch the source's own URL, conditionally: None when not due; an error, recorded."""
        if not self.due:
            log.debug("%s: not due until %s", self.name, self.state.next_attempt_at)
            return None
        self.polled = True
        self.state = replace(self.state, last_attempt_at=self.now)
        try:
            return self.get(self.state.url, conditional=True)
        except FetchError as exc:
            return self.fail(exc.reason, exc.retry_after, where=exc.url)
        except Exception as exc:  # a surprise from the network stack: this source, not the run
            log.exception("%s: fetching %s failed unexpectedly", self.name, self.state.url)
            return self.fail(f"unexpected error: {exc.__class__.__name__}: {exc}")

    def succeed(self, response: Response) -> None:
        """Remember the answer's validators and a permanent move; clear the failure count."""
        state = self.state
        moved = response.moved_to
        if moved:
            log.warning("%s: %s moved permanently to %s; using the new URL", self.name, state.url, moved)  # fmt: skip
        fresh = response.status == 200  # a 304 keeps the validators it answered
        self.state = replace(
            state,
            etag=response.etag if fresh else state.etag,
            last_modified=response.last_modified if fresh else state.last_modified,
            body_hash=_body_hash(response) if fresh else state.body_hash,
            url=moved or state.url,
            since=self.since,
            last_success_at=self.now,
            last_error="",
            failures=0,
            next_attempt_at=(
                self.now + timedelta(minutes=self.conf.every_minutes)
                if self.conf.every_minutes
                else None
            ),
        )

    def same_as_last_time(self, response: Response) -> bool:
        """Whether ``response`` is a 304, or a 200 repeating the bytes read last time (many
        servers ignore validators): then there is nothing new to read."""
        return response.status == 304 or _body_hash(response) == self.state.body_hash

    def fail(self, reason: str, retry_after: float | None = None, where: str = "") -> ArticleError:
        """Record a failed poll and when to try again; the error to report for it."""
        failures = self.state.failures + 1
        wait = backoff(failures, self.conf.every_minutes, retry_after)
        self.state = replace(
            self.state,
            last_error=reason[:1000],
            last_error_at=self.now,
            failures=failures,
            next_attempt_at=self.now + wait,
        )
        minutes = wait.total_seconds() / 60
        return ArticleError(
            where or self.state.url,
            None,
            f"{self.kind} source {self.name!r}: {reason}",
            f"failed {failures} time(s) in a row; next attempt in {minutes:.0f} min",
        )

    def record(self, page: SourcePage) -> None:
        self.pages[page.url] = page

    def prepare(self) -> None:
        """Poll before ``items`` (the collector prepares several sources at once)."""
        self.answer = self.poll()

    def items(self, known: Mapping[str, str]) -> Iterator[SourceItem]:
        """The poll's failure, nothing when the source was not due, else what ``read`` makes
        of the answer."""
        if isinstance(self.answer, ArticleError):
            yield self.answer
        elif self.answer is not None:
            yield from self.read(self.answer, known)

    def read(self, answer: Response, known: Mapping[str, str]) -> Iterator[SourceItem]:
        """The items of a successful poll's answer (a feed's entries, a sitemap's pages)."""
        raise NotImplementedError

    def commit(self) -> None:
        """Save what this run learnt; called by the collector after the articles are stored."""
        if self.pages:
            self.store.save_source_pages(self.name, list(self.pages.values()))
            self.pages = {}
        if self.polled:
            self.store.save_source_state(self.state)
