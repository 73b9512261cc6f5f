"""The delivery commands as an operator uses them, and timeouts and stale leases underneath."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from publisher.config import load_settings
from publisher.errors import DeliveryError
from publisher.jobs import open_store
from publisher.store import Store
from publisher.store.schema import deliveries

from .conftest import cli, dkim_records, dkim_results, write_config
from .smtp_faults import (
    FaultyHandler,
    PrebuiltMessages,
    add_subscribers,
    queue_digests,
    send_with,
    smtp_extra,
    smtp_server,
)


def test_send_deliveries_and_retry_commands(project: Path) -> None:
    refusing = [True]
    handler = FaultyHandler(refuse=lambda a: refusing[0] and a.startswith("bob"))
    with smtp_server(handler) as server:
        config = write_config(project, extra=smtp_extra(server.port))
        settings = load_settings(config, environ={})
        with open_store(settings) as store:
            queue_digests(settings, store, ["ann@example.com", "bob@example.com"])

        sent = cli("send", "--config", str(config))
        assert sent.exit_code == 0, sent.output
        assert "done: 1 sent, 0 to retry, 1 failed" in sent.output

        shown = cli("deliveries", "--config", str(config))
        assert shown.exit_code == 0, shown.output
        assert "deliveries (all editions): 1 sent, 1 failed" in shown.output
        assert "bob@example.com" in shown.output and "550 5.1.1 no such user here" in shown.output
        only = cli("deliveries", "--edition", "1", "--status", "sent", "--config", str(config))
        assert "ann@example.com" in only.output and "bob@example.com" not in only.output

        refusing[0] = False  # the mailbox exists now; the operator retries
        again = cli("deliveries", "retry", "--config", str(config))
        assert "1 failed deliveries queued again" in again.output
        resent = cli("send", "--config", str(config))
        assert "done: 1 sent, 0 to retry, 0 failed" in resent.output
    assert sorted(handler.per_recipient().items()) == [
        ("ann@example.com", 1),
        ("bob@example.com", 1),
    ]


class SlowHandler(FaultyHandler):
    """Stalls the first ``stalls`` RCPT commands past the client's timeout."""

    def __init__(self, stalls: int) -> None:
        super().__init__()
        self.stalls = stalls

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.stalls > 0:
            self.stalls -= 1
            await asyncio.sleep(3)
        return await super().handle_RCPT(server, session, envelope, address, options)


def test_a_timeout_is_retried_and_recorded(project: Path) -> None:
    handler = SlowHandler(stalls=1)
    with smtp_server(handler) as server:
        extra = smtp_extra(
            server.port, smtp="", delivery="connections = 1\nbackoff_seconds = 0\n"
        ).replace("timeout = 10", "timeout = 0.5")
        settings = load_settings(write_config(project, extra=extra), environ={})
        with open_store(settings) as store:
            queue_digests(settings, store, ["ann@example.com"])
            first = send_with(settings, store, PrebuiltMessages())
            assert (first.sent, first.retry) == (0, 1)
            second = send_with(settings, store, PrebuiltMessages())
            assert second.sent == 1
            [(delivery, _)] = store.delivery_list(status="sent")
            history = store.attempts_of(delivery.id)
            assert [o for o, _ in history] == ["retry", "sent"]
            assert "timed out" in history[0][1]
    assert handler.per_recipient()["ann@example.com"] == 1


def test_a_dead_senders_claims_are_resumed_after_the_lease(project: Path) -> None:
    handler = FaultyHandler()
    with smtp_server(handler) as server:
        settings = load_settings(write_config(project, extra=smtp_extra(server.port)), environ={})
        with open_store(settings) as store:
            queue_digests(settings, store, ["ann@example.com", "bob@example.com"])
            # A sender claimed both, tried one once, and died.
            claimed = store.claim_deliveries("dead-worker", 10, 300)
            assert len(claimed) == 2
            with store.engine.begin() as conn:
                conn.execute(
                    update(deliveries).where(deliveries.c.id == claimed[0].id).values(attempts=1)
                )
            assert send_with(settings, store, PrebuiltMessages()).sent == 0
            with store.engine.begin() as conn:
                conn.execute(
                    update(deliveries).values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
                )
            report = send_with(settings, store, PrebuiltMessages())
            assert report.sent == 2
            rows = {d.id: d for d, _ in store.delivery_list(status="sent")}
            assert rows[claimed[0].id].attempts == 2  # resumed as it was, not re-queued
            assert rows[claimed[1].id].attempts == 1
    assert set(handler.per_recipient().values()) == {1}


def test_transport_is_chosen_in_config(project: Path) -> None:
    null = write_config(project, extra='\n[delivery]\ntransport = "null"\nconnections = 2\n')
    with open_store(load_settings(null, environ={})) as store:
        add_subscribers(store, ["ann@example.com", "bob@example.com"])
    assert cli("collect", "--config", str(null)).exit_code == 0
    result = cli("digest", "send", "--config", str(null))
    assert "2 sent, 0 to retry, 0 failed, via null (messages discarded)" in result.output
    assert not (project / "outbox").exists()

    broken = write_config(project, extra='\n[delivery]\ntransport = "smtp"\n')
    failed = cli("send", "--config", str(broken))
    assert failed.exit_code == 1
    assert "no [smtp] table" in failed.output and "hint:" in failed.output


def test_an_unreachable_server_stops_the_run_without_losing_mail(project: Path) -> None:
    from .conftest import free_port

    config = write_config(project, extra=smtp_extra(free_port(), delivery="connections = 2"))
    settings = load_settings(config, environ={})
    with open_store(settings) as store:
        queue_digests(settings, store, [f"r{i}@example.com" for i in range(30)])
    result = cli("send", "--config", str(config))
    assert result.exit_code == 3  # delivery incomplete: the mail waits, nothing is lost
    assert "tries in a row" in result.output and "hint:" in result.output
    with open_store(settings) as store:
        counts = store.delivery_counts()
        assert "claimed" not in counts and "failed" not in counts
        assert sum(counts.values()) == 30
        assert counts.get("retry", 0) <= 2 * 2  # at most two failed connects per connection


def test_dot_stuffing_and_line_endings_survive_the_wire(project: Path) -> None:
    from publisher.config import SmtpConfig
    from publisher.mail import OutgoingMessage, SmtpTransport

    handler = FaultyHandler()
    with smtp_server(handler) as server:
        transport = SmtpTransport(SmtpConfig(host="127.0.0.1", port=server.port, security="none"))
        body = b"Subject: dots\r\n\r\n.starts with a dot\r\n..two\r\nbare\n.\nstill body\r\n"
        reply = transport.send(OutgoingMessage("a@example.com", "b@example.com", "<m@x>", body))
        transport.close()
    assert reply.startswith("250")
    [arrival] = handler.arrivals
    assert arrival.recipient == "b@example.com"
    assert handler.contents == [
        b"Subject: dots\r\n\r\n.starts with a dot\r\n..two\r\nbare\r\n.\r\nstill body\r\n"
    ]


def test_connections_are_reused_then_renewed_after_n_messages(project: Path) -> None:
    handler = FaultyHandler()
    with smtp_server(handler) as server:
        extra = smtp_extra(
            server.port, smtp="max_messages_per_connection = 4", delivery="connections = 1"
        )
        settings = load_settings(write_config(project, extra=extra), environ={})
        with open_store(settings) as store:
            queue_digests(settings, store, [f"r{i}@example.com" for i in range(10)])
            assert send_with(settings, store, PrebuiltMessages()).sent == 10
    per_connection = [handler.peers.count(p) for p in dict.fromkeys(handler.peers)]
    assert per_connection == [4, 4, 2]


class LosesItsLeases:
    """The real store, except that renewing leases fails as a lost database would.

    Only the renewal is broken (a database that refuses one statement cannot be arranged on
    a local SQLite file without stalling every other statement too); claims, sends and
    commits go to the real database.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.renewals = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def renew_leases(self, worker: str, lease_seconds: float) -> int:
        self.renewals += 1
        raise OperationalError("UPDATE deliveries ...", {}, Exception("database is gone"))


def test_a_sender_that_cannot_renew_its_leases_stops_instead_of_sending_on(
    project: Path,
) -> None:
    handler = FaultyHandler()
    with smtp_server(handler) as server:
        # 60 messages at 10/s would take 6 s; leases renewed every 0.1 s fail from the start.
        slow = "connections = 1\nrate_per_second = 10\nlease_seconds = 0.3\nbatch_size = 60\n"
        settings = load_settings(
            write_config(project, extra=smtp_extra(server.port, delivery=slow)), environ={}
        )
        with open_store(settings) as store:
            queue_digests(settings, store, (f"r{i}@example.com" for i in range(60)))
            broken = LosesItsLeases(store)
            with pytest.raises(DeliveryError, match="3 lease renewals in a row failed"):
                send_with(settings, broken, PrebuiltMessages())  # type: ignore[arg-type]
            assert broken.renewals == 3
            counts = store.delivery_counts()
    assert "claimed" not in counts  # what was not sent went back to the queue
    assert counts["sent"] == len(handler.arrivals) < 60
    assert counts["queued"] == 60 - counts["sent"]


def test_a_run_that_could_not_deliver_exits_3(project: Path) -> None:
    """One message and the server down: no three failed connects in a row, just a retry;
    the run still says it is not done (exit 3), where it used to exit 0."""
    from .conftest import free_port

    config = write_config(project, extra=smtp_extra(free_port()))
    cli("subscribers", "add", "ann@example.com", "--config", str(config))
    result = cli("run", "--once", "--config", str(config))
    assert result.exit_code == 3, result.output
    assert "0 sent, 1 to retry" in result.output and "wait for a retry" in result.output
    assert cli("deliveries", "--config", str(config)).output.count("retry") >= 1


@pytest.mark.slow
def test_a_big_send_builds_in_worker_processes(
    project: Path, monkeypatch: pytest.MonkeyPatch, dkim_key_pem: bytes, ed25519_key_pem: bytes
) -> None:
    """With build workers the same mail goes out, exactly once each, DKIM-signed (RSA and
    Ed25519), and an address that cannot be used is still recorded as failed."""
    from publisher import jobs
    from publisher.mail.builders import BuildPool

    monkeypatch.setattr(jobs, "BUILD_IN_PROCESSES_FROM", 1)  # a pool even for a small test
    handed: list[int] = []  # how many messages each batch sent to the workers held
    submit = BuildPool.submit
    monkeypatch.setattr(
        BuildPool,
        "submit",
        lambda pool, batch: (handed.append(len(batch)), submit(pool, batch))[1],
    )
    (project / "dkim.pem").write_bytes(dkim_key_pem)
    (project / "ed.pem").write_bytes(ed25519_key_pem)
    handler = FaultyHandler()
    with smtp_server(handler) as server:
        extra = smtp_extra(
            server.port, delivery="connections = 2\nbatch_size = 7\nbuild_processes = 1\n"
        )
        extra += '[dkim]\nselector = "s"\ndomain = "news.example.com"\nkey_path = "dkim.pem"\n'
        extra += 'ed25519_selector = "e"\ned25519_key_path = "ed.pem"\n'
        settings = load_settings(write_config(project, extra=extra), environ={})
        with open_store(settings) as store:
            queue_digests(
                settings, store, [*(f"r{i}@example.com" for i in range(30)), "no-at-sign"]
            )
            report, _ = jobs.run_send(settings, store)
            assert (report.sent, report.failed) == (30, 1), report
            assert store.delivery_counts() == {"sent": 30, "failed": 1}
    assert sum(handed) == 31 and max(handed) <= 7  # every message built by the worker
    assert set(handler.per_recipient().values()) == {1} and len(handler.per_recipient()) == 30
    records = dkim_records(dkim_key_pem, ed25519_key_pem, ("s", "e"))
    both = [(b"rsa-sha256", True), (b"ed25519-sha256", True)]
    assert all(dkim_results(data, records) == both for data in handler.contents)
