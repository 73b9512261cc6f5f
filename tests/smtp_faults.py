"""A real SMTP server (aiosmtpd) that misbehaves on purpose, and helpers to fill a queue fast.

``FaultyHandler`` answers a share of RCPT and DATA commands with 421/451, refuses some
addresses with 550 every time, and drops some connections after the message data arrived but
before its reply (the nastiest moment: the client cannot know). It keeps every message it
accepted, with the time it accepted it, so tests can count arrivals per recipient.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import insert

from publisher.config import Settings
from publisher.digest.plan import plan_editions
from publisher.jobs import run_collect
from publisher.mail.mime import OutgoingMessage, message_id
from publisher.mail.queue import MessageBuilder, SendReport, send_pending
from publisher.mail.transports import make_transport_factory
from publisher.models import Edition, Subscriber
from publisher.store import Store
from publisher.store.schema import subscribers

from .conftest import free_port


@dataclass
class Arrival:
    recipient: str
    message_id: str
    at: float  # time.monotonic() when the server accepted it


@dataclass
class FaultyHandler:
    """Injects faults with the given probabilities; ``refuse`` says which addresses get 550."""

    p_rcpt: float = 0.0  # RCPT answered 421 or 451
    p_data: float = 0.0  # end of DATA answered 421 or 451
    p_drop: float = 0.0  # connection dropped before the reply to DATA (message discarded)
    refuse: Callable[[str], bool] = lambda _address: False
    seed: int = 1
    pipelining: bool = False  # offer PIPELINING (RFC 2920) in the EHLO answer
    arrivals: list[Arrival] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    contents: list[bytes] = field(default_factory=list)  # raw message data, in arrival order
    peers: list[Any] = field(default_factory=list)  # the client (address, port) of each arrival
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:  # aiosmtpd reads pipelined commands in order; it only needs saying
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    def _temporary(self, server: Any, where: str) -> str:
        code = self.rng.choice(["421", "451"])
        self.faults[f"{code} {where}"] += 1
        if code == "421":  # "closing the transmission channel": really close it after the reply
            asyncio.get_running_loop().call_soon(server.transport.close)
            return "421 4.7.0 too busy, closing connection"
        return "451 4.3.0 temporary local problem, try later"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse(address):
            self.faults["550 rcpt"] += 1
            return "550 5.1.1 no such user here"
        if self.rng.random() < self.p_rcpt:
            return self._temporary(server, "rcpt")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        roll = self.rng.random()
        if roll < self.p_drop:
            self.faults["drop data"] += 1
            server.transport.abort()
            return "250 OK (never seen: the connection is gone)"
        if roll < self.p_drop + self.p_data:
            return self._temporary(server, "data")
        message_id = ""
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                message_id = line.split(b":", 1)[1].strip().decode()
                break
            if not line:
                break
        with self.lock:
            self.contents.append(envelope.original_content or envelope.content)
            self.peers.append(session.peer)
            for rcpt in envelope.rcpt_tos:
                self.arrivals.append(Arrival(rcpt, message_id, time.monotonic()))
        return "250 2.0.0 queued"

    def per_recipient(self) -> Counter[str]:
        with self.lock:
            return Counter(a.recipient for a in self.arrivals)


@contextmanager
def smtp_server(handler: Any, **kwargs: Any) -> Iterator[Controller]:
    """Run ``handler`` on a free loopback port for the duration of the block."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def add_subscribers(store: Store, addresses: Iterable[str], last_article_id: int = 0) -> None:
    """Many subscribers in one statement (``add_subscriber`` commits once per address)."""
    now = datetime.now(UTC)
    rows = [
        {
            "email": a,
            "name": "",
            "status": "active",
            "created_at": now,
            "last_article_id": last_article_id,
        }
        for a in addresses
    ]
    with store.engine.begin() as conn:
        conn.execute(insert(subscribers), rows)


def queue_digests(settings: Settings, store: Store, addresses: Iterable[str]) -> None:
    """Subscribers at ``addresses``, the sample articles collected, and each one's digest
    queued: where a delivery test starts."""
    add_subscribers(store, addresses)
    run_collect(settings, store)
    plan_editions(settings, store)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment that puts a test's database on SQLite (the config's file) or on a
    fresh PostgreSQL database: delivery tests run on both, as CI runs them."""
    if request.param == "sqlite":
        return {}
    return {"PUBLISHER_DATABASE_URL": request.getfixturevalue("pg_url")}


def smtp_extra(port: int, *, delivery: str = "", smtp: str = "") -> str:
    """The [smtp] and [delivery] tables for a test config."""
    return (
        f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 10\n{smtp}\n'
        f"[delivery]\n{delivery}\n"
    )


class PrebuiltMessages:
    """A cheap ``MessageBuilder``: one small fixed body, per subscriber only the envelope,
    To and the real Message-ID. Tests that measure the queue (not MIME building) use it."""

    def __init__(self, domain: str = "news.example.com", body: bytes = b"Hello.\r\n" * 40) -> None:
        self.domain = domain
        self.body = body

    def refuse(self, edition: Edition, subscriber: Subscriber) -> str:
        return "" if subscriber.status == "active" else f"subscriber is {subscriber.status}"

    def message(self, edition: Edition, subscriber: Subscriber, when: datetime) -> OutgoingMessage:
        mid = message_id(edition.id, subscriber.id, self.domain)
        head = (
            f"From: digest@{self.domain}\r\nTo: {subscriber.email}\r\nMessage-ID: {mid}\r\n"
            f"Subject: digest {edition.id}\r\n\r\n"
        )
        return OutgoingMessage(
            f"digest@{self.domain}", subscriber.email, mid, head.encode() + self.body
        )


def send_with(
    settings: Settings, store: Store, builder: MessageBuilder | None = None, **kwargs: Any
) -> SendReport:
    """``send_pending`` over the configured transport, with mail built as in production
    (``MailBuilder``) unless a cheaper ``builder`` is given."""
    if builder is None:
        from publisher.digest.compose import DigestComposer, make_renderer
        from publisher.readers.notices import MailBuilder

        renderer = make_renderer(settings)
        builder = MailBuilder(settings, DigestComposer(settings, store, renderer), renderer)
    return send_pending(
        settings.delivery, store, make_transport_factory(settings), builder, **kwargs
    )
