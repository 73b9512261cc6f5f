"""The daemon's lock: one ``publisher run`` per database.

On PostgreSQL it is a session advisory lock held on a connection kept open for the daemon's
life: when the process dies, its connection closes and the server releases the lock at once,
so a standby (polling for it) takes over within seconds. On SQLite it is an exclusive
``flock`` on a file beside the database, which the kernel releases when the process dies.
``publisher send`` workers take no such lock: leases let any number of them work beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

LOCK_KEY = 0x7075626C69736872  # "publishr": the advisory lock key of the daemon


class DaemonLock:
    """Try to become the one daemon; ``held`` tells whether the lock is still ours."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._conn: Connection | None = None
        self._file: IO[str] | None = None
        database = engine.url.database or ""
        self.path = (
            None
            if self.postgres or database in ("", ":memory:")
            else Path(f"{database}.daemon.lock")
        )

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits."""
        if self.postgres:
            conn = self._conn or self.engine.connect()
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
            )
            conn.commit()
            if got:
                self._conn = conn
            elif self._conn is None:
                conn.close()
            return got
        if self.path is None:
            return True
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def holder(self) -> str:
        """Who holds the lock, in words for the operator."""
        if self.postgres:
            query = text(
                "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted "
                "AND ((l.classid::bigint << 32) | l.objid::bigint) = :k"
            )
            with contextlib.suppress(SQLAlchemyError), self.engine.connect() as conn:
                row = conn.execute(query, {"k": LOCK_KEY}).first()
                if row is not None:
                    return f"a daemon connected from {row.client_addr or 'this host'} since {row.backend_start:%Y-%m-%d %H:%M} (server pid {row.pid})"
            return "another daemon"
        if self.path is not None:
            with contextlib.suppress(OSError):
                pid = self.path.read_text(encoding="utf-8").strip()
                return f"process {pid} (lock file {self.path})"
        return "another daemon"

    def held(self) -> bool:
        """Whether we still hold it: on PostgreSQL, whether our connection is alive."""
        if self.postgres:
            if self._conn is None:
                return False
            try:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
            except SQLAlchemyError:
                return False
            return True
        return self._file is not None or self.path is None

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                self._conn.commit()
            self._conn.close()
            self._conn = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
