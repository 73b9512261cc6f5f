"""The steps of a run (collect, feeds, digest) as plain functions over settings and a store.

Both entry points, the CLI and the scheduler, call these; keeping them here means neither entry
point imports the other, and every scheduled job can be run by hand with the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from .collect import CollectReport, collect
from .config import Settings
from .delivery import SendReport, send_pending
from .digest import PlannedEdition, plan_editions
from .feeds import FeedReport, write_feeds
from .mailer import make_transport
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
    settings: Settings, store: Store, *, dry_run: bool = False, now: datetime | None = None
) -> DigestReport:
    """Queue what is owed, then send everything queued (including leftovers of earlier runs)."""
    report = DigestReport(
        planned=plan_editions(settings, store, now or datetime.now(UTC), dry_run=dry_run)
    )
    if dry_run:
        return report
    transport = make_transport(settings)
    report.transport = transport.description
    try:
        report.sent = send_pending(settings, store, transport)
    finally:
        transport.close()
    return report
