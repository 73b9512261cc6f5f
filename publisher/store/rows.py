"""Rows into dataclasses and values into rows, shared by ``Store`` and the standard-library
store (``lite.py``), so both answer with the same objects and write the same values."""

from __future__ import annotations

import functools
import json
from typing import Any, Protocol

from ..models import Subscriber

# A job run's summary is kept to this many characters (job_runs.summary): a report, not a log.
JOB_SUMMARY_CHARS = 2000


class Row(Protocol):
    """A row read by column name: SQLAlchemy's ``RowMapping`` or a plain dict."""

    def __getitem__(self, key: str, /) -> Any: ...


@functools.lru_cache(maxsize=4096)
def _sections(raw: str | None) -> tuple[str, ...] | None:
    """Parsed once per distinct value: 100,000 subscribers share a few dozen section lists."""
    if raw is None:
        return None
    try:
        loaded = json.loads(raw)
    except ValueError:
        return None  # a broken value means "every section", never a crash
    return tuple(str(s) for s in loaded) if isinstance(loaded, list) else None


def subscriber_from_row(row: Row) -> Subscriber:
    """A subscriber from a row of ``subscribers`` (SQLAlchemy's or ``lite.py``'s)."""
    parsed = _sections(row["sections"])
    return Subscriber(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        status=row["status"],
        created_at=row["created_at"],
        last_article_id=row["last_article_id"],
        timezone=row["timezone"],
        send_hour=row["send_hour"],
        frequency=row["frequency"],
        weekday=row["weekday"],
        sections=list(parsed) if parsed is not None else None,
        next_due_at=row["next_due_at"],
        bounce_count=row["bounce_count"],
        consent_at=row["consent_at"],
        consent_method=row["consent_method"],
        consent_ip=row["consent_ip"],
        confirmed_at=row["confirmed_at"],
        unsubscribed_at=row["unsubscribed_at"],
        unsubscribed_via=row["unsubscribed_via"],
        paused_until=row["paused_until"],
    )
