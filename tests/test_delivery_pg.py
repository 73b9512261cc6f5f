"""Several workers on one PostgreSQL: claims skip each other's locked rows; no row is sent twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from publisher.config import load_settings, parse_settings
from publisher.digest.plan import plan_editions
from publisher.mail.queue import SendReport
from publisher.store import Store

from .conftest import write_config
from .smtp_faults import (
    FaultyHandler,
    PrebuiltMessages,
    add_subscribers,
    send_with,
    smtp_extra,
    smtp_server,
)

COUNT = 600


NOTES = parse_settings(
    {
        "site": {"url": "https://news.example.com"},
        "sources": [{"kind": "files", "name": "none", "path": "."}],
        "digest": {"when_empty": "note"},
    },
    Path("."),
    "test",
    environ={},
)


def queue(store: Store, count: int) -> None:
    """``count`` queued deliveries, made by the real planner (a "nothing new" note each)."""
    add_subscribers(store, (f"r{i}@example.com" for i in range(count)))
    [planned] = plan_editions(NOTES, store, datetime.now(UTC))
    assert len(planned.subscriber_ids) == count


def test_claim_skips_rows_locked_by_another_transaction(pg_url: str) -> None:
    # A claim that waited on the locked rows would fail after 5 s instead of hanging the suite.
    with Store(pg_url + "?options=-c%20lock_timeout%3D5000") as store:
        queue(store, 50)
        with store.engine.connect() as other:
            locked = [
                i
                for (i,) in other.execute(
                    text("SELECT id FROM deliveries ORDER BY id LIMIT 10 FOR UPDATE")
                )
            ]  # held until this block ends: another worker mid-claim
            claimed = store.claim_deliveries("worker-b", 20, 60)
            assert len(claimed) == 20
            assert not {d.id for d in claimed} & set(locked)
            other.rollback()
        assert store.release_claims("worker-b") == 20
        assert store.delivery_counts() == {"queued": 50}


def test_two_senders_at_once_send_every_row_exactly_once(project: Path, pg_url: str) -> None:
    handler = FaultyHandler()
    with smtp_server(handler) as server:
        extra = smtp_extra(server.port, delivery="connections = 2\nbatch_size = 25\n")
        settings = load_settings(
            write_config(project, extra=extra), environ={"PUBLISHER_DATABASE_URL": pg_url}
        )
        with Store(pg_url) as store:
            queue(store, COUNT)
        reports: dict[str, SendReport] = {}

        def worker(name: str) -> None:
            with Store(pg_url, migrate=False) as own:
                reports[name] = send_with(settings, own, PrebuiltMessages(), worker=name)

        threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with Store(pg_url, migrate=False) as store:
            assert store.delivery_counts() == {"sent": COUNT}
    per_recipient = handler.per_recipient()
    assert len(per_recipient) == COUNT and set(per_recipient.values()) == {1}
    assert reports["a"].sent + reports["b"].sent == COUNT
    assert reports["a"].sent > 0 and reports["b"].sent > 0
    print(f"\nworker a sent {reports['a'].sent}, worker b sent {reports['b'].sent}")
