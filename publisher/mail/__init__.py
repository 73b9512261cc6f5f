"""How mail leaves: MIME and DKIM, transports, the connection pool, rate limits, the queue,
bounces. Nothing here knows what a digest is: the queue is handed a message builder."""

from __future__ import annotations

from .mime import OutgoingMessage, one_line
from .transports import (
    MaildirTransport,
    NullTransport,
    SendFailure,
    SmtpTransport,
    Transport,
    TransportChoice,
    TransportFatal,
    make_transport,
    make_transport_factory,
)

__all__ = [
    "MaildirTransport",
    "NullTransport",
    "OutgoingMessage",
    "SendFailure",
    "SmtpTransport",
    "Transport",
    "TransportChoice",
    "TransportFatal",
    "make_transport",
    "make_transport_factory",
    "one_line",
]
