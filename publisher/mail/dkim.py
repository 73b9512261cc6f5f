"""DKIM (RFC 6376): sign outgoing mail with OpenSSL's RSA (and Ed25519, RFC 8463, as a
second signature when configured), and print the keys' DNS records.

Gmail and Yahoo require DKIM from bulk senders, so every real send signs, and signing is
per message (each recipient's headers and links differ). It is done here at OpenSSL speed:
the key is parsed once (``cryptography``), an RSA-2048 signature costs about a quarter of a
millisecond and releases the GIL, and the body hash is cheap because the large, shared parts
of a digest body are canonicalised once per edition variant (``body_hash`` caches them) and
only the few personal values per message. dkimpy stays in the tests, as the independent
verifier of everything signed here.

Canonicalisation is ``relaxed/relaxed`` by default (``simple/simple`` on request); headers
are signed bottom-up as RFC 6376 5.4.2 says, and From and Subject are over-signed. With an
Ed25519 key too, both signatures cover the same headers and body hash, each under its own
selector; the RSA one stays on top, so a receiver that knows only RSA finds it first.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ..config import DkimConfig, Settings
from ..errors import ConfigError

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
_WSP_RUN = re.compile(rb"[ \t]+")
_FOLD = re.compile(rb"\r\n(?=[ \t])")
CACHE_FROM = 512  # body pieces at least this long are shared by many messages: cache them


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 3.4.4 with bytes operations: runs of WSP to one space, none before CRLF,
    no empty lines at the end (a non-empty body ends with CRLF)."""
    if b"\t" in body or b"  " in body:
        body = _WSP_RUN.sub(b" ", body)
    if b" \r\n" in body:
        body = body.replace(b" \r\n", b"\r\n")
    return body


def canonical_body(body: bytes, relaxed: bool) -> bytes:
    """The whole body canonicalised: no empty lines at the end, a final CRLF; an empty body
    is empty when relaxed and one CRLF when simple (RFC 6376 3.4.3, 3.4.4)."""
    if relaxed:
        body = relaxed_body(body)
    while body.endswith(b"\r\n"):
        body = body[:-2]
    return body + b"\r\n" if body or not relaxed else b""


@functools.lru_cache(maxsize=256)
def _relaxed_cached(piece: bytes) -> bytes:
    return relaxed_body(piece)


def _relaxed_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376 3.4.2: lower-case name, unfolded value with WSP runs as one space, trimmed."""
    unfolded = _FOLD.sub(b"", value)
    return name.lower().strip() + b":" + _WSP_RUN.sub(b" ", unfolded).strip(b" \t") + b"\r\n"


def _headers(head: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """(lower-case name, raw value, raw field with its CRLF) of each header, in order."""
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        elif line:
            fields.append(line)
    found = []
    for field in fields:
        name, _, value = field.partition(b":")
        found.append((name.strip().lower(), value, field + b"\r\n"))
    return found


@dataclass(frozen=True)
class _Key:
    """One signing key under its selector: what the ``a=`` and ``s=`` tags say, and how it
    signs the canonicalised header data."""

    selector: bytes
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    @property
    def algorithm(self) -> bytes:
        return b"rsa-sha256" if isinstance(self.key, rsa.RSAPrivateKey) else b"ed25519-sha256"

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        # RFC 8463 3: Ed25519 (PureEdDSA) signs the SHA-256 hash of the data, not the data.
        return self.key.sign(hashlib.sha256(data).digest())


class Signer:
    """Adds DKIM-Signature headers to whole messages: rsa-sha256, and ed25519-sha256 beside
    it when an Ed25519 key (its selector and PEM) is given."""

    def __init__(
        self,
        selector: str,
        domain: str,
        private_key: bytes,
        canonicalization: str = "relaxed/relaxed",
        ed25519_key: tuple[str, bytes] | None = None,
    ) -> None:
        self.keys = [_Key(selector.encode("ascii"), load_key(private_key))]
        if ed25519_key is not None:
            ed_selector, ed_pem = ed25519_key
            self.keys.append(_Key(ed_selector.encode("ascii"), load_ed25519_key(ed_pem)))
        self.domain = domain.encode("ascii")
        header, body = canonicalization.split("/")
        self.relaxed_header = header == "relaxed"
        self.relaxed_body = body == "relaxed"
        self.canonicalization = canonicalization.encode("ascii")

    def body_hash(self, pieces: Sequence[bytes]) -> bytes:
        """The body hash of ``b"".join(pieces)``, canonicalising long pieces only once.

        Pieces must break at line ends where a long piece meets the next (digest bodies
        do: every personal value sits between soft line breaks), and the last must end the
        body with CRLF; then canonicalising piece by piece equals canonicalising the whole.
        """
        if not pieces or not pieces[-1].endswith(b"\r\n") or pieces[-1].endswith(b"\r\n\r\n"):
            whole = b"".join(pieces)  # an unusual end: canonicalise the whole body
            return hashlib.sha256(canonical_body(whole, self.relaxed_body)).digest()
        digest = hashlib.sha256()
        if not self.relaxed_body:
            for piece in pieces:
                digest.update(piece)
            return digest.digest()
        for piece in pieces:
            digest.update(
                _relaxed_cached(piece) if len(piece) >= CACHE_FROM else relaxed_body(piece)
            )
        return digest.digest()

    def sign(
        self, message: bytes, body_hash: bytes | None = None, now: float | None = None
    ) -> bytes:
        """``message`` with a DKIM-Signature header per key in front (``body_hash`` when
        known)."""
        head, _, body = message.partition(b"\r\n\r\n")
        if body_hash is None:
            body_hash = hashlib.sha256(canonical_body(body, self.relaxed_body)).digest()
        headers = _headers(head + b"\r\n")
        present = {name for name, _, _ in headers}
        names = [h for h in SIGNED_HEADERS if h in present] + OVERSIGNED
        used: dict[bytes, int] = {}
        signed = bytearray()
        for name in names:
            instances = [h for h in headers if h[0] == name]
            taken = used.get(name, 0)
            used[name] = taken + 1
            if taken < len(instances):  # bottom-up: the last instance first
                _, value, raw = instances[len(instances) - 1 - taken]
                signed += _relaxed_header(name, value) if self.relaxed_header else raw
        stamp = str(int(time.time() if now is None else now)).encode()
        h = [b"h=" + names[0] + b":"] + [n + b":" for n in names[1:-1]] + [names[-1] + b";"]
        fields = [self._field(key, bytes(signed), stamp, h, body_hash) for key in self.keys]
        return b"".join(fields) + message

    def _field(
        self, key: _Key, signed: bytes, stamp: bytes, h: list[bytes], body_hash: bytes
    ) -> bytes:
        """One DKIM-Signature header (with its CRLF) by ``key`` over the canonicalised
        headers ``signed``."""
        tokens = [
            (b" ", b"v=1;"), (b" ", b"a=" + key.algorithm + b";"), (b" ", b"c=" + self.canonicalization + b";"),
            (b" ", b"d=" + self.domain + b";"), (b" ", b"s=" + key.selector + b";"),
            (b" ", b"t=" + stamp + b";"), *((b" " if i == 0 else b"", t) for i, t in enumerate(h)),
            (b" ", b"bh=" + base64.b64encode(body_hash) + b";"), (b" ", b"b="),
        ]  # fmt: skip
        field = _fold(b"DKIM-Signature:", tokens)
        tags = field.removeprefix(b"DKIM-Signature:")
        if self.relaxed_header:
            signed += _relaxed_header(b"dkim-signature", tags).removesuffix(b"\r\n")
        else:
            signed += field
        signature = base64.b64encode(key.sign(signed))
        folded = b"\r\n ".join(signature[i : i + 72] for i in range(0, len(signature), 72))
        return field + b"\r\n " + folded + b"\r\n"


def _fold(start: bytes, tokens: list[tuple[bytes, bytes]], width: int = 78) -> bytes:
    """A header from ``start`` and (separator, token) pairs, a separator becoming a fold
    (CRLF and a space) wherever the line would pass ``width`` characters."""
    out = bytearray(start)
    line = len(start)
    for separator, token in tokens:
        if line + len(separator) + len(token) > width:
            out += b"\r\n " + token
            line = 1 + len(token)
        else:
            out += separator + token
            line += len(separator) + len(token)
    return bytes(out)


def _load_pem(private_key: bytes, what: str, make: str) -> object:
    """A PEM private key; ConfigError naming ``what`` it should be and how to ``make`` one."""
    try:
        return serialization.load_pem_private_key(private_key, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"the DKIM key is not a PEM {what} private key", make) from exc


def load_key(private_key: bytes) -> rsa.RSAPrivateKey:
    """The RSA private key of a PEM file; ConfigError saying how to make one otherwise."""
    make = "point [dkim] key_path at a key made with `openssl genrsa -out dkim.pem 2048`"
    key = _load_pem(private_key, "RSA", make)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError("the DKIM key is not an RSA key", make)
    return key


def load_ed25519_key(private_key: bytes) -> ed25519.Ed25519PrivateKey:
    """The Ed25519 private key of a PEM file; ConfigError saying how to make one otherwise."""
    make = (
        "point [dkim] ed25519_key_path at a key made with "
        "`openssl genpkey -algorithm ed25519 -out dkim-ed25519.pem`"
    )
    key = _load_pem(private_key, "Ed25519", make)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ConfigError("the key at [dkim] ed25519_key_path is not an Ed25519 key", make)
    return key


def _read(settings: Settings, path: Path, key: str) -> bytes:
    path = settings.path(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the DKIM key {path}: {exc.strerror}",
            f"check [dkim] {key} and its permissions",
        ) from exc


def _ed25519_key(conf: DkimConfig, settings: Settings) -> tuple[str, bytes] | None:
    """(selector, PEM) of the configured Ed25519 key, or None."""
    if conf.ed25519_selector is None or conf.ed25519_key_path is None:
        return None
    return conf.ed25519_selector, _read(settings, conf.ed25519_key_path, "ed25519_key_path")


def make_signer(settings: Settings) -> Signer | None:
    """A signer when ``[dkim]`` is configured, else None (mail goes out unsigned)."""
    conf = settings.dkim
    if conf is None:
        return None
    return Signer(
        conf.selector,
        conf.domain,
        _read(settings, conf.key_path, "key_path"),
        conf.canonicalization,
        _ed25519_key(conf, settings),
    )


def public_key_base64(private_key: bytes) -> str:
    """The SubjectPublicKeyInfo of an RSA private key, base64 (the p= of the DNS record)."""
    spki = (
        load_key(private_key)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(spki).decode("ascii")


def ed25519_public_key_base64(private_key: bytes) -> str:
    """The raw 32-byte public key of an Ed25519 private key, base64: the p= of its DNS
    record, which RFC 8463 4 says is the bare key, not a SubjectPublicKeyInfo."""
    raw = (
        load_ed25519_key(private_key)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode("ascii")


def dns_records(settings: Settings) -> list[tuple[str, str]]:
    """(name, TXT value) to publish for each configured key: RSA, then Ed25519 if set."""
    conf = settings.dkim
    if conf is None:
        raise ConfigError(
            "no [dkim] table in the configuration", "add [dkim] selector, domain, key_path"
        )
    rsa_value = public_key_base64(_read(settings, conf.key_path, "key_path"))
    records = [(f"{conf.selector}._domainkey.{conf.domain}", f"v=DKIM1; k=rsa; p={rsa_value}")]
    ed = _ed25519_key(conf, settings)
    if ed is not None:
        value = f"v=DKIM1; k=ed25519; p={ed25519_public_key_base64(ed[1])}"
        records.append((f"{ed[0]}._domainkey.{conf.domain}", value))
    return records


def txt_strings(value: str) -> str:
    """A TXT value split into quoted strings of at most 255 characters (what DNS allows)."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


def signed_headers(message: bytes) -> list[bytes]:
    """The ``h=`` list ``sign`` uses for ``message``: each signed header it has, then the
    over-signed ones again."""
    present = {name for name, _, _ in _headers(message.partition(b"\r\n\r\n")[0] + b"\r\n")}
    return [h for h in SIGNED_HEADERS if h in present] + OVERSIGNED


__all__ = [
    "Signer",
    "dns_records",
    "ed25519_public_key_base64",
    "make_signer",
    "public_key_base64",
    "txt_strings",
]
