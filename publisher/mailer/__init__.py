"""Mail: build MIME messages (``message``), send them (``transports``, ``pool``, ``ratelimit``)."""

from __future__ import annotations

from .message import OutgoingMessage, build_message, one_line
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
    "build_message",
    "make_transport",
    "make_transport_factory",
    "one_line",
]
