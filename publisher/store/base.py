"""The engine, its SQLite settings, and Alembic migrations: what every query module stands on.

Every URL shown in an error passes ``urls.hide_password``: the database URL often carries one.
A SQLite file that cannot be written is refused *before* SQLite opens it, naming the file: once
SQLite has opened a read-only database in WAL mode it leaves a read-only ``-shm`` side file
behind, and that file keeps every later write failing even after the database itself is fixed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from ..errors import StoreError
from ..urls import hide_password, scrub
from .lock import DaemonLock
from .revision import MIGRATIONS, script_head
from .sqlitefile import check_sqlite_writable

log = logging.getLogger(__name__)


T = TypeVar("T")

# Values per IN (...) list, or rows per multi-row statement: well inside SQLite's and
# PostgreSQL's parameter limits.
IN_LIST = 500


def chunks(items: list[T], size: int = IN_LIST) -> Iterator[list[T]]:
    """``items`` in slices of at most ``size``: one statement each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# On PostgreSQL, collectors (and feed runs claiming what is left) take turns per batch, so two
# never hand out one link or one feed second.
COLLECT_LOCK = 0x7075626C696E6B73  # "publinks"


def take_collect_lock(conn: Connection) -> None:
    """Wait for ``COLLECT_LOCK`` until this transaction ends (PostgreSQL; SQLite's single
    writer already takes turns)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": COLLECT_LOCK})


def dialect_insert(conn: Connection) -> Any:
    """The connection's own INSERT, the one with ``on_conflict_do_nothing``/``..._update``.

    Imported when first needed: PostgreSQL's dialect package pulls in asyncio, which every
    command would otherwise pay for at start.
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def now_utc() -> datetime:
    return datetime.now(UTC)


# PostgreSQL's "deadlock detected" and "could not serialize access": the transaction was
# rolled back as a whole and may simply be run again.
TRANSIENT_SQLSTATES = {"40P01", "40001"}


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` means "run the same transaction again" rather than "something is wrong".

    PostgreSQL deadlocks and serialisation failures, and SQLite's "database is locked" after its
    busy timeout (another process held the write lock that long), are; nothing else is.
    """
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in TRANSIENT_SQLSTATES:
        return True
    return "database is locked" in str(orig)


# SQLite has one writer at a time, and a writer that finds the file locked sleeps in steps of
# milliseconds (busy_timeout). Our own threads therefore take turns here instead: it costs
# nothing (they would wait anyway) and avoids those sleeps. PostgreSQL needs no turns.
_SQLITE_WRITES = threading.Lock()
TRANSIENT_TRIES = 8  # a deadlock victim runs its transaction again, up to this many times


def write_transaction(
    engine: Engine, work: Callable[[Connection], T], held: Connection | None = None
) -> T:
    """Run ``work`` in one write transaction and return what it returns.

    Our threads take turns on SQLite (see ``_SQLITE_WRITES``). ``held`` is a connection the
    caller keeps open (the group committer's): it saves a pool checkout per commit. A
    transaction the database rolled back as a deadlock victim or for serialisation
    (``is_transient``) is run again after a short pause, up to ``TRANSIENT_TRIES`` times.
    """
    turn = _SQLITE_WRITES if engine.dialect.name == "sqlite" else nullcontext()
    for attempt in range(1, TRANSIENT_TRIES + 1):
        try:
            with turn:
                if held is None:
                    with engine.begin() as conn:
                        return work(conn)
                with held.begin():
                    return work(held)
        except DBAPIError as exc:
            if attempt == TRANSIENT_TRIES or not is_transient(exc):
                raise
            log.info("write rolled back (%s), running it again", exc.orig.__class__.__name__)
            time.sleep(0.01 * attempt)
    raise AssertionError("unreachable")


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    """WAL lets the web app read while the daemon writes; foreign keys keep rows honest."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


# SQLite's side files: the write-ahead log, its shared-memory index, the rollback journal.
def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL names; None for other databases and in-memory ones."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, a writability check and WAL."""
    shown = hide_password(url)
    if (path := sqlite_path(url)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        check_sqlite_writable(path)
    try:
        engine = create_engine(url, future=True)
    except ImportError as exc:  # the driver is an extra: publisher[postgres] brings psycopg
        raise StoreError(
            f"no database driver for {shown.split(':', 1)[0]!r}: {exc}",
            "for PostgreSQL install publisher[postgres] (pip install 'publisher[postgres]')",
        ) from exc
    except (ArgumentError, ValueError) as exc:  # its message may quote the URL, password and all
        raise StoreError(f"cannot parse the database URL {shown}", "check [database] url") from exc
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot use the database URL {shown}: {scrub(str(exc), url)}", "check [database] url"
        ) from exc
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
    def _revision(self) -> str | None:
        """The revision the database is at; None when it has none yet (or cannot say)."""
        try:
            with self.engine.connect() as conn:
                found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:
            return None  # a new database, or one that cannot be read: migrate() says why
        return str(found) if found else None

    def migrate(self, revision: str = "head", *, downgrade: bool = False) -> None:
        """Bring the schema up (or, with ``downgrade``, down) to ``revision`` with Alembic.

        Every command opens the store, so the usual case (already at the newest revision)
        is one query, and Alembic (a third of a second to import) loads only to migrate.
        """
        if revision == "head" and not downgrade and self._revision() == script_head():
            return
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                (command.downgrade if downgrade else command.upgrade)(cfg, revision)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot open or migrate the database at {hide_password(self.url)}: "
                f"{exc.__class__.__name__}: {scrub(str(exc), self.url)}",
                "check [database] url and that the server or file is reachable and writable",
            ) from exc
