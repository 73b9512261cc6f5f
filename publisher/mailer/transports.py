"""Transports: hand prepared messages to an SMTP server or a local maildir.

The core talks to the ``Transport`` protocol, so tests and local runs need no mail server and
a pooled sender can replace ``SmtpTransport`` without touching the digest code.
"""

from __future__ import annotations

import contextlib
import logging
import mailbox
import smtplib
import ssl
from pathlib import Path
from typing import Protocol

from ..config import Settings, SmtpConfig
from ..errors import DeliveryError
from .message import OutgoingMessage

log = logging.getLogger(__name__)


class Transport(Protocol):
    """Sends prepared messages; returns the server's reply, raises DeliveryError on failure."""

    description: str

    def send(self, message: OutgoingMessage) -> str: ...

    def close(self) -> None: ...


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


class MaildirTransport:
    """Writes each message into a local maildir (the ``outbox``) instead of sending it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"maildir {path}"
        self.box = mailbox.Maildir(str(path), create=True)

    def send(self, message: OutgoingMessage) -> str:
        try:
            key = self.box.add(message.data)
        except OSError as exc:
            raise DeliveryError(f"cannot write to {self.path}: {exc.strerror}") from exc
        return f"stored as {key}"

    def close(self) -> None:
        self.box.close()


class SmtpTransport:
    """One reused SMTP connection; reconnects when the server has dropped it."""

    def __init__(self, conf: SmtpConfig) -> None:
        self.conf = conf
        self.description = f"SMTP {conf.host}:{conf.port} ({conf.security})"
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        c = self.conf
        context = ssl.create_default_context()
        try:
            conn: smtplib.SMTP
            if c.security == "tls":
                conn = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=context)
            else:
                conn = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
                if c.security == "starttls":
                    conn.starttls(context=context)
            if c.username:
                conn.login(c.username, c.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"SMTP login as {c.username!r} refused: {exc.smtp_code} {exc.smtp_error!r}",
                "check [smtp] username and PUBLISHER_SMTP_PASSWORD",
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"cannot connect to {self.description}: {exc}",
                "check [smtp] host, port and security, and that the server is up",
            ) from exc
        return conn

    def send(self, message: OutgoingMessage) -> str:
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._connect()
            try:
                refused = self._conn.sendmail(message.sender, [message.recipient], message.data)
            except smtplib.SMTPServerDisconnected:
                self._conn = None
                if attempt == 2:
                    raise DeliveryError(
                        f"{self.description} keeps dropping the connection"
                    ) from None
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = exc.recipients[message.recipient]
                raise DeliveryError(
                    f"{message.recipient} refused: {code} {_text(reply)}",
                    permanent=code >= 500,
                ) from exc
            except smtplib.SMTPResponseException as exc:
                raise DeliveryError(
                    f"server answered {exc.smtp_code} {_text(exc.smtp_error)}",
                    permanent=exc.smtp_code >= 500,
                ) from exc
            except (OSError, smtplib.SMTPException) as exc:
                self._conn = None
                raise DeliveryError(f"sending via {self.description} failed: {exc}") from exc
            if refused:
                raise DeliveryError(f"{message.recipient} refused: {refused}", permanent=True)
            return "250 accepted"
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(TimeoutError, OSError, smtplib.SMTPException):
                self._conn.quit()
            self._conn = None


def make_transport(settings: Settings) -> Transport:
    """SMTP when ``[smtp]`` is configured, otherwise the local outbox maildir."""
    if settings.smtp is not None:
        return SmtpTransport(settings.smtp)
    return MaildirTransport(settings.path(settings.digest.outbox))
