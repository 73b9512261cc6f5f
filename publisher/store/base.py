"""The engine, its SQLite settings, and Alembic migrations: what every query module stands on."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from ..errors import StoreError
from .lock import DaemonLock

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def now_utc() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    """WAL lets the web app read while the daemon writes; foreign keys keep rows honest."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created and WAL switched on."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, future=True)
    except ImportError as exc:  # the driver is an extra: publisher[postgres] brings psycopg
        raise StoreError(
            f"no database driver for {url.split(':', 1)[0]!r}: {exc}",
            "for PostgreSQL install publisher[postgres] (pip install 'publisher[postgres]')",
        ) from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot use database URL {url!r}: {exc}", "check [database] url") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class StoreBase:
    """Owns the engine; brings the schema up to date with Alembic on open."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate:
            self.migrate()

    def close(self) -> None:
        self.engine.dispose()

    def daemon_lock(self) -> DaemonLock:
        """The lock that keeps one ``publisher run`` per database (see ``lock.py``)."""
        return DaemonLock(self.engine)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------
    def migrate(self, revision: str = "head", *, downgrade: bool = False) -> None:
        """Bring the schema up (or, with ``downgrade``, down) to ``revision`` with Alembic."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                (command.downgrade if downgrade else command.upgrade)(cfg, revision)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot open or migrate the database at {self.url}: {exc.__class__.__name__}: {exc}",
                "check [database] url and that the server or file is reachable and writable",
            ) from exc
