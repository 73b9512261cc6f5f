"""Transports: hand prepared messages to an SMTP server, a local maildir, or nowhere.

The core talks to the ``Transport`` protocol. Each sending thread owns one transport (smtplib
connections are not thread-safe), so ``make_transport_factory`` returns a factory, not an
instance. Every failure is a ``SendFailure`` saying whether it is permanent (5xx: do not try
again), a hard bounce (the recipient was refused) and what the server answered, so the queue
can record the reply and decide between retry and failure without parsing strings.
"""

from __future__ import annotations

import contextlib
import logging
import mailbox
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..config import Settings, SmtpConfig
from ..errors import DeliveryError
from .mime import OutgoingMessage

log = logging.getLogger(__name__)


class Transport(Protocol):
    """Sends prepared messages; returns the server's reply, raises SendFailure on failure."""

    description: str

    def send(self, message: OutgoingMessage) -> str: ...

    def close(self) -> None: ...


class SendFailure(DeliveryError):
    """One message was not accepted. ``reply`` is what the server said (or what went wrong)."""

    def __init__(
        self, message: str, *, reply: str = "", permanent: bool = False, bounce: bool = False
    ) -> None:
        super().__init__(message, permanent=permanent)
        self.reply = reply or message
        self.bounce = bounce


class TransportFatal(DeliveryError):
    """The transport cannot work at all (login refused, outbox unwritable): stop the run."""


class ServerUnreachable(TransportFatal):
    """The server could not be reached: stop the run; the mail waits (exit code 3)."""

    exit_code = 3


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


class NullTransport:
    """Accepts and discards every message; for benchmarks and dry plumbing tests."""

    description = "null (messages discarded)"

    def send(self, message: OutgoingMessage) -> str:
        return "250 discarded"

    def close(self) -> None:
        pass


class MaildirTransport:
    """Writes each message into a local maildir (the ``outbox``) instead of sending it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"maildir {path}"
        try:
            self.box = mailbox.Maildir(str(path), create=True)
        except OSError as exc:
            raise TransportFatal(
                f"cannot create the outbox {path}: {exc.strerror}", "check [digest] outbox"
            ) from exc

    def send(self, message: OutgoingMessage) -> str:
        """Store one message. Any OSError is the outbox's, not the message's (permissions, a
        full disk, a missing folder): it stops the run (``TransportFatal``) so the rows stay
        queued, instead of spending every row's attempts on it and recording them failed."""
        try:
            key = self.box.add(message.data)
        except OSError as exc:
            raise TransportFatal(
                f"cannot write to the outbox {self.path}: {exc.strerror or exc}",
                "make [digest] outbox writable by the user running publisher (or free disk "
                "space), then run `publisher send` again; nothing was marked failed",
            ) from exc
        return f"250 stored as {key}"

    def close(self) -> None:
        self.box.close()


def tls_context(conf: SmtpConfig) -> ssl.SSLContext:
    """Verify the server's certificate, against ``ca_file`` when one is configured."""
    return ssl.create_default_context(cafile=str(conf.ca_file) if conf.ca_file else None)


GIVE_UP_AFTER_CONNECTS = 3


class SmtpTransport:
    """One reused SMTP connection, reopened after a drop or after N messages."""

    def __init__(self, conf: SmtpConfig) -> None:
        self.conf = conf
        self.description = f"SMTP {conf.host}:{conf.port} ({conf.security})"
        self._conn: smtplib.SMTP | None = None
        self._sent_on_conn = 0
        self._failed_connects = 0
        self._context = tls_context(conf) if conf.security != "none" else None

    def _connect(self) -> smtplib.SMTP:
        c = self.conf
        conn: smtplib.SMTP | None = None
        try:
            if c.security == "tls":
                conn = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._context)
            else:
                conn = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
                if c.security == "starttls":
                    conn.starttls(context=self._context)
            if c.username:
                conn.login(c.username, c.password)
            conn.ehlo_or_helo_if_needed()
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportFatal(
                f"SMTP login as {c.username!r} refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                "check [smtp] username and PUBLISHER_SMTP_PASSWORD",
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise TransportFatal(
                f"the certificate of {self.description} is not trusted: {exc.verify_message}",
                "set [smtp] ca_file to the CA that signed it, or fix the server's certificate",
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()
            self._failed_connects += 1
            if self._failed_connects >= GIVE_UP_AFTER_CONNECTS:
                # The server is down or unreachable: stop the run rather than spend every
                # queued message's attempts on it. Unsent claims go back to the queue.
                raise ServerUnreachable(
                    f"cannot connect to {self.description} "
                    f"({self._failed_connects} tries in a row): {exc}",
                    "check [smtp] host, port and security, and that the server is up; "
                    "then run `publisher send` again",
                ) from exc
            raise SendFailure(f"cannot connect to {self.description}: {exc}") from exc
        self._sent_on_conn = 0
        self._failed_connects = 0
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
        self._conn = None

    def send(self, message: OutgoingMessage) -> str:
        limit = self.conf.max_messages_per_connection
        if self._conn is not None and limit and self._sent_on_conn >= limit:
            self.close()
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._connect()
            try:
                return self._transaction(self._conn, message)
            except _StaleConnection:
                # Dropped before the message was handed over (an idle connection the server
                # closed): nothing can have been delivered, so reconnecting at once is safe.
                self._drop()
                if attempt == 2:
                    raise SendFailure(f"{self.description} keeps dropping the connection") from None
        raise AssertionError("unreachable")

    def _transaction(self, conn: smtplib.SMTP, message: OutgoingMessage) -> str:
        """MAIL, RCPT, DATA by hand: sendmail() hides the final reply we want to record."""
        if conn.has_extn("pipelining") and _plain(message.sender) and _plain(message.recipient):
            return self._pipelined(conn, message)
        try:
            code, reply = _command(conn, "mail", "FROM:", message.sender)
        except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise _StaleConnection from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise SendFailure(f"MAIL FROM via {self.description} failed: {exc}") from exc
        try:
            if code != 250:
                self._reset(conn, code)
                raise _failure(code, reply, "MAIL FROM")
            code, reply = _command(conn, "rcpt", "TO:", message.recipient)
            if code not in (250, 251):
                self._reset(conn, code)
                raise _failure(code, reply, "RCPT TO", bounce=code >= 500)
            code, reply = _data(conn, message.data)
        except smtplib.SMTPDataError as exc:  # DATA itself refused (no 354)
            self._reset(conn, exc.smtp_code)
            raise _failure(exc.smtp_code, exc.smtp_error, "DATA") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise self._lost(exc) from exc
        return self._ended(conn, code, reply)

    def _pipelined(self, conn: smtplib.SMTP, message: OutgoingMessage) -> str:
        """MAIL, RCPT and DATA in one write, then their three replies (RFC 2920): two round
        trips a message instead of four, where the server offers PIPELINING."""
        commands = f"MAIL FROM:<{message.sender}>\r\nRCPT TO:<{message.recipient}>\r\nDATA\r\n"
        try:
            conn.send(commands.encode("ascii"))
            mail = conn.getreply()
        except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise _StaleConnection from exc  # an idle connection the server had closed
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise SendFailure(f"MAIL FROM via {self.description} failed: {exc}") from exc
        try:
            rcpt = conn.getreply()
            data = conn.getreply()
            if mail[0] != 250 or rcpt[0] not in (250, 251) or data[0] != 354:
                if data[0] == 354:  # a server that opened DATA anyway: end it, empty
                    conn.send(b".\r\n")
                    conn.getreply()
                if mail[0] != 250:
                    self._reset(conn, mail[0])
                    raise _failure(mail[0], mail[1], "MAIL FROM")
                if rcpt[0] not in (250, 251):
                    self._reset(conn, rcpt[0])
                    raise _failure(rcpt[0], rcpt[1], "RCPT TO", bounce=rcpt[0] >= 500)
                self._reset(conn, data[0])
                raise _failure(data[0], data[1], "DATA")
            code, reply = _body(conn, message.data)
        except (OSError, smtplib.SMTPException) as exc:
            raise self._lost(exc) from exc
        return self._ended(conn, code, reply)

    def _ended(self, conn: smtplib.SMTP, code: int, reply: bytes) -> str:
        """The server's answer to the end of DATA: 250 is a message sent on this connection
        (its reply is what is recorded), anything else a failure, the transaction reset."""
        if code != 250:
            self._reset(conn, code)
            raise _failure(code, reply, "end of DATA")
        self._sent_on_conn += 1
        return f"{code} {_text(reply)}"

    def _lost(self, exc: Exception) -> SendFailure:
        """Dropped or timed out mid-transaction: the server may or may not have the message;
        the connection is closed and the next message opens a new one."""
        self._drop()
        return SendFailure(f"connection to {self.description} lost: {exc}")

    def _reset(self, conn: smtplib.SMTP, code: int) -> None:
        """Forget the failed transaction; after 421 the server is closing, so reconnect."""
        if code == 421:
            self._drop()
            return
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._conn.quit()
            self._drop()


def _command(conn: smtplib.SMTP, verb: str, prefix: str, address: str) -> tuple[int, bytes]:
    """MAIL/RCPT without smtplib's address re-parsing (~50 us each); our addresses are checked
    when stored. Non-ASCII addresses take smtplib's own path."""
    if not _plain(address):
        return conn.mail(address) if verb == "mail" else conn.rcpt(address)
    conn.putcmd(verb, f"{prefix}<{address}>")
    return conn.getreply()


def _plain(address: str) -> bool:
    return address.isascii() and not any(c in address for c in "<>\r\n ")


def _data(conn: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """DATA, then the message (``_body``)."""
    conn.putcmd("data")
    code, reply = conn.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    return _body(conn, data)


def _body(conn: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """The message after a 354, dot-stuffed by ``bytes.replace`` (smtplib's regex costs
    ~0.3 ms per 40 KB), and the server's reply to its end.

    Our messages are CRLF throughout, so every line start follows a CRLF; anything else is
    normalised first, so a stray ``\n.\n`` can never be read as the end.
    """
    if data.count(b"\n") != data.count(b"\r\n"):  # a bare LF or CR: never let one end DATA
        data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    conn.send(stuffed + b".\r\n")
    return conn.getreply()


class _StaleConnection(Exception):
    """The connection was gone before anything of the message was sent."""


def _failure(code: int, reply: bytes | str, stage: str, *, bounce: bool = False) -> SendFailure:
    text = f"{code} {_text(reply)}"
    return SendFailure(f"{stage} answered {text}", reply=text, permanent=code >= 500, bounce=bounce)


@dataclass(frozen=True)
class TransportChoice:
    """Which transport a run uses, how to make one per connection, and how many connections."""

    description: str
    factory: Callable[[], Transport]
    connections: int


def transport_kind(settings: Settings) -> str:
    """``[delivery] transport``: smtp, maildir or null; "auto" is SMTP when ``[smtp]`` is set."""
    kind = settings.delivery.transport
    if kind == "auto":
        kind = "smtp" if settings.smtp is not None else "maildir"
    return kind


def make_transport_factory(settings: Settings) -> TransportChoice:
    """The configured transport (``transport_kind``), one instance per connection."""
    kind = transport_kind(settings)
    if kind == "smtp":
        smtp = settings.smtp
        if smtp is None:
            raise TransportFatal(
                "[delivery] transport is smtp but there is no [smtp] table",
                "add [smtp] host = ... or set [delivery] transport to maildir",
            )
        return TransportChoice(
            SmtpTransport(smtp).description,
            lambda: SmtpTransport(smtp),
            settings.delivery.connections,
        )
    if kind == "null":
        return TransportChoice(
            NullTransport.description, NullTransport, settings.delivery.connections
        )
    outbox = settings.path(settings.digest.outbox)
    # One writer: a maildir is a local folder, and several writers only contend on it.
    return TransportChoice(f"maildir {outbox}", lambda: MaildirTransport(outbox), 1)


def make_transport(settings: Settings) -> Transport:
    """One transport instance as configured (for single-threaded callers)."""
    return make_transport_factory(settings).factory()
