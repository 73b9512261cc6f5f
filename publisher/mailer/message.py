"""Build MIME messages: headers that cannot be injected, both parts, stable Message-IDs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from ..errors import DeliveryError

# CRLF for SMTP; long lines allowed (RFC 5322's limit is 998) so that a List-Unsubscribe URL is
# never turned into an RFC 2047 encoded word, which mail providers would not recognise.
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class OutgoingMessage:
    """One message ready to send: envelope plus the encoded bytes."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


def one_line(text: str) -> str:
    """Collapse any whitespace, CR and LF included, so a value can never break a header."""
    return " ".join(text.split())


def build_message(
    *,
    subject: str,
    html: str,
    text: str,
    from_name: str,
    from_address: str,
    to_name: str,
    to_address: str,
    message_id: str,
    date: datetime,
    reply_to: str = "",
    extra_headers: dict[str, str] | None = None,
) -> OutgoingMessage:
    """A multipart/alternative message (text first, HTML preferred) with safe headers."""
    msg = EmailMessage(policy=WIRE_POLICY)
    msg["Subject"] = one_line(subject)
    msg["From"] = Address(display_name=one_line(from_name), addr_spec=from_address)
    try:
        msg["To"] = Address(display_name=one_line(to_name), addr_spec=to_address)
    except (ValueError, IndexError) as exc:
        raise DeliveryError(f"invalid recipient address {to_address!r}", permanent=True) from exc
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg["MIME-Version"] = "1.0"
    for name, value in (extra_headers or {}).items():
        msg[name] = one_line(value)
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return OutgoingMessage(from_address, to_address, message_id, msg.as_bytes())
