"""Build MIME messages: headers that cannot be injected, folded to 78 characters, both parts,
stable Message-IDs.

``BodyTemplate`` exists for mail where the same body goes to 100,000 people with a few
personal values each: the body is quoted-printable encoded **once**
with a soft line break on each side of every placeholder, so a recipient's value can be encoded
on its own and dropped in between without re-encoding (or re-wrapping) anything else. A soft
break (``=`` CRLF) decodes to nothing, so the decoded text is exactly the template with the
value substituted.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr

from ..config import MAILBOX
from ..errors import DeliveryError, PublisherError
from ..subscribers import validate_email

CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"
_FORBIDDEN = re.compile(r"[\r\n\x00]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME = 200  # a display name longer than this is cut: nobody's name is, and headers stay short
MAX_LINE = 78  # RFC 5322 2.1.1: header lines SHOULD be no longer, where they can be folded


@dataclass(frozen=True)
class OutgoingMessage:
    """One message ready to send: envelope plus the encoded bytes."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


def one_line(text: str) -> str:
    """Collapse whitespace and control characters (CR, LF, NUL...) so a value cannot break a header."""
    return " ".join(_CONTROL.sub(" ", text).split())


def message_id(edition_id: int, subscriber_id: int, domain: str) -> str:
    """Stable per (edition, subscriber): a resend after a crash is recognisable as the same mail,
    and a bounce that quotes it names its delivery exactly (``bounces.OUR_MESSAGE_ID``)."""
    return f"<digest.{edition_id}.{subscriber_id}@{domain}>"


def unique_message_id(domain: str) -> str:
    """A Message-ID used once, for mail outside the queue (previews, test sends): providers
    merge messages that share one, so each test send must look new. It never looks like a
    queued delivery's, so a bounce of it is not taken for one."""
    return f"<digest.test.{int(time.time())}.{secrets.token_hex(8)}@{domain}>"


def check_mailbox(address: str) -> str:
    """The address if it is a plain ASCII mailbox safe in a header; DeliveryError otherwise.

    An address is never repaired: one carrying CR, LF or header syntax is refused outright.
    """
    if not address.isascii() or not MAILBOX.fullmatch(address) or len(address) > 320:
        raise DeliveryError(f"invalid recipient address {address!r}", permanent=True)
    return address


def check_recipient(address: str) -> str:
    """A reader's address by the same rule that admitted it (``subscribers.validate_email``),
    so nothing accepted at sign-up is refused here; DeliveryError (permanent) otherwise."""
    try:
        valid = validate_email(address)
    except PublisherError as exc:
        why = exc.message.removeprefix("not a valid email address: ")
        raise DeliveryError(f"invalid recipient address {why}", permanent=True) from None
    return check_mailbox(valid)


def format_address(name: str, address: str) -> str:
    """``Name <addr>`` with the name quoted, or RFC 2047-encoded when it is not ASCII."""
    check_mailbox(address)
    display = one_line(name)[:MAX_NAME]
    if not display:
        return address
    if display.isascii():
        return formataddr((display, address))
    encoded = Header(display, "utf-8", header_name="To").encode(linesep="\r\n")
    return f"{encoded} <{address}>"


def encode_text_header(value: str, name: str = "Subject") -> str:
    """An unstructured header value on one logical line, RFC 2047-encoded if not ASCII."""
    text = one_line(value)
    if text.isascii() and len(text) < 900:
        return text
    return Header(text, "utf-8", header_name=name).encode(linesep="\r\n")


def fold(name: str, value: str) -> str:
    """``Name: value`` folded at spaces into lines of at most 78 characters (RFC 5322 2.2.3).

    Folding only inserts CRLF before a space that is already there, so unfolding gives the
    value back exactly. A word longer than a line (a long URL) stays whole on a line of its
    own: lines may reach 998 characters where there is nowhere to fold.
    """
    line = f"{name}: {value}"
    if len(line) <= MAX_LINE:
        return line
    words = value.split(" ")
    lines = [f"{name}: {words[0]}"]
    for word in words[1:]:
        if not word or len(lines[-1]) + 1 + len(word) <= MAX_LINE:
            lines[-1] += " " + word
        else:
            lines.append(" " + word)
    return "\r\n".join(lines)


def header_line(name: str, value: str) -> bytes:
    """``Name: value`` CRLF, folded; refuses a value with a bare CR, LF or NUL (folding excepted)."""
    unfolded = value.replace("\r\n ", " ").replace("\r\n\t", " ")
    if _FORBIDDEN.search(name) or _FORBIDDEN.search(unfolded):
        raise DeliveryError(f"refused header {name}: it contains a line break", permanent=True)
    return fold(name, unfolded).encode("ascii") + CRLF


def qp_encode(text: str) -> bytes:
    """Quoted-printable, UTF-8, CRLF line ends, lines of at most 76 characters."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).replace(b"\n", CRLF)


@dataclass(frozen=True)
class PartTemplate:
    """One text part, encoded once: static chunks with a named value between each pair."""

    chunks: tuple[bytes, ...]
    fields: tuple[str, ...]

    @classmethod
    def parse(cls, text: str, placeholder: re.Pattern[str]) -> PartTemplate:
        """Split at ``placeholder`` (one capturing group: the field name) and encode the rest."""
        pieces = placeholder.split(text)
        chunks = tuple(qp_encode(p) for p in pieces[0::2])
        return cls(chunks, tuple(pieces[1::2]))

    def fill(self, values: Mapping[str, bytes], out: list[bytes]) -> None:
        """Append the part's encoded bytes to ``out``; ``values`` are already QP-encoded."""
        chunks = self.chunks
        out.append(chunks[0])
        for i, name in enumerate(self.fields):
            out.append(SOFT_BREAK)
            out.append(values[name])
            out.append(SOFT_BREAK)
            out.append(chunks[i + 1])


@dataclass(frozen=True)
class BodyTemplate:
    """A multipart/alternative body (text, then HTML) pre-encoded once per edition variant."""

    boundary: str
    text: PartTemplate
    html: PartTemplate

    @classmethod
    def build(
        cls, text: str, html: str, placeholder: re.Pattern[str], boundary: str
    ) -> BodyTemplate:
        if not re.fullmatch(r"=_[A-Za-z0-9._-]{8,60}", boundary):
            raise ValueError("boundary must start with '=_' (cannot occur in QP) and be short")
        return cls(
            boundary, PartTemplate.parse(text, placeholder), PartTemplate.parse(html, placeholder)
        )

    @property
    def content_type(self) -> str:
        return f'multipart/alternative; boundary="{self.boundary}"'

    def render(self, text_values: Mapping[str, bytes], html_values: Mapping[str, bytes]) -> bytes:
        """The body bytes (after the header block) for one recipient's encoded values."""
        return b"".join(self.pieces(text_values, html_values))

    def pieces(
        self, text_values: Mapping[str, bytes], html_values: Mapping[str, bytes]
    ) -> list[bytes]:
        """The body as its pieces: the shared chunks (the same objects for every recipient,
        which lets DKIM canonicalise them once) with the recipient's values between."""
        sep = f"--{self.boundary}\r\n".encode("ascii")
        part_head = b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        out: list[bytes] = [
            b"This is a multi-part message in MIME format.\r\n\r\n",
            sep,
            b'Content-Type: text/plain; charset="utf-8"\r\n',
            part_head,
        ]
        self.text.fill(text_values, out)
        out += [CRLF, sep, b'Content-Type: text/html; charset="utf-8"\r\n', part_head]
        self.html.fill(html_values, out)
        out.append(self._closing)
        return out

    @property
    def _closing(self) -> bytes:
        return f"\r\n--{self.boundary}--\r\n".encode("ascii")


def header_block(headers: Sequence[tuple[str, str]]) -> bytes:
    """Header lines, each checked by ``header_line``."""
    return b"".join(header_line(name, value) for name, value in headers)


def simple_message(
    *,
    sender: str,
    sender_name: str,
    recipient: str,
    recipient_name: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: datetime,
    extra: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A one-off multipart/alternative message (text, then HTML), both parts quoted-printable.

    For the few mails that go to one reader at a time (a confirmation, a notice): built the
    plain way, with the same header checks as digests (``header_line`` refuses line breaks).
    """
    boundary = f"=_notice_{hashlib.sha1(message_id.encode()).hexdigest()[:16]}"
    headers = [
        ("Date", format_datetime(date)),
        ("From", format_address(sender_name, sender)),
        ("To", format_address(recipient_name, recipient)),
        ("Subject", encode_text_header(subject)),
        ("Message-ID", message_id),
        *extra,
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    part = b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    sep = f"--{boundary}\r\n".encode("ascii")
    return b"".join(
        [
            header_block(headers),
            CRLF,
            sep,
            b'Content-Type: text/plain; charset="utf-8"\r\n',
            part,
            qp_encode(text),
            CRLF,
            sep,
            b'Content-Type: text/html; charset="utf-8"\r\n',
            part,
            qp_encode(html),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        ]
    )
