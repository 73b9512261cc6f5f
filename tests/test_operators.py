"""What operators see: the log of a run, one daemon per database, a standby that takes over,
``publisher status`` and its exit code, options before the subcommand."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.config import load_settings
from publisher.jobs import open_store

from .conftest import ROOT, cli, write_config

GOLDEN = ROOT / "tests" / "data" / "run_once_log.txt"


def publisher(
    *args: str, cwd: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    return subprocess.run(
        [sys.executable, "-m", "publisher", *args],
        cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def masked(log: str) -> str:
    log = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", "<TIME>", log)
    return re.sub(r"in \d+\.\d s", "in <S> s", log)


def test_the_default_log_of_run_once_matches_the_golden_file(project: Path) -> None:
    config = str(project / "config.toml")
    assert (
        publisher(
            "subscribers", "add", "ann@example.com", "--config", config, cwd=project
        ).returncode
        == 0
    )
    done = publisher("run", "--once", "--config", config, cwd=project)
    assert done.returncode == 0, done.stderr
    log = masked(done.stderr)
    if os.environ.get("REGENERATE_GOLDEN"):
        GOLDEN.write_text(log, encoding="utf-8")
    assert log == GOLDEN.read_text(encoding="utf-8")
    assert "apscheduler" not in done.stderr.lower() and "alembic" not in done.stderr.lower()
    chatty = publisher("run", "--once", "-vv", "--config", config, cwd=project)
    assert "alembic" in chatty.stderr.lower()  # third parties only with -vv
    as_json = publisher("--log-format", "json", "run", "--once", "--config", config, cwd=project)
    lines = [json.loads(line) for line in as_json.stderr.splitlines()]
    assert [line["job"] for line in lines] == ["collect", "feeds", "digest", "send"]
    assert all(line["time"].endswith("+00:00") or "+" in line["time"] for line in lines)


def test_options_before_the_subcommand(project: Path) -> None:
    before = cli("--config", str(project / "config.toml"), "subscribers", "add", "a@example.com")
    assert before.exit_code == 0, before.output
    after = cli("subscribers", "list", "--config", str(project / "config.toml"))
    assert "a@example.com" in after.output
    usage = cli("--config", str(project / "config.toml"), "subscribers", "add")
    assert usage.exit_code == 2  # a usage error, as documented


def test_status_says_what_is_overdue_and_exits_1(project: Path) -> None:
    config = str(project / "config.toml")
    never = cli("status", "--config", config)
    assert never.exit_code == 1 and "never succeeded" in never.output
    assert cli("run", "--once", "--config", config).exit_code == 0
    fine = cli("status", "--json", "--config", config)
    assert fine.exit_code == 0, fine.output
    body = json.loads(fine.output)
    assert body["ok"] and body["articles"] == 6 and body["jobs"]["collect"]["overdue"] is False
    settings = load_settings(project / "config.toml", environ={})
    with open_store(settings) as store:
        old = datetime.now(UTC) - timedelta(hours=2)
        store.record_job("send", old, old, True, "long ago")
    late = cli("status", "--config", config)
    assert late.exit_code == 1 and re.search(r"send\s+OVERDUE", late.output)


@pytest.mark.slow
def test_a_second_daemon_on_the_same_database_is_refused(project: Path) -> None:
    config = str(project / "config.toml")
    first = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--config", config],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (project / "data" / "publisher.db.daemon.lock").exists():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.5)
        second = publisher("run", "--config", config, cwd=project, timeout=60)
        assert second.returncode == 1
        assert "another publisher daemon is already running" in second.stderr
        assert f"process {first.pid}" in second.stderr
        assert publisher("run", "--standby", "--config", config, cwd=project).returncode == 1
    finally:
        first.send_signal(signal.SIGTERM)
        out, _ = first.communicate(timeout=30)
    assert first.returncode == 0 and "daemon stopped" in out


@pytest.mark.slow
def test_a_standby_takes_over_when_the_leader_dies_on_postgresql(
    project: Path, pg_url: str
) -> None:
    config = str(write_config(project, extra="[scheduler]\ncollect_every_minutes = 60\n"))
    env = {"PUBLISHER_DATABASE_URL": pg_url}

    def start(*extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "publisher", "run", *extra, "--config", config],
            cwd=project, env={**os.environ, **env}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def runs_of(job: str) -> datetime | None:
        with open_store(load_settings(config, environ=env)) as store:
            found = store.job_runs().get(job)
        return found.started_at if found else None

    leader = start()
    standby = None
    try:
        deadline = time.monotonic() + 60
        while runs_of("collect") is None:
            assert leader.poll() is None and time.monotonic() < deadline, "leader never ran"
            time.sleep(0.2)
        led = runs_of("collect")
        standby = start("--standby")
        time.sleep(3)
        assert standby.poll() is None and runs_of("collect") == led  # waiting, not running
        leader.kill()  # SIGKILL: no goodbye; PostgreSQL drops its session and its lock
        leader.wait(timeout=10)
        killed = time.monotonic()
        while runs_of("collect") == led:
            assert standby.poll() is None and time.monotonic() - killed < 30, "no takeover"
            time.sleep(0.2)
        standby.send_signal(signal.SIGTERM)
        out, _ = standby.communicate(timeout=30)
        assert "taking over" in out and standby.returncode == 0
    finally:
        for proc in (leader, standby):
            if proc is not None and proc.poll() is None:
                proc.kill()


def test_catch_up_once_but_never_past_the_grace(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After downtime a digest goes out once if its hour passed less than grace_minutes ago;
    later than that it waits for the next slot, every article still owed."""
    from zoneinfo import ZoneInfo

    from publisher.jobs import run_collect, run_plan

    settings = load_settings(project / "config.toml", environ={})  # 07:00 Asia/Karachi
    karachi = ZoneInfo("Asia/Karachi")

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2030, 1, day, hour, minute, tzinfo=karachi)

    def article(name: str) -> None:
        (project / "content" / f"{name}.md").write_text(
            f"---\ntitle: {name}\ndate: 2030-01-01 09:00\nsection: politics\n---\nBody.\n"
        )

    with open_store(settings) as store:
        ann, _ = store.add_subscriber("ann@example.com")
        run_collect(settings, store)
        run_plan(settings, store, at(6, 7, 5))  # new: due at once; nothing new owed yet
        due = store.subscriber(ann.id)
        assert due is not None and due.next_due_at == at(7, 7)
        article("late-news")
        run_collect(settings, store)

        assert run_plan(settings, store, at(7, 10)) == []  # 3 h after 07:00: too late
        held = store.subscriber(ann.id)
        assert held is not None and held.next_due_at == at(8, 7)
        assert held.last_article_id == due.last_article_id  # still owed
        assert "wait for their next slot" in caplog.text

        article("more-news")
        run_collect(settings, store)
        # Down for three days; back at 08:00, an hour after the slot: one catch-up digest.
        [catch_up] = run_plan(settings, store, at(11, 8))
        assert catch_up.article_count == 2
        after = store.subscriber(ann.id)
        assert after is not None and after.next_due_at == at(12, 7)
        assert run_plan(settings, store, at(11, 8, 30)) == []  # once, not once per missed day


def test_status_shows_a_failing_feed_source_and_its_backoff(project: Path) -> None:
    from .conftest import free_port

    port = free_port()  # nothing listens here
    extra = (
        f'\n[[sources]]\nkind = "feed"\nname = "wire"\nurl = "http://127.0.0.1:{port}/feed.xml"\n'
    )
    config = project / "config.toml"
    config.write_text(config.read_text().replace("[feeds]", extra + "\n[feeds]", 1))
    assert cli("collect", "--config", str(config)).exit_code == 0
    shown = cli("status", "--json", "--config", str(config))
    [source] = json.loads(shown.output)["sources"]
    assert source["name"] == "wire" and source["failures"] == 1
    assert source["last_error"] and source["next_attempt"] and source["last_success"] is None
    text = cli("status", "--config", str(config)).output
    assert "source wire (feed): last success never; failing (1 in a row)" in text
