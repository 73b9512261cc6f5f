"""Crash safety: a sender killed with SIGKILL five times mid-send, then restarted.

The subprocess is ``send_pending`` as ``publisher send`` runs it, with prebuilt messages
(``tests/send_prebuilt.py``) so that MIME building does not dominate the test's time.

Every subscriber must end with exactly one message at the server, except at most one
duplicate per kill: the message the server took just before the kill, before our commit.
With one connection there is at most one such message per crash (see publisher/mail/queue.py),
and it is never a surprise: its row was left ``sending`` and its history says ``interrupted``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from publisher.config import load_settings
from publisher.jobs import open_store

from .conftest import ROOT, write_config
from .smtp_faults import (
    FaultyHandler,
    backend_env,
    queue_digests,
    smtp_extra,
    smtp_server,
)

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out
__all__ = ["backend_env"]  # the fixture: every test here runs on SQLite and on PostgreSQL

COUNT = 5000  # enough that five kills, up to 0.8 s apart, all land mid-send
KILLS = 5
LEASE = 2.0


def start_sender(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.send_prebuilt", str(config)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
    )


def wait_for_arrivals(
    handler: FaultyHandler, more_than: int, proc: subprocess.Popen[bytes]
) -> bool:
    """Wait until the server got a new message from this process; False if it exited first."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len(handler.arrivals) > more_than:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    raise AssertionError("the sender sent nothing for two minutes")


def test_sigkill_five_times_then_every_subscriber_has_one_message(
    project: Path, backend_env: dict[str, str]
) -> None:
    rng = random.Random(5)  # seeded: a failing kill schedule can be replayed
    handler = FaultyHandler()
    with smtp_server(handler) as server:
        delivery = f"connections = 1\nlease_seconds = {LEASE}\nbatch_size = 20\n"
        config = write_config(project, extra=smtp_extra(server.port, delivery=delivery))
        settings = load_settings(config, environ=backend_env)
        addresses = [f"reader{i}@example.com" for i in range(COUNT)]
        with open_store(settings) as store:
            queue_digests(settings, store, addresses)

        kills: list[tuple[int, int]] = []  # (arrivals before the kill, arrivals after it)
        possibly_sent: set[str] = set()  # rows a killed sender left marked `sending`
        while len(kills) < KILLS:
            before = len(handler.arrivals)
            proc = start_sender(config, backend_env)
            if not wait_for_arrivals(handler, before, proc):
                break  # finished before we could kill it: nothing left to crash
            time.sleep(rng.uniform(0.0, 0.8))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills.append((before, len(handler.arrivals)))
            with open_store(settings) as store:
                left = [email for _, email in store.delivery_list(status="sending")]
            # One connection: at most one new message in flight (an earlier kill's row may
            # still wait for its lease to expire).
            assert len(set(left) - possibly_sent) <= 1
            possibly_sent.update(left)
        assert len(kills) == KILLS, f"only {len(kills)} kills happened mid-send"

        # Restart until everything is sent; leases of the killed runs expire after LEASE s.
        for _ in range(5):
            proc = start_sender(config, backend_env)
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err.decode()
            with open_store(settings) as store:
                counts = store.delivery_counts()
            if counts == {"sent": COUNT}:
                break
            time.sleep(LEASE)
        assert counts == {"sent": COUNT}, counts

    per_recipient = handler.per_recipient()
    missing = [a for a in addresses if per_recipient[a] == 0]
    duplicates = {a: n for a, n in per_recipient.items() if n > 1}
    print(
        f"\n{KILLS} kills at arrivals {[k[1] for k in kills]}; duplicates: {duplicates or 'none'}"
    )
    assert missing == []
    assert sum(n - 1 for n in duplicates.values()) <= KILLS
    # Every duplicate was reported: its row was left `sending`, and resuming it recorded an
    # `interrupted` attempt, which `publisher deliveries` lists.
    assert set(duplicates) <= possibly_sent, (duplicates, possibly_sent)
    with open_store(settings) as store:
        history = {
            email: [outcome for outcome, _ in store.attempts_of(d.id)]
            for d, email in store.delivery_list(status="sent", limit=COUNT)
            if email in duplicates
        }
    assert all(outcomes[:-1] == ["interrupted"] for outcomes in history.values()), history
