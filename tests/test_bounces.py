"""Bounces that arrive later as DSNs (RFC 3464): parsed, matched, applied, counted toward suppression."""

from __future__ import annotations

import mailbox
from pathlib import Path

from publisher.config import load_settings
from publisher.jobs import open_store, run_collect, run_digest
from publisher.mail.bounces import parse_dsn

from .conftest import cli, next_digest_time, subscriber_state, write_config
from .test_delivery_faults import add_article


def dsn(
    recipient: str,
    *,
    message_id: str = "",
    action: str = "failed",
    status: str = "5.1.1",
    original: str = "headers",
) -> bytes:
    """A bounce as a mail server writes it: human text, delivery-status, the original's headers."""
    returned = ""
    if message_id and original == "headers":
        returned = (
            "--BOUNDARY\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: digest@news.example.com\r\nTo: {recipient}\r\nMessage-ID: {message_id}\r\n"
            "Subject: The Daily Dispatch digest\r\n\r\n"
        )
    elif message_id:
        returned = (
            "--BOUNDARY\r\nContent-Type: message/rfc822\r\n\r\n"
            f"From: digest@news.example.com\r\nTo: {recipient}\r\nMessage-ID: {message_id}\r\n"
            "Subject: The Daily Dispatch digest\r\n\r\nHello,\r\n\r\n"
        )
    return (
        "From: MAILER-DAEMON@mx.example.com\r\nTo: digest@news.example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"\r\n\r\n'
        "--BOUNDARY\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--BOUNDARY\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\nArrival-Date: Mon, 1 Oct 2024 09:00:00 +0000\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>:\r\n Recipient address rejected\r\n\r\n"
        f"{returned}--BOUNDARY--\r\n"
    ).encode()


def test_parse_dsn_reads_recipients_status_and_original_message_id() -> None:
    for original in ("headers", "rfc822"):
        parsed = parse_dsn(
            dsn("ann@example.com", message_id="<digest.3.7@news.example.com>", original=original)
        )
        assert parsed is not None
        assert parsed.original_message_id == "<digest.3.7@news.example.com>"
        [rcpt] = parsed.recipients
        assert (rcpt.final_recipient, rcpt.action, rcpt.status) == (
            "ann@example.com",
            "failed",
            "5.1.1",
        )
        assert rcpt.hard
        assert "Recipient address rejected" in rcpt.diagnostic
    assert parse_dsn(b"From: a@b\r\nSubject: out of office\r\n\r\nBack Monday.\r\n") is None
    delayed = parse_dsn(dsn("ann@example.com", action="delayed", status="4.4.7"))
    assert delayed is not None and not delayed.recipients[0].hard


def test_hard_bounce_in_the_maildir_marks_the_delivery_and_suppresses(project: Path) -> None:
    config = write_config(
        project,
        extra='\n[bounces]\nmaildir = "bounces"\n\n[delivery]\nsuppress_after_bounces = 2\n',
    )
    settings = load_settings(config, environ={})
    box = mailbox.Maildir(str(project / "bounces"), create=True)
    with open_store(settings) as store:
        store.add_subscriber("ann@example.com")
        store.add_subscriber("bob@example.com")
        run_collect(settings, store)
        assert run_digest(settings, store).sent.sent == 2  # into the outbox maildir
        [(ann_delivery, _)] = [
            (d, e) for d, e in store.delivery_list(status="sent") if e == "ann@example.com"
        ]
        ann_id = ann_delivery.message_id
        assert ann_id.startswith("<digest.")

    box.add(dsn("ann@example.com", message_id=ann_id))
    box.add(dsn("bob@example.com", action="delayed", status="4.4.7"))
    box.add(b"From: x@y\r\nSubject: hello\r\n\r\nnot a bounce\r\n")
    first = cli("bounces", "process", "--config", str(config))
    assert first.exit_code == 0, first.output
    assert (
        "3 read, 1 deliveries bounced (1 hard), 0 subscribers stopped after bounces" in first.output
        and "2 ignored" in first.output
    )
    with open_store(settings) as store:
        [(bounced, email)] = store.delivery_list(status="bounced")
        assert email == "ann@example.com" and "5.1.1" in bounced.reply
        assert store.attempts_of(bounced.id)[-1][0] == "bounced"
        assert subscriber_state(store, "ann@example.com") == ("active", 1)
        assert subscriber_state(store, "bob@example.com") == ("active", 0)

    # Processed messages are not applied twice.
    again = cli("bounces", "process", "--config", str(config))
    assert "0 read" in again.output

    # The next digest bounces too; this DSN has no original, so the address finds it.
    add_article(project, "second")
    with open_store(settings) as store:
        run_collect(settings, store)
        # Digests are planned when due: the next one is a day later.
        assert run_digest(settings, store, now=next_digest_time(store)).sent.sent == 2
    box.add(dsn("ann@example.com"))
    second = cli("bounces", "process", "--config", str(config))
    assert (
        "1 subscribers stopped after bounces" in second.output
        and "bounced ann@example.com (no more mail)" in second.output
    )
    with open_store(settings) as store:
        assert subscriber_state(store, "ann@example.com") == ("bounced", 2)
        add_article(project, "third")
        run_collect(settings, store)
        [planned] = run_digest(settings, store, now=next_digest_time(store)).planned
        assert len(planned.subscriber_ids) == 1  # only bob

    listed = cli("deliveries", "--status", "bounced", "--config", str(config))
    assert listed.exit_code == 0 and "ann@example.com" in listed.output
    back = cli("subscribers", "reactivate", "ann@example.com", "--config", str(config))
    assert back.exit_code == 0 and "active (was bounced)" in back.output
    missing = cli("subscribers", "reactivate", "nobody@example.com", "--config", str(config))
    assert missing.exit_code == 1 and "no subscriber" in missing.output


def test_bounces_process_without_a_mailbox_says_what_to_set(project: Path) -> None:
    result = cli("bounces", "process", "--config", str(project / "config.toml"))
    assert result.exit_code == 1
    assert "[bounces] maildir" in result.output


def test_a_bounce_that_cannot_be_parsed_is_reported_and_left_unseen(project: Path) -> None:
    """Hostile mail in the bounce box (MIME nested thousands deep) is kept for a person."""
    config = write_config(project, extra='[bounces]\nmaildir = "bounces"\n')
    box = mailbox.Maildir(str(project / "bounces"), create=True)
    nested = b"".join(
        b"--B%d\r\nContent-Type: multipart/mixed; boundary=B%d\r\n\r\n" % (i, i + 1)
        for i in range(3000)
    )
    hostile = box.add(
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B0\r\n\r\n" + nested
    )
    box.add(dsn("nobody@example.com"))
    result = cli("bounces", "process", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "2 read" in result.output and "1 unreadable (left unseen)" in result.output
    assert "cannot be parsed" in result.output
    assert (project / "bounces" / "new" / hostile).exists()  # not marked done: seen again
    again = cli("bounces", "process", "--config", str(config))
    assert "1 read" in again.output and "1 unreadable" in again.output
