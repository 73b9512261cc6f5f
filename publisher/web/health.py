"""``/healthz``: how long ago the daemon last collected, built feeds and sent, and whether
any of those is overdue (older than three times its interval, or never done)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from ..config import Settings
from ..store.jobruns import JobRun

OVERDUE_FACTOR = 3


class HealthStore(Protocol):
    def job_runs(self) -> dict[str, JobRun]: ...


def health(
    settings: Settings, store: HealthStore, now: datetime | None = None
) -> tuple[dict[str, Any], bool]:
    """(the JSON body, whether everything is fresh)."""
    moment = now or datetime.now(UTC)
    runs = store.job_runs()
    intervals = {
        "collect": settings.scheduler.collect_every_minutes,
        "feeds": settings.scheduler.collect_every_minutes,
        "send": settings.scheduler.plan_every_minutes,
    }
    jobs: dict[str, Any] = {}
    healthy = True
    for job, minutes in intervals.items():
        run = runs.get(job)
        last_ok = run.last_ok_at if run else None
        age = (moment - last_ok).total_seconds() if last_ok else None
        fresh = age is not None and age <= OVERDUE_FACTOR * minutes * 60
        healthy &= fresh
        jobs[job] = {
            "last_success": last_ok.isoformat() if last_ok else None,
            "age_seconds": round(age) if age is not None else None,
            "limit_seconds": OVERDUE_FACTOR * minutes * 60,
            "last_result": run.summary if run else None,
            "last_run_ok": run.ok if run else None,
            "ok": fresh,
        }
    return {"ok": healthy, "jobs": jobs}, healthy
