"""The standard-library path (``store/lite.py``, through ``store/ondemand.py``) answers exactly
as ``Store`` does, steps aside whenever ``Store`` must open the database itself, and lets the
most frequent commands run without importing SQLAlchemy."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from publisher.cli.common import _with_store
from publisher.config import load_settings
from publisher.models import Article
from publisher.store import Store
from publisher.store.lite import SUBSCRIBER_DATES, SUBSCRIBER_DATETIMES, LiteStore
from publisher.store.ondemand import StoreOnDemand
from publisher.store.schema import UTCDateTime, subscribers
from publisher.store.sqlitefile import plain_sqlite_path

from .conftest import write_config


def _varied(store: Store) -> None:
    """Subscribers in every status, with and without each optional value."""
    ann, _ = store.add_subscriber("ann@example.com", "Ann Ö", timezone="Europe/London")
    store.set_preferences(
        ann.id,
        datetime(2031, 1, 10, 6, tzinfo=UTC),
        frequency="weekly",
        weekday=4,
        send_hour=6,
        sections=["Politics", "Спорт"],
        paused_until=date(2031, 1, 5),
    )
    store.add_subscriber("bo@example.com")
    pending = store.sign_up("cy@example.com", "Cy", "192.0.2.7", {})
    store.sign_up("dee@example.com", "", "2001:db8::1", {})
    store.confirm_subscriber(pending.subscriber.id)
    eve, _ = store.add_subscriber("eve@example.com")
    store.unsubscribe(eve.id, "web")


def test_the_reader_lists_what_the_store_lists(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with Store(url) as store:
        _varied(store)
        expected = {
            status: store.list_subscribers(status)
            for status in (None, "active", "pending", "unsubscribed", "bounced")
        }
    reader = LiteStore.open(url)
    assert reader is not None
    with closing(reader):
        for status, listed in expected.items():
            assert reader.list_subscribers(status) == listed
    assert len(expected[None]) == 5 and expected["pending"] and expected["unsubscribed"]
    assert any(s.paused_until and s.sections for s in expected[None])
    assert any(s.consent_ip and s.confirmed_at for s in expected[None])


def test_the_reader_converts_every_date_column_the_schema_has() -> None:
    kinds = {c.name: type(c.type) for c in subscribers.columns}
    assert {n for n, t in kinds.items() if t is UTCDateTime} == SUBSCRIBER_DATETIMES
    assert {n for n, t in kinds.items() if t.__name__ == "Date"} == SUBSCRIBER_DATES


def test_the_reader_steps_aside_for_anything_store_must_open(tmp_path: Path) -> None:
    assert LiteStore.open(f"sqlite:///{tmp_path / 'missing.db'}") is None
    assert LiteStore.open("postgresql+psycopg://u@127.0.0.1/db") is None
    assert LiteStore.open("sqlite:///:memory:") is None
    assert LiteStore.open(f"sqlite:///{tmp_path / 'p.db'}?timeout=5") is None
    (tmp_path / "not.db").write_bytes(b"not a database at all")
    assert LiteStore.open(f"sqlite:///{tmp_path / 'not.db'}") is None
    old = f"sqlite:///{tmp_path / 'old.db'}"
    with Store(old) as store:
        store.migrate("0006_slugs", downgrade=True)
    assert LiteStore.open(old) is None  # Store migrates it first
    with Store(old):
        pass
    assert LiteStore.open(old) is not None
    assert plain_sqlite_path("sqlite:////srv/p.db") == Path("/srv/p.db")
    assert plain_sqlite_path("sqlite+pysqlite:///data/p.db") == Path("data/p.db")


def test_subscribers_list_reads_without_sqlalchemy_and_migrates_an_old_database(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)

    def listing(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                *extra,
                "-m",
                "publisher",
                "subscribers",
                "list",
                "--config",
                str(config),
            ],
            capture_output=True,
            text=True,
            check=True,
        )

    with Store(f"sqlite:///{tmp_path / 'data' / 'publisher.db'}") as store:
        store.add_subscriber("ann@example.com")
        store.migrate("0006_slugs", downgrade=True)
    first = listing()  # an older schema: Store opens and migrates it
    assert "ann@example.com\tactive" in first.stdout
    traced = listing("-X", "importtime")
    assert "ann@example.com\tactive" in traced.stdout
    assert "sqlalchemy" not in traced.stderr and "pydantic" in traced.stderr


def test_lite_store_records_jobs_and_reads_digests_as_store_does(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    moments = [datetime(2026, 11, 28, 9, n, 7, 250_000 * n, tzinfo=UTC) for n in range(4)]
    with Store(url) as store:
        store.upsert_articles([(stored, "tag:x") for stored in _articles()])
        store.record_job("feeds", moments[0], moments[1], True, "by Store")
        store.record_job("feeds", moments[2], moments[3], False, "failed: by Store")
        expected = store.job_runs()["feeds"]
        hashes = store.source_hashes()
    lite = LiteStore.open(url)
    assert lite is not None
    with closing(lite):
        assert lite.source_hashes() == hashes and hashes
        lite.record_job("collect", moments[0], moments[1], True, "by LiteStore")
        lite.record_job("collect", moments[2], moments[3], False, "failed: by LiteStore")
    with Store(url) as store:
        found = store.job_runs()["collect"]
    assert (found.started_at, found.finished_at, found.ok, found.last_ok_at) == (
        expected.started_at, expected.finished_at, expected.ok, expected.last_ok_at
    )  # fmt: skip
    assert found.last_ok_at == moments[1] and found.summary == "failed: by LiteStore"


def _articles() -> list[Article]:
    published = datetime(2026, 11, 27, 8, tzinfo=UTC)
    return [
        Article(key=f"f:{n}.md", source="f", title=f"Story {n}", link="", published=published,
                source_hash=f"{n:064x}")
        for n in range(3)
    ]  # fmt: skip


def test_store_on_demand_opens_store_only_when_a_call_needs_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    Store(url).close()
    with StoreOnDemand(url) as store:
        assert store.source_hashes() == {} and store.upsert_articles([]) == []
        assert store.full is None and store.lite is not None
        assert store.upsert_articles([(_articles()[0], "tag:y")]) == ["added"]
        assert store.full is not None and store.lite is None
        assert set(store.source_hashes()) == {"f:0.md"}
    with StoreOnDemand(f"sqlite:///{tmp_path / 'new.db'}") as fresh:  # Store makes it
        assert fresh.lite is None and fresh.list_subscribers() == []


def test_a_collect_that_finds_nothing_new_runs_without_sqlalchemy(project: Path) -> None:
    config = str(project / "config.toml")

    def collect(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, *extra, "-m", "publisher", "collect", "--config", config]
        return subprocess.run(command, capture_output=True, text=True, check=True)

    first = collect()
    assert "0 unchanged" in first.stdout and " 0 added" not in first.stdout
    again = collect("-X", "importtime")
    assert "0 added, 0 updated" in again.stdout
    assert "sqlalchemy" not in again.stderr and "publisher.collect" in again.stderr
    with Store(f"sqlite:///{project / 'data' / 'publisher.db'}") as store:
        run = store.job_runs()["collect"]
    assert (
        run.ok and run.summary.startswith("0 new, 0 updated") and run.finished_at > run.started_at
    )
    (project / "content" / "2024-09-18-markets-rally.md").write_text(
        (project / "content" / "2024-09-18-markets-rally.md").read_text() + "\nA late paragraph.\n"
    )
    edited = collect("-X", "importtime")
    assert "1 updated" in edited.stdout and "sqlalchemy" in edited.stderr


def test_a_database_fault_either_store_did_not_foresee_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(write_config(tmp_path), environ={})
    faults = [
        sqlite3.OperationalError("disk I/O error"),
        OperationalError("SELECT 1", {}, Exception("database is gone")),
    ]
    for fault in faults:

        def broken(settings: object, store: object, fault: Exception = fault) -> None:
            raise fault

        with pytest.raises(SystemExit) as exited:
            _with_store(broken, settings, partial(StoreOnDemand, settings.database_url), {})
        assert exited.value.code == 1
        said = capsys.readouterr().err
        assert said.startswith(f"error: database error: {type(fault).__name__}:")
        assert "Traceback" not in said and "hint: check [database] url" in said
    with pytest.raises(ZeroDivisionError):  # anything else is a bug: it is not dressed up
        _with_store(lambda s, t: 1 / 0, settings, partial(StoreOnDemand, settings.database_url), {})
