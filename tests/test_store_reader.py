"""The standard-library reader (``store/reader.py``) answers exactly as ``Store`` does, and
steps aside whenever ``Store`` must open the database itself."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from publisher.store import Store
from publisher.store.reader import (
    SUBSCRIBER_DATES,
    SUBSCRIBER_DATETIMES,
    SQLiteReader,
    plain_sqlite_path,
)
from publisher.store.schema import UTCDateTime, subscribers

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
    reader = SQLiteReader.open(url)
    assert reader is not None
    with reader:
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
    assert SQLiteReader.open(f"sqlite:///{tmp_path / 'missing.db'}") is None
    assert SQLiteReader.open("postgresql+psycopg://u@127.0.0.1/db") is None
    assert SQLiteReader.open("sqlite:///:memory:") is None
    assert SQLiteReader.open(f"sqlite:///{tmp_path / 'p.db'}?timeout=5") is None
    (tmp_path / "not.db").write_bytes(b"not a database at all")
    assert SQLiteReader.open(f"sqlite:///{tmp_path / 'not.db'}") is None
    old = f"sqlite:///{tmp_path / 'old.db'}"
    with Store(old) as store:
        store.migrate("0006_slugs", downgrade=True)
    assert SQLiteReader.open(old) is None  # Store migrates it first
    with Store(old):
        pass
    assert SQLiteReader.open(old) is not None
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
