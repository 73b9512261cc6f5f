"""Shared fixtures: a throwaway project folder, a real SMTP server, and the CLI runner."""

from __future__ import annotations

import mailbox
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from sqlalchemy import select, text

from publisher.cli import main
from publisher.config import Settings, load_settings
from publisher.models import Article
from publisher.store import Store
from publisher.store.schema import articles, subscribers

ROOT = Path(__file__).resolve().parent.parent
SEED = "000_70c30224e34ffb25.txt"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    """One message as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class SmtpSink:
    """An aiosmtpd handler that keeps every message it accepts."""

    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            )
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, SmtpSink]]:
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, sink
    finally:
        controller.stop()


def write_config(root: Path, extra: str = "", **site: str) -> Path:
    """A config.toml in ``root`` like the sample one, with paths inside ``root``; ``site``
    overrides or adds [site] keys."""
    values = {
        "name": "The Daily Dispatch",
        "url": "https://news.example.com",
        "timezone": "Asia/Karachi",
        "secret_key": "test-secret-0123456789abcdef",
        "postal_address": "The Daily Dispatch, 1 Press Lane, Karachi 74000, Pakistan",
        **site,
    }
    site_lines = "\n".join(f'{k} = "{v}"' for k, v in values.items())
    text = f"""
[site]
{site_lines}

[database]
url = "sqlite:///data/publisher.db"

[[sources]]
kind = "files"
name = "newsroom"
path = "content"

[feeds]
dir = "feeds"
media_dir = "media"
fetch_media = false

[digest]
from_address = "digest@news.example.com"
outbox = "outbox"
{extra}
"""
    path = root / "config.toml"
    path.write_text(text, encoding="utf-8")
    (root / "content").mkdir(exist_ok=True)  # the source folder must exist
    if "maildir" in extra:
        mailbox.Maildir(str(root / "bounces"), create=True)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder holding a copy of the sample content and a config for it."""
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copytree(ROOT / "media", tmp_path / "media")
    write_config(tmp_path)
    return tmp_path


@pytest.fixture
def settings(project: Path) -> Settings:
    return load_settings(project / "config.toml", environ={})


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the publisher command line in-process, as a user would type it."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


# Where the PostgreSQL tests make their databases (CI starts this server; see .ci/run).
PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine

    name = f"publisher_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # CI starts PostgreSQL; a laptop without one skips these tests
        admin.dispose()
        where = admin.url.render_as_string(hide_password=True)
        pytest.skip(f"PostgreSQL at {where} is not reachable ({exc.__class__.__name__})")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_rsa_key(path: Path, bits: int = 2048) -> Path:
    """A throwaway RSA private key (PEM), made with openssl, so no key lives in the repo."""
    import subprocess

    subprocess.run(
        ["openssl", "genrsa", "-out", str(path), str(bits)], check=True, capture_output=True
    )
    return path


@pytest.fixture(scope="session")
def dkim_key_pem(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_rsa_key(tmp_path_factory.mktemp("dkim") / "dkim.pem").read_bytes()


@pytest.fixture(scope="session")
def ed25519_key_pem(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A throwaway Ed25519 private key made as the README tells operators to."""
    import subprocess

    path = tmp_path_factory.mktemp("dkim") / "dkim-ed25519.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(path)],
        check=True,
        capture_output=True,
    )
    return path.read_bytes()


def dkim_verifies(data: bytes, rsa_pem: bytes) -> bool:
    """Whether dkimpy verifies the top DKIM-Signature of ``data`` with this RSA key's
    record, as a receiver that checks only the first signature would."""
    import dkim

    from publisher.mail.dkim import public_key_base64

    record = f"v=DKIM1; k=rsa; p={public_key_base64(rsa_pem)}".encode()
    return bool(dkim.verify(data, dnsfunc=lambda name, timeout=5: record))


def dkim_records(
    rsa_pem: bytes, ed25519_pem: bytes, selectors: tuple[str, str] = ("digest", "ed-digest")
) -> dict[str, str]:
    """Selector -> TXT value for an RSA and an Ed25519 key: what ``publisher dkim show``
    has the operator publish."""
    from publisher.mail.dkim import ed25519_public_key_base64, public_key_base64

    return {
        selectors[0]: f"v=DKIM1; k=rsa; p={public_key_base64(rsa_pem)}",
        selectors[1]: f"v=DKIM1; k=ed25519; p={ed25519_public_key_base64(ed25519_pem)}",
    }


def dkim_results(data: bytes, records: dict[str, str]) -> list[tuple[bytes, bool]]:
    """(a= algorithm, verified) of every DKIM-Signature in ``data``, top first, checked by
    dkimpy (the independent verifier) against ``records``: selector -> its TXT value."""
    import dkim

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return records.get(name.decode().split("._domainkey.")[0], "").encode()

    verifier = dkim.DKIM(data)
    head = data.partition(b"\r\n\r\n")[0]
    count = head.lower().count(b"\ndkim-signature:") + head.lower().startswith(b"dkim-signature:")
    results = []
    for idx in range(count):
        ok = bool(verifier.verify(idx=idx, dnsfunc=dns))
        results.append((verifier.signature_fields[b"a"], ok))
    return results


# -- reading the database in tests: plain SQL, so the store keeps only what publisher uses ----
def stored_article(store: Store, key: str) -> Article | None:
    """The stored article with this source key, or None."""
    with store.engine.connect() as conn:
        found = conn.execute(select(articles.c.id).where(articles.c.key == key)).scalar()
    return store.articles_by_ids([int(found)])[0] if found is not None else None


def count_rows(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def subscriber_state(store: Store, email: str) -> tuple[str, int] | None:
    """(status, bounce count) of the subscriber with this address."""
    query = select(subscribers.c.status, subscribers.c.bounce_count).where(
        subscribers.c.email == email
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return (str(row.status), int(row.bounce_count)) if row else None


def next_digest_time(store: Store) -> datetime:
    """Just after the earliest time an active subscriber's next digest is due: "tomorrow
    morning" for tests that step from one digest to the next (within the catch-up grace)."""
    due = [s.next_due_at for s in store.list_subscribers("active") if s.next_due_at]
    return min(due) + timedelta(minutes=1)
