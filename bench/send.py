"""Benchmark: how fast the sender delivers prebuilt 40 KB messages over loopback.

Not a test. Run it with ``.venv/bin/python bench/send.py [--messages 20000]``.

The receiving end is a minimal asyncio SMTP sink (``bench/sink.py``) in its own process.

What is measured, in one run:

- **transport**: the ``SenderPool`` (N threads, one reused ``SmtpTransport`` connection each)
  fed prebuilt messages, no database: what the SMTP side can do, for 1, 4 and 8 connections;
- **queue**: the full path of ``publisher send``: claim batches from a SQLite queue, hand them
  to the pool, commit every result (and its history row) right after the server's reply. MIME
  building is replaced by prebuilt messages (the digest's job, measured in bench/digest.py);
- **queue with DKIM**: the same, every message DKIM-signed by publisher's signer (OpenSSL),
  in the sending threads and then in worker processes (``BuildPool``, one per core but one,
  as ``publisher send`` does for a big send: the figure on the last line), against dkimpy's
  signer (the earlier one) in the sending threads; and the CPU one signature costs;
- **baseline**: plain smtplib, a new connection per message, one after another.

The last line reads ``bench send: <N> messages/s full path with DKIM (4 connections; dkimpy
baseline <M> messages/s; transport alone <T> messages/s)``. The figures depend on the
machine: the sender, its SQLite commits and the sink share the cores.
"""

from __future__ import annotations

import argparse
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from sqlalchemy import insert, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


from sink import start_sink  # noqa: E402

from publisher.config import parse_settings  # noqa: E402
from publisher.digest.plan import plan_editions  # noqa: E402
from publisher.mail import OutgoingMessage, SmtpTransport, TransportChoice  # noqa: E402
from publisher.mail.builders import BuildPool, default_processes  # noqa: E402
from publisher.mail.dkim import Signer  # noqa: E402
from publisher.mail.mime import message_id  # noqa: E402
from publisher.mail.pool import SenderPool  # noqa: E402
from publisher.mail.queue import send_pending  # noqa: E402
from publisher.mail.ratelimit import RateLimiter  # noqa: E402
from publisher.models import Edition, Subscriber  # noqa: E402
from publisher.store import Store  # noqa: E402
from publisher.store.schema import deliveries, subscribers  # noqa: E402

SIZE = 40 * 1024
BODY = (b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n" * 600)[
    :SIZE
]


# -- the messages -----------------------------------------------------------------------------
class Prebuilt:
    """40 KB messages: a fixed body, per recipient only the headers that differ."""

    def refuse(self, edition: Edition, subscriber: Subscriber) -> str:
        return ""

    def message(self, edition: Edition, subscriber: Subscriber, when: datetime) -> OutgoingMessage:
        return make_message(edition.id, subscriber.id, subscriber.email)


class Signed(Prebuilt):
    """The same messages, each DKIM-signed as publisher signs them (the shared body's
    canonical form cached, the headers and the RSA signature per message)."""

    def __init__(self, key: bytes, ed25519_key: bytes | None = None) -> None:
        self.key = key
        second = ("bench-ed", ed25519_key) if ed25519_key is not None else None
        self.signer = Signer("bench", "news.example.com", key, ed25519_key=second)

    def message(self, edition: Edition, subscriber: Subscriber, when: datetime) -> OutgoingMessage:
        m = make_message(edition.id, subscriber.id, subscriber.email)
        data = self.signer.sign(m.data, self.signer.body_hash([BODY]))
        return OutgoingMessage(m.sender, m.recipient, m.message_id, data)


class SignedByDkimpy(Prebuilt):
    """The baseline: the same messages signed by dkimpy, as publisher did before."""

    def __init__(self, key: bytes) -> None:
        import dkim

        self.key = key
        self.sign = dkim.sign

    def message(self, edition: Edition, subscriber: Subscriber, when: datetime) -> OutgoingMessage:
        m = make_message(edition.id, subscriber.id, subscriber.email)
        signature = self.sign(
            m.data, b"bench", b"news.example.com", self.key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[b"from", b"to", b"subject", b"message-id", b"from", b"subject"],
            linesep=b"\r\n",
        )  # fmt: skip
        return OutgoingMessage(m.sender, m.recipient, m.message_id, bytes(signature) + m.data)


def make_message(edition_id: int, subscriber_id: int, email: str) -> OutgoingMessage:
    mid = message_id(edition_id, subscriber_id, "news.example.com")
    head = (
        f"From: digest@news.example.com\r\nTo: {email}\r\nMessage-ID: {mid}\r\n"
        "Subject: bench\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
    ).encode()
    return OutgoingMessage("digest@news.example.com", email, mid, head + BODY)


# -- the measurements -------------------------------------------------------------------------
def settings_for(port: int, connections: int, db: Path):  # type: ignore[no-untyped-def]
    data = {
        "site": {
            "url": "https://news.example.com",
            "secret_key": "bench-secret-0123456789",
            "postal_address": "The Daily Dispatch, 1 Press Lane, Karachi",
        },
        "sources": [{"kind": "files", "name": "bench", "path": "."}],  # nothing collected
        "database": {"url": f"sqlite:///{db}"},
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 30},
        "delivery": {"connections": connections, "batch_size": 200},
        "digest": {"when_empty": "note"},  # the planner queues one note per subscriber
    }
    return parse_settings(data, db.parent, "bench", environ={})


def bench_transport(port: int, connections: int, count: int) -> float:
    settings = settings_for(port, connections, Path(tempfile.gettempdir()) / "unused.db")
    assert settings.smtp is not None
    smtp = settings.smtp
    done = [0]
    lock = threading.Lock()

    def handle(
        _item: int, _m: OutgoingMessage, reply: str | None, failure: object, _next: object
    ) -> None:
        assert failure is None, failure
        with lock:
            done[0] += 1

    pool: SenderPool[int] = SenderPool(
        lambda: SmtpTransport(smtp), connections, RateLimiter(), handle, threading.Event()
    )
    started = time.perf_counter()
    pool.start()
    for i in range(count):
        pool.put(i, make_message(1, i, f"r{i}@example.com"))
    pool.close()
    took = time.perf_counter() - started
    assert done[0] == count and pool.error is None
    return count / took


def bench_queue(
    port: int,
    connections: int,
    count: int,
    folder: Path,
    builder: Prebuilt | None = None,
    workers: int = 0,
) -> float:
    """The full path; with ``workers``, messages are built and signed in that many worker
    processes (a ``BuildPool``, as ``publisher send`` does for 1,000 or more due)."""
    folder.mkdir(exist_ok=True)
    db = folder / "queue.db"
    settings = settings_for(port, connections, db)
    with Store(settings.database_url) as store:
        if not store.delivery_counts():
            now = datetime.now(UTC)
            rows = [
                {"email": f"r{i}@example.com", "status": "active", "created_at": now}
                for i in range(count)
            ]
            with store.engine.begin() as conn:
                conn.execute(insert(subscribers), rows)
            plan_editions(settings, store, now)
        else:
            with store.engine.begin() as conn:
                conn.execute(update(deliveries).values(status="queued", attempts=0))
        choice = TransportChoice("bench", lambda: SmtpTransport(settings.smtp), connections)  # type: ignore[arg-type]
        pool = (
            BuildPool(partial(type(builder), builder.key), workers) if builder and workers else None
        )
        started = time.perf_counter()
        try:
            report = send_pending(
                settings.delivery, store, choice, builder or Prebuilt(), builders=pool
            )
        finally:
            if pool is not None:
                pool.close()
        took = time.perf_counter() - started
        assert report.sent == count and store.delivery_counts() == {"sent": count}, report
    return count / took


def throwaway_key(folder: Path, *command: str) -> bytes:
    """A key made for this run with openssl (RSA-2048 unless ``command`` says otherwise):
    no key lives in the repository."""
    path = folder / f"bench-dkim-{len(command)}.pem"
    tool, *rest = command or ("genrsa", "2048")
    subprocess.run(["openssl", tool, "-out", str(path), *rest], check=True, capture_output=True)
    return path.read_bytes()


def per_message_ms(builder: Prebuilt, count: int) -> float:
    """Milliseconds of one thread for ``builder`` to make one message (no sending)."""
    edition = Edition(id=1, kind="daily", cut_at=datetime.now(UTC), article_ids=[])
    people = [Subscriber(id=i, email=f"r{i}@example.com") for i in range(count)]
    when = datetime.now(UTC)
    started = time.process_time()
    for person in people:
        builder.message(edition, person, when)
    return (time.process_time() - started) * 1000 / count


def bench_baseline(port: int, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        m = make_message(1, i, f"r{i}@example.com")
        with smtplib.SMTP("127.0.0.1", port) as conn:
            conn.sendmail(m.sender, [m.recipient], m.data)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--baseline-messages", type=int, default=2_000)
    parser.add_argument("--dkimpy-messages", type=int, default=2_000)
    args = parser.parse_args()

    sink, port, counter = start_sink()
    folder = Path(tempfile.mkdtemp(prefix="bench-send-"))
    expected = 0
    try:
        print(
            f"{args.messages} messages of {SIZE // 1024} KB to an asyncio sink on 127.0.0.1:{port}"
        )
        transport: dict[int, float] = {}
        queue: dict[int, float] = {}
        for k in (1, 4, 8):
            transport[k] = bench_transport(port, k, args.messages)
            expected += args.messages
            print(f"transport alone, {k} connection(s): {transport[k]:,.0f} messages/s")
        for k in (1, 4, 8):
            queue[k] = bench_queue(port, k, args.messages, folder)
            expected += args.messages
            print(f"full queue path (SQLite claims, each reply committed), {k} connection(s): "
                  f"{queue[k]:,.0f} messages/s")  # fmt: skip
        key = throwaway_key(folder)
        plain_ms = per_message_ms(Prebuilt(), 2_000)
        ours_ms = per_message_ms(Signed(key), 2_000) - plain_ms
        theirs_ms = per_message_ms(SignedByDkimpy(key), 300) - plain_ms
        ed_key = throwaway_key(folder, "genpkey", "-algorithm", "ed25519")
        both_ms = per_message_ms(Signed(key, ed_key), 2_000) - plain_ms
        print(f"DKIM cost, CPU of one thread a {SIZE // 1024} KB message (RSA-2048, relaxed/relaxed): "
              f"publisher's signer {ours_ms:.2f} ms, dkimpy {theirs_ms:.2f} ms; "
              f"with an Ed25519 signature beside it {both_ms:.2f} ms")  # fmt: skip
        threads = bench_queue(port, 4, args.messages, folder, Signed(key))
        expected += args.messages
        print(f"full queue path with DKIM signed in the sending threads, 4 connections: "
              f"{threads:,.0f} messages/s")  # fmt: skip
        workers = default_processes()
        signed = (
            bench_queue(port, 4, args.messages, folder, Signed(key), workers)
            if workers
            else threads
        )
        expected += args.messages if workers else 0
        print(f"full queue path with DKIM signed in {workers} worker process(es) (as `publisher "
              f"send` does for 1,000 or more due), 4 connections: {signed:,.0f} messages/s")  # fmt: skip
        dkimpy = bench_queue(port, 4, args.dkimpy_messages, folder / "dkimpy", SignedByDkimpy(key))
        expected += args.dkimpy_messages
        print(f"full queue path with DKIM by dkimpy (the old signer), 4 connections "
              f"({args.dkimpy_messages} messages): {dkimpy:,.0f} messages/s")  # fmt: skip
        baseline = bench_baseline(port, args.baseline_messages)
        expected += args.baseline_messages
        print(f"baseline, smtplib with a new connection per message "
              f"({args.baseline_messages} messages): {baseline:,.0f} messages/s")  # fmt: skip
        time.sleep(0.2)
        assert counter.value == expected, f"the sink accepted {counter.value}, expected {expected}"
        best_queue = max(queue, key=lambda k: queue[k])
        print(f"best full queue path: {queue[best_queue]:,.0f} messages/s "
              f"({best_queue} connections), without DKIM")  # fmt: skip
        print(f"bench send: {signed:.0f} messages/s full path with DKIM (4 connections; "
              f"dkimpy baseline {dkimpy:.0f} messages/s; transport alone {transport[4]:.0f} "
              f"messages/s)")  # fmt: skip
    finally:
        sink.terminate()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
