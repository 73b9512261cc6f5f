"""The last run of each job (collect, feeds, plan, send, inbox), for health checks and status.

One row per job, overwritten by each run: when it started and finished, whether it worked,
a one-line summary, and when it last worked (kept across failed runs, so "last success" is
never lost to a string of failures).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update

from .base import dialect_insert
from .rows import JOB_SUMMARY_CHARS
from .schema import job_runs


@dataclass(frozen=True)
class JobRun:
    job: str
    started_at: datetime
    finished_at: datetime
    ok: bool
    summary: str
    last_ok_at: datetime | None


class JobRunQueries:
    engine: Engine

    def record_job(
        self, job: str, started: datetime, finished: datetime, ok: bool, summary: str
    ) -> None:
        values: dict[str, object] = {
            "started_at": started,
            "finished_at": finished,
            "ok": ok,
            "summary": summary[:JOB_SUMMARY_CHARS],
        }
        if ok:
            values["last_ok_at"] = finished  # a failure keeps the last success as it was
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(job_runs).where(job_runs.c.job == job).values(**values)
            ).rowcount
            if not changed:
                conn.execute(
                    dialect_insert(conn)(job_runs)
                    .values(job=job, **values)
                    .on_conflict_do_nothing()
                )

    def job_runs(self) -> dict[str, JobRun]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(job_runs)).mappings()
            return {
                r["job"]: JobRun(
                    r["job"],
                    r["started_at"],
                    r["finished_at"],
                    bool(r["ok"]),
                    r["summary"],
                    r["last_ok_at"],
                )
                for r in rows
            }
