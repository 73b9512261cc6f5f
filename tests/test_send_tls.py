"""TLS and AUTH against a real server: STARTTLS and implicit TLS with a certificate the test
makes (trusted through ``[smtp] ca_file``), AUTH LOGIN and PLAIN, and the failures an operator
must see clearly: an untrusted certificate, a refused password. None of them loses a delivery."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from publisher.config import Settings, load_settings
from publisher.jobs import open_store
from publisher.mail import TransportFatal

from .conftest import write_config
from .smtp_faults import (
    FaultyHandler,
    PrebuiltMessages,
    queue_digests,
    send_with,
    smtp_server,
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    return context


class Accounts:
    """An aiosmtpd authenticator that knows one account and remembers the mechanisms used."""

    def __init__(self) -> None:
        self.mechanisms: list[str] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.mechanisms.append(mechanism)
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"digest",
            b"s3cret",
        )
        return AuthResult(success=ok, handled=False)


def settings_for(project: Path, port: int, smtp: str) -> Settings:
    extra = f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\ntimeout = 10\n{smtp}\n'
    return load_settings(write_config(project, extra=extra), environ={})


def queue_two(settings: Settings) -> None:
    with open_store(settings) as store:
        queue_digests(settings, store, ["ann@example.com", "bob@example.com"])


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_starttls_and_auth(project: Path, certificate: tuple[Path, Path], mechanism: str) -> None:
    cert, key = certificate
    accounts = Accounts()
    handler = FaultyHandler()
    other = "PLAIN" if mechanism == "LOGIN" else "LOGIN"
    with smtp_server(
        handler,
        tls_context=server_context(cert, key),
        require_starttls=True,
        authenticator=accounts,
        auth_require_tls=True,
        auth_exclude_mechanism=[other],
    ) as server:
        settings = settings_for(
            project,
            server.port,
            f'security = "starttls"\nca_file = "{cert}"\nusername = "digest"\npassword = "s3cret"',
        )
        queue_two(settings)
        with open_store(settings) as store:
            report = send_with(settings, store, PrebuiltMessages())
            assert store.delivery_counts() == {"sent": 2}
    assert report.sent == 2
    assert sorted(handler.per_recipient()) == ["ann@example.com", "bob@example.com"]
    assert accounts.mechanisms and set(accounts.mechanisms) == {mechanism}


def test_implicit_tls(project: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    handler = FaultyHandler()
    with smtp_server(handler, ssl_context=server_context(cert, key)) as server:
        settings = settings_for(project, server.port, f'security = "tls"\nca_file = "{cert}"')
        queue_two(settings)
        with open_store(settings) as store:
            assert send_with(settings, store, PrebuiltMessages()).sent == 2
    assert len(handler.arrivals) == 2


def test_untrusted_certificate_stops_the_run_and_keeps_the_queue(
    project: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    with smtp_server(
        FaultyHandler(), tls_context=server_context(cert, key), require_starttls=True
    ) as server:
        settings = settings_for(project, server.port, 'security = "starttls"')
        queue_two(settings)
        with open_store(settings) as store:
            with pytest.raises(TransportFatal) as raised:
                send_with(settings, store, PrebuiltMessages())
            assert "not trusted" in raised.value.message
            assert "ca_file" in raised.value.hint
            assert store.delivery_counts() == {"queued": 2}


def test_refused_password_stops_the_run_and_keeps_the_queue(
    project: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    with smtp_server(
        FaultyHandler(),
        tls_context=server_context(cert, key),
        require_starttls=True,
        authenticator=Accounts(),
        auth_require_tls=True,
    ) as server:
        settings = settings_for(
            project,
            server.port,
            f'security = "starttls"\nca_file = "{cert}"\nusername = "digest"\npassword = "wrong"',
        )
        queue_two(settings)
        with open_store(settings) as store:
            with pytest.raises(TransportFatal) as raised:
                send_with(settings, store, PrebuiltMessages())
            assert "login as 'digest' refused" in raised.value.message
            assert store.delivery_counts() == {"queued": 2}
