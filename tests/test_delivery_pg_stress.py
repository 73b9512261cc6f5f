"""Three senders with eight connections each on one PostgreSQL, with a short lease, 20 times.

Lease renewal and group commit both lock a sender's delivery rows; when they took them in
different orders PostgreSQL found a deadlock and cancelled one, and when that was the commit
the sender stopped (exit 1) and put messages the server had already accepted back in the queue.
This loop must end with no sender stopping, every row sent, and no message sent twice.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publisher.config import load_settings
from publisher.digest.plan import plan_editions
from publisher.store import Store

from .conftest import write_config
from .smtp_faults import FaultyHandler, PrebuiltMessages, add_subscribers, send_with, smtp_extra
from .smtp_faults import smtp_server as faulty_server
from .test_delivery_pg import NOTES

pytestmark = pytest.mark.slow

RUNS = 20
SENDERS = 3
PER_RUN = 600
DELIVERY = "connections = 8\nlease_seconds = 1.5\nbatch_size = 100\n"


def test_three_senders_with_a_short_lease_never_deadlock(project: Path, pg_url: str) -> None:
    handler = FaultyHandler()
    errors: list[str] = []
    with faulty_server(handler) as server:
        extra = smtp_extra(server.port, delivery=DELIVERY)
        settings = load_settings(
            write_config(project, extra=extra), environ={"PUBLISHER_DATABASE_URL": pg_url}
        )
        stores = [Store(pg_url, migrate=i == 0) for i in range(SENDERS)]
        try:
            for run in range(RUNS):
                add_subscribers(stores[0], (f"r{run}-{i}@example.com" for i in range(PER_RUN)))
                plan_editions(NOTES, stores[0], datetime.now(UTC))

                def sender(i: int, run: int = run) -> None:
                    try:
                        send_with(settings, stores[i], PrebuiltMessages(), worker=f"s{i}-{run}")
                    except Exception as exc:  # what made `publisher send` exit 1
                        errors.append(f"run {run} sender {i}: {exc.__class__.__name__}: {exc}")

                threads = [threading.Thread(target=sender, args=(i,)) for i in range(SENDERS)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            counts = stores[0].delivery_counts()
        finally:
            for store in stores:
                store.close()
    per_recipient = handler.per_recipient()
    duplicates = sum(n - 1 for n in per_recipient.values())
    print(f"\n{RUNS} runs x {SENDERS} senders: {len(errors)} stopped, {duplicates} duplicates")
    assert errors == []
    assert counts == {"sent": RUNS * PER_RUN}
    assert len(per_recipient) == RUNS * PER_RUN and duplicates == 0
