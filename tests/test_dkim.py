"""The DKIM signer (OpenSSL through ``cryptography``) checked by an independent verifier,
dkimpy: every canonicalisation, every shape of message publisher sends, RSA alone and with
an Ed25519 signature beside it, and as each transport delivers it."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest

from publisher.config import Settings, load_settings
from publisher.errors import ConfigError
from publisher.jobs import open_store, run_send
from publisher.mail.dkim import (
    Signer,
    make_signer,
    relaxed_body,
)
from publisher.mail.mime import header_line, qp_encode, simple_message
from publisher.models import Subscriber

from .conftest import cli, dkim_records, dkim_results, dkim_verifies, write_config
from .smtp_faults import FaultyHandler, queue_digests, smtp_extra, smtp_server
from .test_digest_content import sample_edition

WHEN = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
CANONICALISATIONS = ["relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"]
READERS = [
    Subscriber(7, "ann@example.com", "Ann Reader"),
    Subscriber(8, "zoe@example.com", "Zoë Ünal-Smith de la Fontaine-Boulanger y Rodríguez"),
    Subscriber(9, "x" * 40 + "@example.com", ""),  # long List-Unsubscribe and To
]


@pytest.mark.parametrize("canonicalization", CANONICALISATIONS)
def test_digests_verify_with_dkimpy(
    settings: Settings, dkim_key_pem: bytes, canonicalization: str
) -> None:
    composer, edition = sample_edition(settings)
    composer.signer = Signer("digest", "news.example.com", dkim_key_pem, canonicalization)
    for reader in READERS:
        data = composer.message(edition, reader, WHEN).data
        assert data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=" + canonicalization.encode())
        assert dkim_verifies(data, dkim_key_pem), (canonicalization, reader.email)
        # Anything changed on the way breaks it: the body, or a second From added on top.
        assert not dkim_verifies(data.replace(b"Senate", b"Senatf", 1), dkim_key_pem)
        head, _, body = data.partition(b"\r\n\r\n")
        forged = head + b"\r\nFrom: Someone Else <ceo@example.com>\r\n\r\n" + body
        assert not dkim_verifies(forged, dkim_key_pem)


@pytest.mark.parametrize("canonicalization", CANONICALISATIONS)
def test_an_ed25519_signature_beside_rsa_verifies(
    settings: Settings, dkim_key_pem: bytes, ed25519_key_pem: bytes, canonicalization: str
) -> None:
    """RFC 8463: a second signature, ed25519-sha256 under its own selector, below the RSA
    one; dkimpy verifies each, and each breaks on its own when anything changes."""
    composer, edition = sample_edition(settings)
    composer.signer = Signer(
        "digest", "news.example.com", dkim_key_pem, canonicalization,
        ed25519_key=("ed-digest", ed25519_key_pem),
    )  # fmt: skip
    published = dkim_records(dkim_key_pem, ed25519_key_pem)
    both = [(b"rsa-sha256", True), (b"ed25519-sha256", True)]
    other_ed = ed_key()
    for reader in READERS:
        data = composer.message(edition, reader, WHEN).data
        assert data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;")
        assert b"\r\nDKIM-Signature: v=1; a=ed25519-sha256;" in data
        assert b" s=ed-digest;" in data
        assert dkim_results(data, published) == both, (canonicalization, reader.email)
        # A receiver that only reads the first signature still finds RSA, and it holds.
        assert dkim_verifies(data, dkim_key_pem)
        tampered = data.replace(b"Senate", b"Senatf", 1)
        assert dkim_results(tampered, published) == [(a, False) for a, _ in both]
        # Another Ed25519 key published under the selector fails that signature only.
        wrong = {**published, "ed-digest": dkim_records(dkim_key_pem, other_ed)["ed-digest"]}
        assert dkim_results(data, wrong) == [(b"rsa-sha256", True), (b"ed25519-sha256", False)]


def ed_key() -> bytes:
    """A second Ed25519 key (PEM), made in process: only its public half is ever used."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize("canonicalization", CANONICALISATIONS)
def test_one_off_messages_and_awkward_bodies_verify(
    dkim_key_pem: bytes, ed25519_key_pem: bytes, canonicalization: str
) -> None:
    """Notices and bodies with odd ends verify, under both signatures."""
    signer = Signer(
        "digest", "news.example.com", dkim_key_pem, canonicalization,
        ed25519_key=("ed-digest", ed25519_key_pem),
    )  # fmt: skip
    published = dkim_records(dkim_key_pem, ed25519_key_pem)
    both = [(b"rsa-sha256", True), (b"ed25519-sha256", True)]
    notice = simple_message(
        sender="digest@news.example.com", sender_name="The Daily Dispatch",
        recipient="ann@example.com", recipient_name="Ann Müller", subject="Confirm " * 12,
        text="Hello,\n\nwith  double  spaces\tand tabs \n\n\n", html="<p>Hi</p>   \n\n",
        message_id="<n.1@news.example.com>", date=WHEN,
    )  # fmt: skip
    assert dkim_results(signer.sign(notice), published) == both
    folded = header_line("Subject", "A subject " * 12) + b"From: a@news.example.com\r\n\r\n"
    for body in (b"", b"one line without an end", b"trailing   \r\n\r\n\r\n", b"\t \r\n x  y\r\n"):
        assert dkim_results(signer.sign(folded + body), published) == both, body


def test_shared_pieces_hash_like_the_whole_body(settings: Settings, dkim_key_pem: bytes) -> None:
    """Canonicalising a digest piece by piece (long pieces cached) gives the hash of the
    whole body canonicalised at once."""
    signer = Signer("digest", "news.example.com", dkim_key_pem)
    composer, edition = sample_edition(settings)
    composer.signer = None
    for reader in READERS:
        data = composer.message(edition, reader, WHEN).data
        body = data.partition(b"\r\n\r\n")[2]
        whole = hashlib.sha256(relaxed_body(body)).digest()
        prepared = composer.prepare(edition, settings.site.tz, False)
        values = composer.personal_values(reader, WHEN, settings.site.tz)
        pieces = prepared.body.pieces(
            {f: qp_encode(values[f]) for f in prepared.text_fields},
            {f: qp_encode(escape(values[f])) for f in prepared.html_fields},
        )
        assert b"".join(pieces) == body
        assert signer.body_hash(pieces) == whole


def test_a_key_that_is_not_rsa_is_refused(dkim_key_pem: bytes, ed25519_key_pem: bytes) -> None:
    with pytest.raises(ConfigError, match="not a PEM RSA private key"):
        Signer(
            "s", "example.com", b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"
        )
    with pytest.raises(ConfigError, match="not an RSA key") as swapped:
        Signer("s", "example.com", ed25519_key_pem)
    assert "openssl genrsa" in str(swapped.value.hint)
    with pytest.raises(ConfigError, match="not an Ed25519 key") as wrong:
        Signer("s", "example.com", dkim_key_pem, ed25519_key=("e", dkim_key_pem))
    assert "genpkey -algorithm ed25519" in str(wrong.value.hint)
    with pytest.raises(ConfigError, match="not a PEM Ed25519 private key"):
        Signer("s", "example.com", dkim_key_pem, ed25519_key=("e", b"not a key"))


DKIM_TABLE = '\n[dkim]\nselector = "d1"\ndomain = "news.example.com"\nkey_path = "dkim.pem"\n'


def test_dkim_show_publishes_what_the_configured_signer_signs_with(
    project: Path, dkim_key_pem: bytes, ed25519_key_pem: bytes
) -> None:
    """`publisher dkim show` prints one zone-file line per key; publishing exactly those
    records makes both signatures of a message from ``[dkim]`` verify."""
    (project / "dkim.pem").write_bytes(dkim_key_pem)
    (project / "keys").mkdir()
    (project / "keys" / "ed.pem").write_bytes(ed25519_key_pem)
    extra = DKIM_TABLE + 'ed25519_selector = "d1-ed"\ned25519_key_path = "keys/ed.pem"\n'
    config = write_config(project, extra=extra)
    shown = cli("dkim", "show", "--config", str(config))
    assert shown.exit_code == 0, shown.output
    lines = shown.output.strip().splitlines()
    assert [line.split(" IN TXT ")[0] for line in lines] == [
        "d1._domainkey.news.example.com.",
        "d1-ed._domainkey.news.example.com.",
    ]
    published = {
        line.split("._domainkey.")[0]: "".join(re.findall(r'"([^"]*)"', line)) for line in lines
    }
    assert published["d1-ed"].startswith("v=DKIM1; k=ed25519; p=")
    assert len(base64.b64decode(published["d1-ed"].rsplit("p=", 1)[1])) == 32  # RFC 8463 4
    signer = make_signer(load_settings(config, environ={}))
    assert signer is not None
    notice = b"From: a@news.example.com\r\nTo: b@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"
    assert dkim_results(signer.sign(notice), published) == [
        (b"rsa-sha256", True),
        (b"ed25519-sha256", True),
    ]


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ('ed25519_selector = "d1-ed"\n', "ed25519_selector and dkim.ed25519_key_path go together"),
        ('ed25519_key_path = "ed.pem"\n', "ed25519_selector and dkim.ed25519_key_path go together"),
        ('ed25519_selector = "d1"\ned25519_key_path = "ed.pem"\n', "is dkim.selector too"),
        ('ed25519_selector = "d1-ed"\ned25519_key_path = "missing.pem"\n', "check [dkim] ed25519_key_path"),
        ('ed25519_selector = "d1-ed"\ned25519_key_path = "dkim.pem"\n', "not an Ed25519 key"),
    ],
)  # fmt: skip
def test_a_bad_ed25519_setting_names_the_key_and_the_fix(
    project: Path, dkim_key_pem: bytes, ed25519_key_pem: bytes, extra: str, said: str
) -> None:
    (project / "dkim.pem").write_bytes(dkim_key_pem)
    (project / "ed.pem").write_bytes(ed25519_key_pem)
    result = cli("dkim", "show", "--config", str(write_config(project, extra=DKIM_TABLE + extra)))
    assert result.exit_code == 1, result.output
    assert said in result.output
    assert "Traceback" not in result.output and "PRIVATE KEY" not in result.output


@pytest.mark.parametrize("transport", ["smtp", "smtp-pipelined", "maildir"])
def test_signed_digests_verify_as_every_transport_delivers_them(
    project: Path, dkim_key_pem: bytes, ed25519_key_pem: bytes, transport: str
) -> None:
    """What arrives over SMTP (with and without pipelining) or lands in the outbox
    maildir still carries two signatures that verify."""
    (project / "dkim.pem").write_bytes(dkim_key_pem)
    (project / "ed.pem").write_bytes(ed25519_key_pem)
    dkim_table = DKIM_TABLE + 'ed25519_selector = "d1-ed"\ned25519_key_path = "ed.pem"\n'
    published = dkim_records(dkim_key_pem, ed25519_key_pem, ("d1", "d1-ed"))
    readers = ["ann@example.com", "zoe.unal-smith@example.com", "x" * 40 + "@example.com"]
    handler = FaultyHandler(pipelining=transport == "smtp-pipelined")
    with smtp_server(handler) as server:
        extra = dkim_table + (smtp_extra(server.port) if transport != "maildir" else "")
        settings = load_settings(write_config(project, extra=extra), environ={})
        with open_store(settings) as store:
            queue_digests(settings, store, readers)
            report, _ = run_send(settings, store)
    assert report.sent == len(readers), report
    if transport == "maildir":
        files = sorted((project / "outbox" / "new").iterdir())
        delivered = [f.read_bytes() for f in files]
    else:
        delivered = handler.contents
    assert len(delivered) == len(readers)
    for data in delivered:
        assert dkim_results(data, published) == [
            (b"rsa-sha256", True),
            (b"ed25519-sha256", True),
        ]
