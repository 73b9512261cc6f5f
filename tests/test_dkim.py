"""The DKIM signer (OpenSSL through ``cryptography``) checked by an independent verifier,
dkimpy: every canonicalisation, every shape of message publisher sends."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from html import escape

import dkim
import pytest

from publisher.config import Settings
from publisher.errors import ConfigError
from publisher.mail.dkim import Signer, public_key_base64, relaxed_body
from publisher.mail.mime import header_line, qp_encode, simple_message
from publisher.models import Subscriber

from .test_digest_content import sample_edition

WHEN = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
CANONICALISATIONS = ["relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"]
READERS = [
    Subscriber(7, "ann@example.com", "Ann Reader"),
    Subscriber(8, "zoe@example.com", "Zoë Ünal-Smith de la Fontaine-Boulanger y Rodríguez"),
    Subscriber(9, "x" * 40 + "@example.com", ""),  # long List-Unsubscribe and To
]


def verifies(data: bytes, key: bytes) -> bool:
    record = f"v=DKIM1; k=rsa; p={public_key_base64(key)}".encode()
    return bool(dkim.verify(data, dnsfunc=lambda name, timeout=5: record))


@pytest.mark.parametrize("canonicalization", CANONICALISATIONS)
def test_digests_verify_with_dkimpy(
    settings: Settings, dkim_key_pem: bytes, canonicalization: str
) -> None:
    composer, edition = sample_edition(settings)
    composer.signer = Signer("digest", "news.example.com", dkim_key_pem, canonicalization)
    for reader in READERS:
        data = composer.message(edition, reader, WHEN).data
        assert data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=" + canonicalization.encode())
        assert verifies(data, dkim_key_pem), (canonicalization, reader.email)
        # Anything changed on the way breaks it: the body, or a second From added on top.
        assert not verifies(data.replace(b"Senate", b"Senatf", 1), dkim_key_pem)
        head, _, body = data.partition(b"\r\n\r\n")
        forged = head + b"\r\nFrom: Someone Else <ceo@example.com>\r\n\r\n" + body
        assert not verifies(forged, dkim_key_pem)


@pytest.mark.parametrize("canonicalization", CANONICALISATIONS)
def test_one_off_messages_and_awkward_bodies_verify(
    dkim_key_pem: bytes, canonicalization: str
) -> None:
    signer = Signer("digest", "news.example.com", dkim_key_pem, canonicalization)
    notice = simple_message(
        sender="digest@news.example.com", sender_name="The Daily Dispatch",
        recipient="ann@example.com", recipient_name="Ann Müller", subject="Confirm " * 12,
        text="Hello,\n\nwith  double  spaces\tand tabs \n\n\n", html="<p>Hi</p>   \n\n",
        message_id="<n.1@news.example.com>", date=WHEN,
    )  # fmt: skip
    assert verifies(signer.sign(notice), dkim_key_pem)
    folded = header_line("Subject", "A subject " * 12) + b"From: a@news.example.com\r\n\r\n"
    for body in (b"", b"one line without an end", b"trailing   \r\n\r\n\r\n", b"\t \r\n x  y\r\n"):
        assert verifies(signer.sign(folded + body), dkim_key_pem), body


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


def test_a_key_that_is_not_rsa_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a PEM RSA private key"):
        Signer(
            "s", "example.com", b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"
        )
