"""Article sources: each kind turns some outside material into ``Article`` objects.

A source never raises for one bad item: it yields an ``ArticleError`` in its place, so the
collector can report it (which, where, why) and carry on with the rest. Three kinds: a folder
of files (``files.py``), an upstream feed (``feed.py``) and a sitemap of article pages
(``sitemap.py``); the last two poll over HTTP (``fetch.py``) and keep state between runs
(``polled.py``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from ..errors import ArticleError
from ..models import Article, Unchanged

if TYPE_CHECKING:  # the store's protocols import SQLAlchemy; a folder of files needs none
    from ..config import Settings
    from ..store.protocols import SourceStateStore

SourceItem = Article | ArticleError | Unchanged

# Sources whose network work (`prepare`) runs at once: 200 feeds are polled in the time of
# about 25 round trips, while a slow feed holds up only its own worker.
PREPARE_WORKERS = 8


@dataclass(frozen=True)
class SiteContext:
    """What a source needs to know about the site: absolute links and the newsroom's zone."""

    url: str
    tz: ZoneInfo


class Source(Protocol):
    """Anything that yields articles (or the error that stood in for one).

    ``known`` maps article keys to the source digest stored with them; a source that can tell
    an item is byte-for-byte unchanged yields ``Unchanged`` instead of parsing it again.
    """

    name: str

    def items(self, known: Mapping[str, str]) -> Iterator[SourceItem]: ...


@runtime_checkable
class PolledSource(Source, Protocol):
    """A source that fetches before it yields and remembers what it learnt.

    ``prepare`` does the network work and never raises (a failure becomes an item);
    ``commit`` saves the source's state and is called only once its articles are stored.
    """

    def prepare(self) -> None: ...

    def commit(self) -> None: ...


def prepared(sources: Iterable[Source], workers: int = PREPARE_WORKERS) -> Iterator[Source]:
    """``sources`` in order, each polled source's ``prepare`` already run.

    Up to ``workers`` prepare at once, at most that many ahead of the one being consumed,
    so memory stays bounded however many feeds are configured.
    """
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prepare") as pool:
        ahead: deque[tuple[Source, Future[None] | None]] = deque()
        pending = iter(sources)

        def submit_next() -> None:
            source = next(pending, None)
            if source is not None:
                job = pool.submit(source.prepare) if isinstance(source, PolledSource) else None
                ahead.append((source, job))

        for _ in range(workers):
            submit_next()
        while ahead:
            source, job = ahead.popleft()
            if job is not None:
                job.result()
            submit_next()
            yield source


def default_user_agent(site_url: str) -> str:
    """Who is asking, as polite crawlers say: the program, its version and the site."""
    from importlib.metadata import PackageNotFoundError, version  # scans site-packages: lazy

    try:
        release = version("publisher")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
        release = "0"
    return f"publisher/{release} (+{site_url})"


def build_sources(
    settings: Settings, state: SourceStateStore, now: datetime | None = None
) -> list[Source]:
    """One Source per enabled ``[[sources]]`` table, in config order.

    Polled sources get the state the store kept for them and ``now``, the moment this run
    starts (due times and backfill windows are measured from it).
    """
    from ..config import FeedSource, FilesSource, SitemapSource  # not in parsing workers
    from .files import FilesystemSource

    site = SiteContext(settings.site.url, settings.site.tz)
    moment = now or datetime.now(UTC)
    polled = any(not isinstance(conf, FilesSource) for conf in settings.sources)
    agent = default_user_agent(settings.site.url) if polled else ""
    states = {s.name: s for s in state.source_states()} if polled else {}
    built: list[Source] = []
    for conf in settings.sources:
        if not conf.enabled:
            continue
        if isinstance(conf, FilesSource):
            path = settings.path(conf.path)
            built.append(FilesystemSource(conf.name, path, site, conf.max_bytes, conf.processes))
        elif isinstance(conf, FeedSource):  # the HTTP and XML stack loads only when needed
            from .feed import FeedPoller

            built.append(FeedPoller(conf, states.get(conf.name), state, site, moment, agent))
        elif isinstance(conf, SitemapSource):
            from .sitemap import SitemapCrawler

            built.append(SitemapCrawler(conf, states.get(conf.name), state, site, moment, agent))
    return built
