"""DKIM: sign outgoing digests with dkimpy and print the key's DNS record.

Signing is per message (each recipient's headers and links differ), so it is the most
expensive step of building a digest; ``bench/digest.py`` reports its cost. The key is read once.
"""

from __future__ import annotations

import base64

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

from ..config import DkimConfig, Settings
from ..errors import ConfigError, DeliveryError

# Headers covered by the signature, each as often as the message has it; List-Unsubscribe(-Post)
# must be for one-click (RFC 8058).
SIGNED_HEADERS = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"feedback-id",
    b"mime-version",
    b"content-type",
]
# Signed once more than they occur (RFC 6376 8.15, "over-signing"): a second From or Subject
# added on the way, which some clients would show instead, then breaks the signature.
OVERSIGNED = [b"from", b"subject"]


class Signer:
    """Adds a DKIM-Signature header (relaxed/relaxed, rsa-sha256) to a whole message."""

    def __init__(self, selector: str, domain: str, private_key: bytes) -> None:
        try:
            parse_pem_private_key(private_key)
        except (UnparsableKeyError, ValueError, IndexError) as exc:
            raise ConfigError(
                "the DKIM key is not a PEM RSA private key",
                "point [dkim] key_path at a key made with `openssl genrsa -out dkim.pem 2048`",
            ) from exc
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self.private_key = private_key

    def sign(self, message: bytes) -> bytes:
        try:
            signature = dkim.sign(
                message,
                self.selector,
                self.domain,
                self.private_key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=signed_headers(message),
                linesep=b"\r\n",
            )
        except dkim.DKIMException as exc:
            raise DeliveryError(f"DKIM signing failed: {exc}", "check [dkim]") from exc
        return bytes(signature) + message


def signed_headers(message: bytes) -> list[bytes]:
    """The ``h=`` list for ``message``: each of SIGNED_HEADERS it has, then OVERSIGNED again."""
    head = b"\r\n" + message.split(b"\r\n\r\n", 1)[0].lower()
    return [h for h in SIGNED_HEADERS if b"\r\n" + h + b":" in head] + OVERSIGNED


def read_key(conf: DkimConfig, settings: Settings) -> bytes:
    path = settings.path(conf.key_path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the DKIM key {path}: {exc.strerror}",
            "check [dkim] key_path and its permissions",
        ) from exc


def make_signer(settings: Settings) -> Signer | None:
    """A signer when ``[dkim]`` is configured, else None (mail goes out unsigned)."""
    conf = settings.dkim
    if conf is None:
        return None
    return Signer(conf.selector, conf.domain, read_key(conf, settings))


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _der_int(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")  # leading 0 keeps it positive
    return _der(0x02, raw)


RSA_ALGORITHM = bytes.fromhex("300d06092a864886f70d0101010500")  # rsaEncryption, NULL


def public_key_base64(private_key: bytes) -> str:
    """The SubjectPublicKeyInfo of an RSA private key, base64 (the p= of the DNS record)."""
    try:
        key = parse_pem_private_key(private_key)
    except (UnparsableKeyError, ValueError, IndexError) as exc:
        raise ConfigError(
            "the DKIM key is not a PEM RSA private key", "check [dkim] key_path"
        ) from exc
    rsa = _der(0x30, _der_int(key["modulus"]) + _der_int(key["publicExponent"]))
    spki = _der(0x30, RSA_ALGORITHM + _der(0x03, b"\x00" + rsa))
    return base64.b64encode(spki).decode("ascii")


def dns_record(settings: Settings) -> tuple[str, str]:
    """(name, TXT value) to publish for the configured key."""
    conf = settings.dkim
    if conf is None:
        raise ConfigError(
            "no [dkim] table in the configuration", "add [dkim] selector, domain, key_path"
        )
    value = f"v=DKIM1; k=rsa; p={public_key_base64(read_key(conf, settings))}"
    return f"{conf.selector}._domainkey.{conf.domain}", value


def txt_strings(value: str) -> str:
    """A TXT value split into quoted strings of at most 255 characters (what DNS allows)."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


__all__ = ["Signer", "dns_record", "make_signer", "public_key_base64", "txt_strings"]
