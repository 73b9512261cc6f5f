"""The steps of a run (collect, feeds, plan, archive, send, bounces) as plain functions.

Both entry points, the CLI and the daemon, call these; keeping them here means neither entry
point imports the other, and every scheduled job can be run by hand with the same result.
This is also the one place where steps are joined: planning does not archive and the queue
does not render; each step is called here, explicitly, with what it needs handed in.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .collect import CollectReport, collect
from .config import Settings
from .digest.archive import ArchiveReport, write_archive
from .digest.compose import DigestComposer, make_renderer
from .digest.plan import PlannedEdition, plan_editions
from .errors import PublisherError
from .feeds import FeedReport, write_feeds
from .mail.bounces import BounceReport, process_bounces
from .mail.queue import Progress, SendReport, send_pending
from .mail.transports import make_transport_factory
from .sources import build_sources
from .store import Store

log = logging.getLogger(__name__)


@dataclass
class DigestReport:
    """Planning and sending together, for one ``digest send``."""

    planned: list[PlannedEdition] = field(default_factory=list)
    sent: SendReport = field(default_factory=SendReport)
    transport: str = ""


def open_store(settings: Settings) -> Store:
    return Store(settings.database_url)


def run_collect(settings: Settings, store: Store) -> CollectReport:
    return collect(build_sources(settings), store, settings.site.domain)


def run_feeds(settings: Settings, store: Store) -> FeedReport:
    return write_feeds(settings, store)


def run_plan(
    settings: Settings, store: Store, now: datetime | None = None, *, dry_run: bool = False
) -> list[PlannedEdition]:
    """Queue every due subscriber's digest, then archive: the editions just queued and any
    whose page an earlier run failed to write."""
    planned = plan_editions(settings, store, now or datetime.now(UTC), dry_run=dry_run)
    if not dry_run:
        run_archive(settings, store)
    return planned


def run_archive(settings: Settings, store: Store) -> ArchiveReport:
    """Write every missing archive page, the index and feeds (idempotent). A failure is logged,
    not raised: the queued deliveries stand, and the next run writes what is still missing."""
    try:
        return write_archive(settings, store, make_renderer(settings))
    except (PublisherError, OSError) as exc:
        log.warning("archive not updated: %s (tried again next run)", exc)
        return ArchiveReport(failed=[str(exc)])


def run_digest(
    settings: Settings,
    store: Store,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    stop: threading.Event | None = None,
    retry_now: bool = True,
) -> DigestReport:
    """Queue what is owed, then send everything queued (including leftovers of earlier runs).

    By hand (``digest send``, ``run --once``) deliveries waiting for a retry are tried again
    now, whatever their backoff: that is the moment the operator wants mail out. The daemon,
    which comes back every few minutes, passes ``retry_now=False`` and honours the backoff.
    """
    report = DigestReport(planned=run_plan(settings, store, now, dry_run=dry_run))
    if dry_run:
        return report
    report.sent, report.transport = run_send(settings, store, stop=stop, retry_now=retry_now)
    return report


def run_send(
    settings: Settings,
    store: Store,
    *,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    retry_now: bool = False,
) -> tuple[SendReport, str]:
    """Drain every due delivery over the configured transport; returns the report and its name."""
    if retry_now:
        store.make_retries_due()
    choice = make_transport_factory(settings)
    builder = DigestComposer(settings, store, make_renderer(settings))
    report = send_pending(settings.delivery, store, choice, builder, stop=stop, progress=progress)
    return report, choice.description


def run_bounces(settings: Settings, store: Store) -> BounceReport:
    return process_bounces(settings, store)
