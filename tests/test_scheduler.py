"""The daemon: jobs wired to the clock, a catch-up after downtime, and a clean SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from publisher.config import load_settings
from publisher.jobs import open_store, run_collect, run_digest
from publisher.scheduler import build_scheduler, digest_missed

from .conftest import write_config


def wait_for(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_jobs_and_catch_up(project: Path) -> None:
    settings = load_settings(write_config(project, extra='send_time = "07:00"'), environ={})
    with open_store(settings) as store:
        # 08:00 in Karachi is 03:00 UTC: today's 07:00 has passed and nothing was ever cut.
        after_send = datetime(2024, 9, 18, 3, 0, tzinfo=UTC)
        assert digest_missed(settings, store, after_send)
        store.add_subscriber("ann@example.com")
        run_collect(settings, store)
        run_digest(settings, store, now=after_send)
        assert not digest_missed(settings, store, after_send)
        # The next morning it is due again.
        assert digest_missed(settings, store, datetime(2024, 9, 19, 3, 0, tzinfo=UTC))
        scheduler = build_scheduler(settings, store)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert {"collect", "digest"} <= set(jobs)
        assert "hour='7'" in str(jobs["digest"].trigger) and "minute='0'" in str(
            jobs["digest"].trigger
        )


def test_daemon_collects_catches_up_and_stops_on_sigterm(project: Path) -> None:
    config = write_config(project, extra='send_time = "00:00"')
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open_store(load_settings(config, environ={})) as store:
        store.add_subscriber("ann@example.com")
    proc = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--config", str(config), "-v"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        outbox = project / "outbox" / "new"
        assert wait_for(lambda: (project / "feeds" / "rss.xml").exists()), "no collect at start"
        assert wait_for(lambda: outbox.exists() and any(outbox.iterdir())), "no catch-up digest"
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output.decode()
    assert b"stopped" in output
