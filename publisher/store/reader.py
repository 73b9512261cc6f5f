"""A read-only look at a SQLite store through the standard library's ``sqlite3``.

``publisher subscribers list`` reads through it because a command is asked to start within
0.3 s and SQLAlchemy alone takes about a quarter of a second to import on a small VM. It
answers only for a SQLite file already at the newest schema revision; for anything else
(PostgreSQL, a new database, one that needs migrating) ``open`` returns None and the caller
opens ``Store``, which creates or migrates it. Rows become the same dataclasses through the
same functions as ``Store``'s (``rows.py``), and a test holds both to the same answers.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ..models import Subscriber
from .revision import script_head
from .rows import subscriber_from_row

# A plain SQLite file URL (what publisher writes and documents); anything fancier, such as
# query options or escapes, goes through SQLAlchemy, which knows every form.
_PLAIN_SQLITE = re.compile(r"sqlite(?:\+pysqlite)?:///([^?%#]+)")
# The subscribers columns SQLAlchemy stores as text and hands back as UTC datetimes or dates.
SUBSCRIBER_DATETIMES = frozenset(
    {"created_at", "next_due_at", "confirmed_at", "unsubscribed_at", "updated_at", "consent_at"}
)
SUBSCRIBER_DATES = frozenset({"paused_until"})


def plain_sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///`` URL; None for every other URL."""
    found = _PLAIN_SQLITE.fullmatch(url)
    if found is None or found.group(1) == ":memory:":
        return None
    return Path(found.group(1))


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


class SQLiteReader:
    """Queries that read, on a SQLite file at the newest schema (see the module's doc)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @classmethod
    def open(cls, url: str) -> SQLiteReader | None:
        """A reader on the file ``url`` names, or None when ``Store`` must open it instead."""
        path = plain_sqlite_path(url)
        if path is None or not path.is_file():
            return None
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
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

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def list_subscribers(self, status: str | None = None) -> list[Subscriber]:
        """As ``Store.list_subscribers``: every subscriber (or those of ``status``) by id."""
        if status is None:
            rows = self.conn.execute("SELECT * FROM subscribers ORDER BY id")
        else:
            rows = self.conn.execute(
                "SELECT * FROM subscribers WHERE status = ? ORDER BY id", (status,)
            )
        return [subscriber_from_row(_typed(row)) for row in rows]
