"""Delivery-status notifications (RFC 3464): read them, find the delivery, apply the bounce.

A bounce arrives long after our SMTP server said 250, as a ``multipart/report;
report-type=delivery-status`` message. Its ``message/delivery-status`` part holds one block
per recipient (Final-Recipient, Action, Status, Diagnostic-Code); the returned original (a
``message/rfc822`` or ``text/rfc822-headers`` part) carries our Message-ID,
``<digest.EDITION.SUBSCRIBER@domain>``, which names the delivery exactly. When the original is
missing, the Final-Recipient address finds the newest delivery handed over to it.

An ``Action: failed`` block marks the delivery ``bounced``; with a permanent status (5.x.x) it
is a hard bounce and counts toward suppression. ``delayed``/``relayed``/``delivered`` blocks
change nothing. Messages are read from a maildir (each processed one is moved to ``cur`` and
flagged seen, so a second run skips it) and/or an IMAP folder (processed ones flagged
``\\Seen``). A message that is not a DSN, or matches no delivery, is counted and skipped. A
message that cannot even be parsed is reported and left unseen, so nothing is lost: it is
reported again on every run until someone looks at it.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, message_from_string, policy
from email.message import Message
from pathlib import Path

from ..config import BouncesConfig, Settings
from ..errors import DeliveryError
from ..store.protocols import BounceStore

log = logging.getLogger(__name__)

# What ``mime.message_id`` makes: names the (edition, subscriber) a bounce is about.
OUR_MESSAGE_ID = re.compile(r"<digest\.(\d+)\.(\d+)@[^>]+>")


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of a DSN."""

    final_recipient: str
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # e.g. 5.1.1
    diagnostic: str = ""

    @property
    def hard(self) -> bool:
        return self.action == "failed" and self.status.startswith("5")

    @property
    def reply(self) -> str:
        return f"DSN {self.action} {self.status} {self.diagnostic}".strip()


@dataclass(frozen=True)
class Dsn:
    """What a delivery-status notification says: about which message, for whom, what."""

    original_message_id: str
    recipients: list[RecipientStatus]


def _address(field_value: str) -> str:
    """``rfc822; ann@example.com`` -> ``ann@example.com``."""
    value = field_value.split(";", 1)[-1].strip()
    return value.strip("<>").strip()


def parse_dsn(data: bytes) -> Dsn | None:
    """The DSN inside a message, or None when it is not a delivery-status report."""
    msg = message_from_bytes(data, policy=policy.compat32)
    if msg.get_content_type() != "multipart/report":
        return None
    recipients: list[RecipientStatus] = []
    original = ""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            blocks = part.get_payload()
            if not isinstance(blocks, list):
                continue
            for block in blocks[1:]:  # the first block is about the message, the rest recipients
                if not isinstance(block, Message) or not block.get("Final-Recipient"):
                    continue
                recipients.append(
                    RecipientStatus(
                        final_recipient=_address(str(block.get("Final-Recipient"))),
                        action=str(block.get("Action", "")).strip().lower(),
                        status=str(block.get("Status", "")).strip(),
                        diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split()),
                    )
                )
        elif kind == "message/rfc822" and not original:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                original = str(inner[0].get("Message-ID", "")).strip()
        elif kind == "text/rfc822-headers" and not original:
            payload = part.get_payload(decode=True)
            text = payload.decode(errors="replace") if isinstance(payload, bytes) else ""
            original = str(message_from_string(text).get("Message-ID", "")).strip()
    if not recipients:
        return None
    return Dsn(original, recipients)


@dataclass
class BounceReport:
    """What one ``bounces process`` run did."""

    read: int = 0
    bounced: int = 0  # deliveries newly marked bounced
    hard: int = 0
    suppressed: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # not a DSN, no failure, or no match
    handled: list[str] = field(default_factory=list)  # not DSNs, but taken by ``also``
    unreadable: list[str] = field(default_factory=list)  # left unseen for a person to look at


def apply_dsn(
    store: BounceStore, dsn: Dsn, threshold: int, report: BounceReport, where: str
) -> None:
    """Mark the delivery each failed recipient block is about."""
    match = OUR_MESSAGE_ID.search(dsn.original_message_id)
    edition_id, subscriber_id = (int(match[1]), int(match[2])) if match else (None, None)
    for rcpt in dsn.recipients:
        if rcpt.action != "failed":
            report.ignored.append(f"{where}: {rcpt.final_recipient} {rcpt.action}, not a failure")
            continue
        delivery = store.find_bounced_delivery(edition_id, subscriber_id, rcpt.final_recipient)
        if delivery is None:
            report.ignored.append(f"{where}: no delivery matches {rcpt.final_recipient}")
            continue
        applied, suppressed = store.apply_bounce(
            delivery, rcpt.reply, hard=rcpt.hard, threshold=threshold
        )
        if applied:
            report.bounced += 1
            report.hard += rcpt.hard
            if suppressed:
                report.suppressed.append(rcpt.final_recipient)


def maildir_messages(path: str) -> Iterator[tuple[str, bytes, Callable[[], None]]]:
    """Unseen messages of a maildir as raw bytes, each with a callback that marks it processed.

    Flags are read from the file names and set by renaming (the maildir convention: ``new/K``
    becomes ``cur/K:2,S``), so no message is parsed just to be listed or marked: a hostile
    one cannot stop the listing, only its own parsing, which the caller guards.
    """
    root = Path(path)
    for sub in ("new", "cur", "tmp"):  # an empty folder made by hand is a maildir too
        (root / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("new", "cur"):
        for file in sorted((root / sub).iterdir()):
            if file.name.startswith("."):
                continue
            key, _, info = file.name.partition(":")
            flags = info.removeprefix("2,") if info.startswith("2,") else ""
            if "S" in flags:
                continue

            def done(file: Path = file, key: str = key, flags: str = flags) -> None:
                file.rename(root / "cur" / f"{key}:2,{''.join(sorted(set(flags + 'S')))}")

            yield f"{path}/{key}", file.read_bytes(), done


def imap_messages(conf: BouncesConfig) -> Iterator[tuple[str, bytes, Callable[[], None]]]:
    """Unseen messages of the IMAP folder, each with a callback that flags it \\Seen."""
    try:
        client: imaplib.IMAP4
        if conf.imap_security == "tls":
            client = imaplib.IMAP4_SSL(
                conf.imap_host, conf.imap_port, ssl_context=ssl.create_default_context()
            )
        else:
            client = imaplib.IMAP4(conf.imap_host, conf.imap_port)
            if conf.imap_security == "starttls":
                client.starttls(ssl.create_default_context())
        client.login(conf.imap_username, conf.imap_password)
        client.select(conf.imap_folder)
        _, found = client.uid("SEARCH", "UNSEEN")
    except (OSError, imaplib.IMAP4.error) as exc:
        raise DeliveryError(
            f"cannot read bounces from IMAP {conf.imap_host}:{conf.imap_port}: {exc}",
            "check the [bounces] imap_* settings and PUBLISHER_BOUNCES_IMAP_PASSWORD",
        ) from exc
    try:
        for raw_uid in (found[0] or b"").split():
            uid = raw_uid.decode()
            _, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
            data = next((p[1] for p in parts if isinstance(p, tuple)), b"")

            def done(uid: str = uid) -> None:
                client.uid("STORE", uid, "+FLAGS", "(\\Seen)")

            yield f"imap {conf.imap_folder} uid {uid}", data, done
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()


# Offered each message that is not a DSN: returns what it did with it ("" if not for it).
OtherMail = Callable[[bytes, str], str]


def process_bounces(
    settings: Settings, store: BounceStore, also: OtherMail | None = None
) -> BounceReport:
    """Read every unseen message of the configured maildir and IMAP folder: apply each
    bounce (DSN) and offer every other message to ``also`` (the readers' mailto
    unsubscribes come in the same mailbox)."""
    conf = settings.bounces
    if conf.maildir is None and not conf.imap_host:
        raise DeliveryError(
            "no bounce mailbox is configured",
            "set [bounces] maildir = ... or [bounces] imap_host = ...",
        )
    sources: list[Iterator[tuple[str, bytes, Callable[[], None]]]] = []
    if conf.maildir is not None:
        sources.append(maildir_messages(str(settings.path(conf.maildir))))
    if conf.imap_host:
        sources.append(imap_messages(conf))
    report = BounceReport()
    threshold = settings.delivery.suppress_after_bounces
    for source in sources:
        for where, data, done in source:
            report.read += 1
            try:
                dsn = parse_dsn(data)
            except Exception as exc:  # one malformed message never stops the run
                log.warning("bounce %s cannot be parsed (%s); left unseen", where, exc)
                report.unreadable.append(f"{where}: cannot be parsed ({exc}); left unseen")
                continue
            if dsn is None:
                handled = also(data, where) if also is not None else ""
                if handled:
                    report.handled.append(handled)
                else:
                    report.ignored.append(f"{where}: not a delivery-status notification")
            else:
                apply_dsn(store, dsn, threshold, report, where)
            done()
    return report
