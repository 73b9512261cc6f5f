"""The steps of a run (collect, feeds, digest) as plain functions over settings and a store.

Both entry points, the CLI and the scheduler, call these; keeping them here means neither entry
point imports the other, and every scheduled job can be run by hand with the same result.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .collect import CollectReport, collect
from .config import Settings
from .delivery import Progress, SendReport, send_pending
from .digest import PlannedEdition, plan_editions
from .feeds import FeedReport, write_feeds
from .mailer import make_transport_factory
from .sources import build_sources
from .store import Store


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
    report = DigestReport(
        planned=plan_editions(settings, store, now or datetime.now(UTC), dry_run=dry_run)
    )
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
    return send_pending(settings, store, choice, stop=stop, progress=progress), choice.description
