"""APScheduler 3.x wiring, nothing else: the database is the truth, the scheduler a clock.

Collection (followed by a feed rebuild) runs every ``scheduler.collect_every_minutes`` and at
start; the digest runs daily at ``digest.send_time`` in the site's zone, and once at start if
today's send time has passed with no edition cut since (a daemon that was down catches up).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .config import Settings
from .jobs import run_collect, run_digest, run_feeds
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


def digest_missed(settings: Settings, store: Store, now: datetime) -> bool:
    """True when today's send time has passed and no edition was cut since."""
    hour, minute = settings.digest.send_hour_minute
    local_now = now.astimezone(settings.site.tz)
    due = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if due > local_now:
        due -= timedelta(days=1)
    last = store.last_edition_cut_at()
    return last is None or last < due


def build_scheduler(settings: Settings, store: Store) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=settings.site.tz)

    def collect_and_feeds() -> None:
        report = run_collect(settings, store)
        log.info(
            "collected: %d added, %d updated, %d skipped",
            report.added,
            report.updated,
            len(report.errors),
        )
        run_feeds(settings, store)

    def digest() -> None:
        report = run_digest(settings, store)
        log.info(
            "digest: %d sent, %d to retry, %d failed",
            report.sent.sent,
            report.sent.retry,
            report.sent.failed,
        )

    now = datetime.now(UTC)
    scheduler.add_job(
        _guarded("collect", collect_and_feeds),
        IntervalTrigger(minutes=settings.scheduler.collect_every_minutes),
        id="collect",
        next_run_time=now,
        coalesce=True,
        max_instances=1,
    )
    hour, minute = settings.digest.send_hour_minute
    scheduler.add_job(
        _guarded("digest", digest),
        CronTrigger(hour=hour, minute=minute, timezone=settings.site.tz),
        id="digest",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3600,
    )
    if digest_missed(settings, store, now):
        # After collection, so the catch-up digest has today's articles.
        scheduler.add_job(
            _guarded("digest catch-up", digest),
            id="digest-catch-up",
            next_run_time=now + timedelta(seconds=5),
        )
    return scheduler


def run_daemon(settings: Settings, store: Store) -> None:
    """Run until Ctrl-C or SIGTERM; a job in progress finishes first."""
    scheduler = build_scheduler(settings, store)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping after running jobs finish", signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("publisher daemon started; collect every %d min, digest at %s %s",
             settings.scheduler.collect_every_minutes, settings.digest.send_time, settings.site.timezone)  # fmt: skip
    scheduler.start()
    log.info("publisher daemon stopped")
