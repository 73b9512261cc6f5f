"""How the installation is doing, from the database: ``publisher status``, ``/healthz``,
``/metrics`` all read this one picture, so they can never disagree.

A job is overdue when its last success is older than three times its interval, or it never
succeeded: the daemon is down, stuck, or failing every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from .config import Settings
from .models import SourceState
from .store.jobruns import JobRun

OVERDUE_FACTOR = 3


class StatusStore(Protocol):
    def job_runs(self) -> dict[str, JobRun]: ...

    def article_count(self) -> int: ...

    def subscriber_counts(self) -> dict[str, int]: ...

    def delivery_counts(self, edition_id: int | None = None) -> dict[str, int]: ...

    def attempt_counts_since(self, since: datetime) -> dict[str, int]: ...

    def oldest_waiting_delivery(self) -> datetime | None: ...

    def source_states(self) -> list[SourceState]: ...

    def source_page_counts(self) -> dict[str, dict[str, int]]: ...


@dataclass
class JobStatus:
    job: str
    every_minutes: int
    run: JobRun | None
    next_run: datetime | None
    overdue: bool

    def as_dict(self, now: datetime) -> dict[str, Any]:
        run = self.run
        last_ok = run.last_ok_at if run else None
        return {
            "every_minutes": self.every_minutes,
            "last_run": run.started_at.isoformat(timespec="seconds") if run else None,
            "last_run_seconds": round((run.finished_at - run.started_at).total_seconds(), 1)
            if run
            else None,
            "last_result": run.summary if run else None,
            "last_run_ok": run.ok if run else None,
            "last_success": last_ok.isoformat(timespec="seconds") if last_ok else None,
            "age_seconds": round((now - last_ok).total_seconds()) if last_ok else None,
            "limit_seconds": OVERDUE_FACTOR * self.every_minutes * 60,
            "next_run": self.next_run.isoformat(timespec="seconds") if self.next_run else None,
            "overdue": self.overdue,
        }


@dataclass
class Status:
    now: datetime
    jobs: dict[str, JobStatus]
    articles: int
    subscribers: dict[str, int]
    deliveries: dict[str, int]
    failures_24h: dict[str, int] = field(default_factory=dict)
    oldest_waiting: datetime | None = None
    sources: list[SourceState] = field(default_factory=list)  # feeds and sitemaps polled
    pages: dict[str, dict[str, int]] = field(default_factory=dict)  # sitemap pages by status

    @property
    def overdue(self) -> list[str]:
        return [name for name, job in self.jobs.items() if job.overdue]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.overdue,
            "time": self.now.isoformat(timespec="seconds"),
            "jobs": {name: job.as_dict(self.now) for name, job in self.jobs.items()},
            "articles": self.articles,
            "subscribers": self.subscribers,
            "deliveries": self.deliveries,
            "failures_last_24h": self.failures_24h,
            "oldest_waiting_delivery": self.oldest_waiting.isoformat(timespec="seconds")
            if self.oldest_waiting
            else None,
            "sources": [_source(s, self.pages.get(s.name, {})) for s in self.sources],
        }


def intervals(settings: Settings) -> dict[str, int]:
    """Each daemon job and its interval in minutes (the inbox only when it has a mailbox)."""
    conf = settings.scheduler
    found = {
        "collect": conf.collect_every_minutes,
        "feeds": conf.collect_every_minutes,
        "digest": conf.plan_every_minutes,
        "send": conf.plan_every_minutes,
    }
    if settings.bounces.maildir is not None or settings.bounces.imap_host:
        found["inbox"] = conf.inbox_every_minutes
    return found


def gather(settings: Settings, store: StatusStore, now: datetime | None = None) -> Status:
    moment = now or datetime.now(UTC)
    runs = store.job_runs()
    jobs = {}
    for name, minutes in intervals(settings).items():
        run = runs.get(name)
        last_ok = run.last_ok_at if run else None
        limit = timedelta(minutes=OVERDUE_FACTOR * minutes)
        jobs[name] = JobStatus(
            name,
            minutes,
            run,
            run.started_at + timedelta(minutes=minutes) if run else None,
            last_ok is None or moment - last_ok > limit,
        )
    return Status(
        moment,
        jobs,
        store.article_count(),
        store.subscriber_counts(),
        store.delivery_counts(),
        store.attempt_counts_since(moment - timedelta(days=1)),
        store.oldest_waiting_delivery(),
        store.source_states(),
        store.source_page_counts(),
    )


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _source(state: SourceState, pages: dict[str, int]) -> dict[str, Any]:
    """A polled source as status shows it: when it last worked, and why not since."""
    return {
        "name": state.name,
        "kind": state.kind,
        "url": state.url,
        "last_success": _when(state.last_success_at),
        "last_error": state.last_error or None,
        "failures": state.failures,
        "next_attempt": _when(state.next_attempt_at),
        "pages": pages or None,
    }


def prometheus(status: Status) -> bytes:
    """The same figures in Prometheus' text format, for ``/metrics``."""
    registry = CollectorRegistry()
    success = Gauge(
        "publisher_job_last_success_timestamp_seconds", "Last successful run of each job",
        ["job"], registry=registry,
    )  # fmt: skip
    overdue = Gauge("publisher_job_overdue", "1 when a job is overdue", ["job"], registry=registry)
    for name, job in status.jobs.items():
        last_ok = job.run.last_ok_at if job.run else None
        success.labels(name).set(last_ok.timestamp() if last_ok else 0)
        overdue.labels(name).set(1 if job.overdue else 0)
    Gauge("publisher_articles", "Articles stored", registry=registry).set(status.articles)
    subscribers = Gauge(
        "publisher_subscribers", "Subscribers by status", ["status"], registry=registry
    )
    for state, count in status.subscribers.items():
        subscribers.labels(state).set(count)
    deliveries = Gauge(
        "publisher_deliveries", "Deliveries by status", ["status"], registry=registry
    )
    for state, count in status.deliveries.items():
        deliveries.labels(state).set(count)
    failures = Gauge(
        "publisher_delivery_attempts_24h", "Attempts in the last 24 h by outcome", ["outcome"],
        registry=registry,
    )  # fmt: skip
    for outcome, count in status.failures_24h.items():
        failures.labels(outcome).set(count)
    oldest = status.oldest_waiting
    Gauge(
        "publisher_oldest_waiting_delivery_age_seconds", "Age of the oldest queued delivery",
        registry=registry,
    ).set((status.now - oldest).total_seconds() if oldest else 0)  # fmt: skip
    return bytes(generate_latest(registry))
