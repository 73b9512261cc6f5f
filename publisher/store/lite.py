"""The few queries the most frequent commands need, on a SQLite store, through the standard
library's ``sqlite3``.

``publisher subscribers list`` and a ``publisher collect`` that finds nothing new run through
it (``ondemand.StoreOnDemand``): a command is asked to start within 0.3 s, and a no-change
collect of 10,000 files to finish within 0.5 s, while SQLAlchemy alone takes about a quarter
of a second to import on a small VM. It answers only for a SQLite file already at the newest
schema revision; for anything else (PostgreSQL, a new database, one that needs migrating)
``open`` returns None and the caller opens ``Store``, which creates or migrates it. Rows
become the same dataclasses through the same functions as ``Store``'s (``rows.py``), values
are written as SQLAlchemy writes them, and a test holds each query to ``Store``'s answer.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from typing import Any

from ..errors import StoreError
from ..models import Subscriber
from .revision import script_head
from .rows import JOB_SUMMARY_CHARS, subscriber_from_row
from .sqlitefile import check_sqlite_writable, plain_sqlite_path

# The subscribers columns SQLAlchemy stores as text and hands back as UTC datetimes or dates.
SUBSCRIBER_DATETIMES = frozenset(
    {"created_at", "next_due_at", "confirmed_at", "unsubscribed_at", "updated_at", "consent_at"}
)
SUBSCRIBER_DATES = frozenset({"paused_until"})


def _stored(moment: datetime) -> str:
    """A datetime as SQLAlchemy's ``UTCDateTime`` stores it in SQLite: naive UTC text."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _typed(row: sqlite3.Row) -> dict[str, Any]:
    """A subscribers row with its dates as SQLAlchemy's ``UTCDateTime`` and ``Date`` give them."""
    values = dict(zip(row.keys(), tuple(row), strict=True))
    for name in SUBSCRIBER_DATETIMES:
        if values[name] is not None:
            values[name] = datetime.fromisoformat(values[name]).replace(tzinfo=UTC)
    for name in SUBSCRIBER_DATES:
        if values[name] is not None:
            values[name] = date.fromisoformat(values[name])
    return values


class LiteStore:
    """Queries on a SQLite file at the newest schema, without SQLAlchemy (see the module's doc)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @classmethod
    def open(cls, url: str) -> LiteStore | None:
        """A store on the file ``url`` names, or None when ``Store`` must open it instead
        (which also says, naming the file, what is wrong with one that cannot be written)."""
        path = plain_sqlite_path(url)
        if path is None or not path.is_file():
            return None
        try:
            check_sqlite_writable(path)
        except StoreError:
            return None
        try:
            conn = sqlite3.connect(path, isolation_level=None)  # autocommit: one-row writes
        except sqlite3.Error:
            return None
        try:
            conn.execute("PRAGMA busy_timeout=10000")
            found = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            found = None
        if found is None or found[0] != script_head():
            conn.close()
            return None
        conn.row_factory = sqlite3.Row
        return cls(conn)

    def close(self) -> None:
        self.conn.close()

    def list_subscribers(self, status: str | None = None) -> list[Subscriber]:
        """As ``Store.list_subscribers``: every subscriber (or those of ``status``) by id."""
        if status is None:
            rows = self.conn.execute("SELECT * FROM subscribers ORDER BY id")
        else:
            rows = self.conn.execute(
                "SELECT * FROM subscribers WHERE status = ? ORDER BY id", (status,)
            )
        return [subscriber_from_row(_typed(row)) for row in rows]

    def source_hashes(self) -> dict[str, str]:
        """As ``Store.source_hashes``: article key -> digest of the source file it came from."""
        query = "SELECT key, source_hash FROM articles WHERE source_hash IS NOT NULL"
        return {row[0]: row[1] for row in self.conn.execute(query)}

    def record_job(
        self, job: str, started: datetime, finished: datetime, ok: bool, summary: str
    ) -> None:
        """As ``Store.record_job``: this run of ``job`` replaces the last; a failure keeps
        the last success's time."""
        self.conn.execute(
            "INSERT INTO job_runs (job, started_at, finished_at, ok, summary, last_ok_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job) DO UPDATE SET "
            "started_at = excluded.started_at, finished_at = excluded.finished_at, "
            "ok = excluded.ok, summary = excluded.summary, "
            "last_ok_at = COALESCE(excluded.last_ok_at, job_runs.last_ok_at)",
            (job, _stored(started), _stored(finished), int(ok), summary[:JOB_SUMMARY_CHARS],
             _stored(finished) if ok else None),
        )  # fmt: skip
