"""A commit that loses a deadlock is run again; a result that cannot be recorded is not released.

The deadlock is a real one on PostgreSQL: another session locks the rows of a group commit in
the opposite order, and PostgreSQL picks the commit as its victim.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from publisher.config import load_settings
from publisher.jobs import open_store
from publisher.store import Store
from publisher.store.deliveries import Attempt

from .conftest import write_config
from .smtp_faults import (
    FaultyHandler,
    PrebuiltMessages,
    queue_digests,
    send_with,
    smtp_extra,
)
from .smtp_faults import smtp_server as faulty_server
from .test_delivery_pg import queue


def wait_until_blocked(conn: Any, pid: int) -> None:
    """Wait until backend ``pid`` waits for a row lock."""
    for _ in range(500):
        waiting = conn.execute(
            text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar()
        if waiting == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError("the commit never waited for the lock")


def test_group_commit_that_loses_a_deadlock_is_run_again(pg_url: str) -> None:
    """Another session holds the bounced subscriber's row, then asks for a delivery row the
    commit holds: a cycle whatever order the commit takes its delivery rows in."""
    with Store(pg_url) as store:
        queue(store, 2)
        first, second = store.claim_deliveries("w", 2, 60)
        writer = store.attempt_writer("w")
        pid_of_writer = [0]
        result: list[Any] = []
        bounced = Attempt(first, "failed", "550 5.1.1 no such user", bounce_threshold=3)

        def commit() -> None:
            writer._conn = store.engine.connect()
            pid_of_writer[0] = writer._conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            writer._conn.commit()
            started.set()
            try:
                result.append(writer.write([Attempt(second, "sent", "250 b"), bounced]))
            except Exception as exc:
                result.append(exc)
            finally:
                writer.close()

        other = create_engine(pg_url).connect()
        watcher = create_engine(pg_url, isolation_level="AUTOCOMMIT").connect()
        try:
            # The other session waits 10 s before looking for deadlocks; the commit's session
            # looks after PostgreSQL's default 1 s, so the commit is the victim.
            other.exec_driver_sql("SET deadlock_timeout = '10s'")
            other.execute(
                text("UPDATE subscribers SET name = 'held' WHERE id = :i"),
                {"i": first.subscriber_id},
            )
            started = threading.Event()
            thread = threading.Thread(target=commit)
            thread.start()
            started.wait()
            wait_until_blocked(watcher, pid_of_writer[0])  # holds both deliveries, waits for us
            other.execute(
                text("UPDATE deliveries SET reply = 'held' WHERE id = :i"), {"i": first.id}
            )
            other.commit()  # reached once PostgreSQL cancelled the commit's transaction
            thread.join()
        finally:
            other.close()
            watcher.close()
        assert result == [[False, False]], result
        assert store.delivery_counts() == {"sent": 1, "failed": 1}
        assert [o for o, _ in store.attempts_of(first.id)] == ["failed"]
        assert [o for o, _ in store.attempts_of(second.id)] == ["sent"]


class CannotRecord:
    """The real store, except that recording attempts fails for good (the database is gone).

    Claims, sends and releases go to the real database; only the commit of results breaks,
    which no real database can be made to do for one statement without breaking the others.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def attempt_writer(self, worker: str) -> Any:
        real = self.store.attempt_writer(worker)

        class Broken:
            def write(self, attempts: Any, sending: Any = ()) -> list[bool]:
                if attempts:  # marking a message as being sent still works
                    raise OperationalError("UPDATE ...", {}, Exception("database is gone"))
                return real.write(attempts, sending)

            def close(self) -> None:
                real.close()

        return Broken()


def test_rows_the_server_accepted_are_not_released_when_their_result_cannot_be_recorded(
    project: Path,
) -> None:
    handler = FaultyHandler()
    with faulty_server(handler) as server:
        delivery = "connections = 1\nbatch_size = 5\n"
        settings = load_settings(
            write_config(project, extra=smtp_extra(server.port, delivery=delivery)), environ={}
        )
        with open_store(settings) as store:
            queue_digests(settings, store, (f"r{i}@example.com" for i in range(5)))
            with pytest.raises(OperationalError, match="database is gone"):
                send_with(settings, CannotRecord(store), PrebuiltMessages())  # type: ignore[arg-type]
            counts = store.delivery_counts()
            [(kept, email)] = store.delivery_list(status="sending")
    assert [a.recipient for a in handler.arrivals] == [email]  # accepted by the server
    assert counts == {"sending": 1, "queued": 4}  # resumed after its lease, not sent at once
    assert kept.lease_until is not None
