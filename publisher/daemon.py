"""APScheduler 3.x wiring, nothing else: the database is the truth, the scheduler a clock.

Interval jobs, each run once at start (a daemon that was down catches up at once):
- collect every ``scheduler.collect_every_minutes``, then rebuild the feeds;
- every ``scheduler.plan_every_minutes``, plan the digests of subscribers who are due now
  (each at their own local hour, zone and frequency; see ``schedule.py``) and send what is
  queued, retries whose backoff has passed included. Who is due is decided from
  ``next_due_at`` in the database, so missed ticks, restarts and downtime never skip or
  repeat a digest;
- when a ``[bounces]`` mailbox is configured, every ``scheduler.inbox_every_minutes`` read it:
  bounces are applied and ``mailto:`` unsubscribes honoured.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .config import Settings
from .jobs import run_collect, run_digest, run_feeds, run_inbox
from .store import Store

log = logging.getLogger(__name__)


def _guarded(name: str, job: Callable[[], None]) -> Callable[[], None]:
    """A job that logs its failure instead of dying: the next tick tries again."""

    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("%s failed; will try again at its next run", name)

    return run


def build_scheduler(
    settings: Settings, store: Store, stop: threading.Event | None = None
) -> BlockingScheduler:
    """The daemon's two jobs; ``stop`` lets a send in progress finish its in-flight messages
    and release its claims when the daemon is told to stop."""
    scheduler = BlockingScheduler(timezone=settings.site.tz)

    def collect_and_feeds() -> None:
        report = run_collect(settings, store)
        log.info(
            "collected: %d added, %d updated, %d skipped",
            report.added, report.updated, len(report.errors),
        )  # fmt: skip
        run_feeds(settings, store)

    def digest() -> None:
        report = run_digest(settings, store, stop=stop, retry_now=False)
        if report.planned or report.sent.sent or report.sent.retry or report.sent.failed:
            log.info(
                "digest: %d editions planned; %d sent, %d to retry, %d failed",
                len(report.planned), report.sent.sent, report.sent.retry, report.sent.failed,
            )  # fmt: skip

    now = datetime.now(UTC)
    scheduler.add_job(
        _guarded("collect", collect_and_feeds),
        IntervalTrigger(minutes=settings.scheduler.collect_every_minutes),
        id="collect",
        next_run_time=now,
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        _guarded("digest", digest),
        IntervalTrigger(minutes=settings.scheduler.plan_every_minutes),
        id="digest",
        # After the first collection, so a catch-up digest has the newest articles.
        next_run_time=now + timedelta(seconds=5),
        coalesce=True,
        max_instances=1,
    )
    bounces = settings.bounces
    if bounces.maildir is not None or bounces.imap_host:

        def inbox() -> None:
            report = run_inbox(settings, store)
            if report.read:
                log.info(
                    "inbox: %d read, %d bounced, %d unsubscribed by mail",
                    report.read, report.bounced, len(report.handled),
                )  # fmt: skip

        scheduler.add_job(
            _guarded("inbox", inbox),
            IntervalTrigger(minutes=settings.scheduler.inbox_every_minutes),
            id="inbox",
            next_run_time=now + timedelta(seconds=2),
            coalesce=True,
            max_instances=1,
        )
    return scheduler


def run_daemon(settings: Settings, store: Store) -> None:
    """Run until Ctrl-C or SIGTERM; a job in progress finishes first."""
    stopping = threading.Event()
    scheduler = build_scheduler(settings, store, stopping)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping after running jobs finish", signal.Signals(signum).name)
        stopping.set()  # a send in progress finishes in-flight messages and releases the rest
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "publisher daemon started; collect every %d min, digests planned every %d min",
        settings.scheduler.collect_every_minutes, settings.scheduler.plan_every_minutes,
    )  # fmt: skip
    scheduler.start()
    log.info("publisher daemon stopped")
