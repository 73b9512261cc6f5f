"""`publisher send` stopped by SIGTERM mid-send: exits promptly, releases its claims, loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from publisher.config import load_settings
from publisher.jobs import open_store

from .conftest import ROOT, write_config
from .smtp_faults import FaultyHandler, queue_digests, smtp_extra, smtp_server

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out

COUNT = 400


def test_sigterm_mid_send_exits_quickly_and_leaves_no_claim(project: Path) -> None:
    handler = FaultyHandler()
    with smtp_server(handler) as server:
        # Slow enough (20/s) that the run is surely mid-send when the signal comes.
        slow = "connections = 4\nrate_per_second = 20\nbatch_size = 50\n"
        config = write_config(project, extra=smtp_extra(server.port, delivery=slow))
        settings = load_settings(config, environ={})
        addresses = [f"reader{i}@example.com" for i in range(COUNT)]
        with open_store(settings) as store:
            queue_digests(settings, store, addresses)

        proc = subprocess.Popen(
            [sys.executable, "-m", "publisher", "send", "--config", str(config)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 120
        while len(handler.arrivals) < 20:
            assert proc.poll() is None and time.monotonic() < deadline, "sender never got going"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)  # a guard against a hang, not a speed check
        assert proc.returncode == 0, err.decode()
        assert "stopped early" in out.decode()

        with open_store(settings) as store:
            counts = store.delivery_counts()
            assert "claimed" not in counts, counts
            arrived = handler.per_recipient()
            assert counts["sent"] == len(arrived) < COUNT
            assert counts["queued"] == COUNT - len(arrived)

        # The next run sends the rest, and nobody gets a second copy.
        fast = write_config(project, extra=smtp_extra(server.port))
        result = subprocess.run(
            [sys.executable, "-m", "publisher", "send", "--config", str(fast)],
            cwd=ROOT,
            capture_output=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr.decode()
        assert f"{COUNT - len(arrived)} sent" in result.stdout.decode()
    per_recipient = handler.per_recipient()
    assert sorted(per_recipient) == sorted(addresses)
    assert set(per_recipient.values()) == {1}
