"""The daemon: APScheduler as a clock over the jobs in ``jobs.py``, one per database.

The database is the truth; the scheduler only says when. Interval jobs, each run once at
start (a daemon that was down catches up at once):
- collect every ``scheduler.collect_every_minutes``, then rebuild the feeds;
- every ``scheduler.plan_every_minutes``, plan the digests of subscribers who are due now
  (each at their own local hour, zone and frequency; see ``digest/schedule.py``) and send
  what is queued, retries whose backoff has passed included. Who is due is decided from
  ``next_due_at`` in the database, so missed ticks, restarts and downtime never skip or
  repeat a digest;
- when a ``[bounces]`` mailbox is configured, every ``scheduler.inbox_every_minutes`` read it:
  bounces are applied and ``mailto:`` unsubscribes honoured.

Only one daemon runs per database (``store/lock.py``); on PostgreSQL a ``--standby`` node
waits for the lock and takes over within seconds of the leader's death. Each job logs one
line with its figures (``jobs.recorded``); a failed run is logged and tried again at its
next tick.
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
from .errors import PublisherError
from .jobs import run_collect, run_digest, run_feeds, run_inbox
from .store import Store
from .store.lock import DaemonLock

log = logging.getLogger(__name__)
STANDBY_POLL_SECONDS = 2.0
LOCK_CHECK_SECONDS = 15


def _guarded(name: str, job: Callable[[], None]) -> Callable[[], None]:
    """A job that reports its failure instead of dying: the next tick tries again."""

    def run() -> None:
        try:
            job()
        except PublisherError as exc:  # already logged by the job with its message
            log.warning("%s will run again at its next tick (%s)", name, exc.hint or "see above")
        except Exception:
            log.exception("%s failed unexpectedly; it will run again at its next tick", name)

    run.__name__ = name  # APScheduler names jobs after their function
    return run


def build_scheduler(
    settings: Settings, store: Store, stop: threading.Event | None = None
) -> BlockingScheduler:
    """The daemon's jobs; ``stop`` lets a send in progress finish its in-flight messages and
    release its claims when the daemon is told to stop."""
    scheduler = BlockingScheduler(timezone=settings.site.tz)
    conf = settings.scheduler

    def collect_and_feeds() -> None:
        run_collect(settings, store)
        run_feeds(settings, store)

    def digest() -> None:
        run_digest(settings, store, stop=stop, retry_now=False)

    def inbox() -> None:
        run_inbox(settings, store)

    now = datetime.now(UTC)
    jobs: list[tuple[str, Callable[[], None], int, int]] = [
        ("collect", collect_and_feeds, conf.collect_every_minutes, 0),
        # After the first collection, so a catch-up digest has the newest articles.
        ("digest", digest, conf.plan_every_minutes, 5),
    ]
    if settings.bounces.maildir is not None or settings.bounces.imap_host:
        jobs.append(("inbox", inbox, conf.inbox_every_minutes, 2))
    for name, job, minutes, delay in jobs:
        scheduler.add_job(
            _guarded(name, job),
            IntervalTrigger(minutes=minutes),
            id=name,
            name=name,
            next_run_time=now + timedelta(seconds=delay),
            coalesce=True,
            max_instances=1,
        )
    return scheduler


def _take_lock(lock: DaemonLock, standby: bool, stopping: threading.Event) -> bool:
    """Become the daemon, or (standby) wait until the leader is gone; False if told to stop."""
    if lock.acquire():
        return True
    if not standby:
        raise PublisherError(
            f"another publisher daemon is already running on this database: {lock.holder()}",
            "stop it first; on PostgreSQL a second node can wait as `publisher run --standby`",
        )
    log.info("standby: %s leads; taking over when it stops", lock.holder())
    while not stopping.wait(STANDBY_POLL_SECONDS):
        if lock.acquire():
            log.info("standby: the leader is gone; taking over")
            return True
    return False


def run_daemon(settings: Settings, store: Store, *, standby: bool = False) -> None:
    """Run until Ctrl-C or SIGTERM; a job in progress finishes first."""
    lock = store.daemon_lock()
    if standby and not lock.postgres:
        raise PublisherError(
            "--standby needs PostgreSQL: on SQLite one machine runs one daemon",
            "set [database] url to a PostgreSQL URL, or start without --standby",
        )
    stopping = threading.Event()
    scheduler: BlockingScheduler | None = None

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping after running jobs finish", signal.Signals(signum).name)
        stopping.set()  # a send in progress finishes in-flight messages and releases the rest
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not _take_lock(lock, standby, stopping):
        log.info("publisher daemon stopped (was standby)")
        return
    try:
        scheduler = build_scheduler(settings, store, stopping)

        def check_lock() -> None:
            if not lock.held():  # our lock connection died: another node may lead now
                log.error("lost the daemon lock (database connection gone); stopping")
                stopping.set()
                if scheduler is not None:
                    scheduler.shutdown(wait=False)

        scheduler.add_job(
            check_lock, IntervalTrigger(seconds=LOCK_CHECK_SECONDS), id="lock", name="lock"
        )
        log.info(
            "publisher daemon started: collect every %d min, digests every %d min",
            settings.scheduler.collect_every_minutes, settings.scheduler.plan_every_minutes,
        )  # fmt: skip
        if not stopping.is_set():
            scheduler.start()
    finally:
        lock.release()
    log.info("publisher daemon stopped")
