"""A message handed to the server by a sender that then died is reported as possibly sent.

The dead sender is replayed through the store exactly as ``send_pending`` leaves it when killed
inside the duplicate window: its row claimed, marked ``sending`` in a commit, never recorded.
(The SIGKILL loop in ``test_delivery_crash.py`` shows the same with real kills.)
"""

from __future__ import annotations

import time
from pathlib import Path

from publisher.config import load_settings
from publisher.jobs import open_store

from .conftest import cli, write_config
from .smtp_faults import FaultyHandler, queue_digests, smtp_extra, smtp_server


def test_a_dead_senders_message_in_flight_is_reported_then_resumed(project: Path) -> None:
    handler = FaultyHandler()
    with smtp_server(handler) as server:
        config = write_config(project, extra=smtp_extra(server.port))
        settings = load_settings(config, environ={})
        with open_store(settings) as store:
            queue_digests(settings, store, ["ann@example.com", "bob@example.com"])
            first, _ = store.claim_deliveries("dead-sender", 2, lease_seconds=0.2)
            store.attempt_writer("dead-sender").write([], sending=[first.id])  # then SIGKILL

        shown = cli("deliveries", "--config", str(config))
        assert "deliveries (all editions): 1 claimed, 1 sending" in shown.output, shown.output
        time.sleep(0.3)  # the dead sender's lease runs out
        sent = cli("send", "--config", str(config))
        assert "done: 2 sent" in sent.output, sent.output
        resumed = cli("deliveries", "--status", "sent", "--config", str(config))
    lines = resumed.output.splitlines()
    at = next(i for i, line in enumerate(lines) if "ann@example.com" in line)
    assert "1. interrupted: the sender stopped after handing this message" in lines[at + 1]
    assert "2. sent: 250" in lines[at + 2]
