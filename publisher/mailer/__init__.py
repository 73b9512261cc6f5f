"""Mail: build MIME messages (``message``) and hand them to a transport (``transports``)."""

from __future__ import annotations

from .message import OutgoingMessage, build_message, one_line
from .transports import MaildirTransport, SmtpTransport, Transport, make_transport

__all__ = [
    "MaildirTransport",
    "OutgoingMessage",
    "SmtpTransport",
    "Transport",
    "build_message",
    "make_transport",
    "one_line",
]
