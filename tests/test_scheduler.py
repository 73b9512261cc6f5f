"""The daemon: jobs wired to the clock, a catch-up after downtime, and a clean SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from publisher.config import load_settings
from publisher.daemon import build_scheduler
from publisher.jobs import open_store

from .conftest import write_config


def wait_for(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_jobs_run_at_start_and_on_their_intervals(project: Path) -> None:
    config = write_config(project, extra="")
    config.write_text(
        config.read_text() + "\n[scheduler]\ncollect_every_minutes = 7\nplan_every_minutes = 3\n"
    )
    settings = load_settings(config, environ={})
    with open_store(settings) as store:
        scheduler = build_scheduler(settings, store)
        jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"collect", "digest"}
    assert jobs["collect"].trigger.interval.total_seconds() == 7 * 60
    assert jobs["digest"].trigger.interval.total_seconds() == 3 * 60
    # Both run at start (a daemon that was down catches up), digest just after collect.
    assert jobs["collect"].next_run_time < jobs["digest"].next_run_time
    assert jobs["digest"].next_run_time - jobs["collect"].next_run_time < timedelta(seconds=10)


@pytest.mark.slow
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
