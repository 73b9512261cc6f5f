"""What is running in this thread or task, for logs: the job's name (``jobs.recorded`` sets
it, the log formatter reads it). Kept apart, and light, so logging needs none of the jobs."""

from __future__ import annotations

from contextvars import ContextVar

current_job: ContextVar[str] = ContextVar("current_job", default="")
