"""Digest headers: folded at 78 characters (RFC 5322) and read back intact by the stdlib
parser, a new Message-ID for every test send, Gmail's Feedback-ID, DKIM over-signing, and a
DKIM domain that must be aligned with the From domain.
"""

from __future__ import annotations

import re
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import compat32
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from publisher.config import Settings, load_settings
from publisher.digest.preview import build_preview, sample_message
from publisher.errors import ConfigError
from publisher.jobs import open_store, run_collect
from publisher.mail.bounces import OUR_MESSAGE_ID
from publisher.mail.mime import MAX_LINE, fold, header_line
from publisher.models import Edition, Subscriber

from .conftest import SmtpSink, cli, dkim_verifies, write_config
from .digesthelpers import NOW, parse
from .test_digest_content import sample_edition

LONG_NAME = "Zoë Ünal-Smith de la Fontaine-Boulanger y Rodríguez-Castellanos " + "Ñ" * 30
LONG_HEADLINE = (
    "Senate Opens Debate on the Supplementary Budget Amid an Opposition Walkout Over "
    "Development Cuts in the Smaller Provinces and Demands for a Full Audit"
)


def header_lines(data: bytes) -> list[str]:
    return data.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")


def raw_header(data: bytes, name: str) -> list[str]:
    """The lines of one header as sent."""
    lines = header_lines(data)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
    end = start + 1
    while end < len(lines) and lines[end][:1] in (" ", "\t"):
        end += 1
    return lines[start:end]


def assert_folded(data: bytes) -> None:
    """Every header line is at most 78 characters unless it is one unbreakable word."""
    for line in header_lines(data):
        if len(line) > MAX_LINE:
            body = line.split(":", 1)[1] if not line[0].isspace() else line
            assert " " not in body.strip(), f"{len(line)} characters with folding points: {line}"


def test_fold_splits_at_spaces_and_unfolds_to_the_same_value() -> None:
    value = " ".join(f"word{i}" for i in range(40))
    folded = fold("Subject", value)
    assert all(len(line) <= MAX_LINE for line in folded.split("\r\n"))
    assert folded.replace("\r\n", "") == f"Subject: {value}"
    token = "x" * 120  # nowhere to fold: left whole
    assert fold("X-Long", f"{token} tail") == f"X-Long: {token}\r\n tail"
    assert fold("Subject", "short") == "Subject: short"


def test_every_header_is_folded_and_parses_back_intact(project: Path, dkim_key_pem: bytes) -> None:
    (project / "dkim.pem").write_bytes(dkim_key_pem)
    extra = (
        'subject = "{site}, the weekly digest of {date}, {count} stories: {headline}"\nfeedback_id = "dispatch"\n'
        'reply_to = "letters@news.example.com"\nfrom_name = "The Daily Dispatch Newsroom Desk"\n'
        '\n[dkim]\nselector = "digest"\ndomain = "news.example.com"\nkey_path = "dkim.pem"\n'
    )
    settings = load_settings(write_config(project, extra=extra), environ={})
    composer, edition = sample_edition(settings)
    articles = composer.store.articles_by_ids(edition.article_ids)
    top = next(a for a in articles if a.title.startswith("Senate Opens Debate"))
    top.title, top.content_hash = LONG_HEADLINE, ""  # the top story: the subject's headline
    composer.store.upsert_articles([(top, top.guid)])  # type: ignore[attr-defined]
    reader = Subscriber(7, "ann@example.com", LONG_NAME)
    data = composer.message(edition, reader, NOW).data
    assert_folded(data)
    for name in ("Subject", "To", "List-Unsubscribe", "DKIM-Signature"):  # these did fold
        assert len(raw_header(data, name)) > 1, name
    msg = parse(data)
    # RFC 2047 decoding ignores the folds between encoded words; policy.default's structured
    # parser keeps them as spaces (its own generator's output does not round-trip either).
    raw_to = message_from_bytes(data, policy=compat32)["To"]
    assert str(make_header(decode_header(raw_to))) == f"{LONG_NAME} <ann@example.com>"
    assert msg["To"].addresses[0].addr_spec == "ann@example.com"
    # Too little room to shorten the headline within 60 characters: it is kept whole.
    assert str(msg["Subject"]) == (
        f"The Daily Dispatch, the weekly digest of Friday, 20 September 2024, 6 stories: "
        f"{LONG_HEADLINE}"
    )
    links = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
    assert links[0].startswith("https://news.example.com/unsubscribe/")
    assert links[1].startswith("mailto:unsubscribe@news.example.com?subject=unsubscribe%20")
    assert str(msg["Content-Type"]).startswith("multipart/alternative")
    assert msg.get_body(("html",)) is not None
    # Folding happens before signing, and the signature covers the folded headers.
    assert dkim_verifies(data, dkim_key_pem)


def test_header_line_refolds_an_encoded_value() -> None:
    line = header_line(
        "To", '"A Very Long Display Name Indeed, Much Longer" <averylongaddress@example.com>'
    )
    assert all(len(part) <= MAX_LINE for part in line.decode().split("\r\n"))
    assert line.decode().replace("\r\n ", " ").count(" ") == line.decode().count(" ")


# -- Message-ID ----------------------------------------------------------------------------------
def test_test_sends_and_previews_each_get_their_own_message_id(
    project: Path, settings: Settings, smtp_server: tuple[Controller, SmtpSink]
) -> None:
    controller, sink = smtp_server
    smtp = write_config(
        project,
        extra=f'\n[smtp]\nhost = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"\n',
    )
    cli("collect", "--config", str(smtp))
    for _ in range(3):
        result = cli("digest", "test-send", "--to", "editor@example.com", "--config", str(smtp))
        assert result.exit_code == 0, result.output
    with open_store(settings) as store:
        ids = [str(m.message["Message-ID"]) for m in sink.messages]
        ids += [sample_message(settings, store, "editor@example.com").message_id for _ in range(2)]
        ids += [build_preview(settings, store).message.message_id for _ in range(2)]
    assert len(ids) == 7 and len(set(ids)) == 7
    for mid in ids:
        assert re.fullmatch(r"<digest\.test\.\d+\.[0-9a-f]{16}@news\.example\.com>", mid)
        assert not OUR_MESSAGE_ID.search(mid)  # a bounce of a test send names no delivery


def test_queued_digests_keep_their_stable_message_id(settings: Settings) -> None:
    composer, edition = sample_edition(settings)
    reader = Subscriber(7, "ann@example.com")
    first = composer.message(edition, reader, NOW).message_id
    assert (
        first
        == composer.message(edition, reader, NOW).message_id
        == "<digest.9.7@news.example.com>"
    )


# -- Feedback-ID ---------------------------------------------------------------------------------
def test_feedback_id_in_gmails_format_only_when_configured(
    project: Path, settings: Settings
) -> None:
    composer, edition = sample_edition(settings)
    assert (
        parse(composer.message(edition, Subscriber(1, "a@example.com"), NOW).data)["Feedback-ID"]
        is None
    )
    configured = load_settings(
        write_config(project, extra='feedback_id = "dispatch"\n'), environ={}
    )
    composer, edition = sample_edition(configured)
    daily = parse(composer.message(edition, Subscriber(1, "a@example.com"), NOW).data)
    weekly_reader = Subscriber(2, "w@example.com", frequency="weekly")
    weekly = parse(composer.message(edition, weekly_reader, NOW).data)
    note = Edition(id=4, kind="note", cut_at=NOW, article_ids=[], variant="nothing-new")
    empty = parse(composer.message(note, Subscriber(3, "n@example.com"), NOW).data)
    with open_store(configured) as store:
        test = parse(sample_message(configured, store, "editor@example.com").data)
    assert str(daily["Feedback-ID"]) == "daily:news.example.com:digest:dispatch"
    assert str(weekly["Feedback-ID"]) == "weekly:news.example.com:digest:dispatch"
    assert str(empty["Feedback-ID"]) == "note:news.example.com:digest:dispatch"
    assert str(test["Feedback-ID"]) == "test:news.example.com:digest:dispatch"


def test_a_feedback_id_with_a_colon_is_refused(project: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(project, extra='feedback_id = "a:b"\n'), environ={})
    assert "digest.feedback_id" in str(caught.value)


# -- DKIM ------------------------------------------------------------------------------------------
def signed(project: Path, dkim_key_pem: bytes) -> bytes:
    (project / "dkim.pem").write_bytes(dkim_key_pem)
    extra = '\n[dkim]\nselector = "digest"\ndomain = "news.example.com"\nkey_path = "dkim.pem"\n'
    settings = load_settings(write_config(project, extra=extra), environ={})
    with open_store(settings) as store:
        run_collect(settings, store)
    composer, edition = sample_edition(settings)
    return composer.message(edition, Subscriber(7, "ann@example.com", "Ann"), NOW).data


def test_dkim_signs_the_identity_and_list_headers_and_over_signs_from_and_subject(
    project: Path, dkim_key_pem: bytes
) -> None:
    data = signed(project, dkim_key_pem)

    def verify(message: bytes) -> bool:
        return dkim_verifies(message, dkim_key_pem)

    tags = str(parse(data)["DKIM-Signature"]).replace(" ", "").replace("\r\n", "")
    signed_list = re.search(r"h=([^;]+)", tags).group(1).split(":")  # type: ignore[union-attr]
    for name in ("from", "subject", "to", "date", "message-id", "list-id", "list-unsubscribe",
                 "list-unsubscribe-post"):  # fmt: skip
        assert name in signed_list, name
    assert signed_list.count("from") == 2 and signed_list.count("subject") == 2
    assert verify(data)
    head, body = data.split(b"\r\n\r\n", 1)
    # A second From or Subject added on the way (shown by some clients) breaks the signature.
    for extra in (b"From: Bank <security@bank.example>", b"Subject: Urgent: verify your account"):
        assert not verify(head + b"\r\n" + extra + b"\r\n\r\n" + body)
    # So does a changed List-Unsubscribe.
    assert not verify(
        data.replace(
            b"List-Unsubscribe: <https://news.example.com/",
            b"List-Unsubscribe: <https://evil.example/",
            1,
        )
    )


@pytest.mark.parametrize("domain", ["news.example.com", "example.com", "NEWS.Example.com"])
def test_a_dkim_domain_aligned_with_from_is_accepted(project: Path, domain: str) -> None:
    extra = f'\n[dkim]\nselector = "s"\ndomain = "{domain}"\nkey_path = "k.pem"\n'
    settings = load_settings(write_config(project, extra=extra), environ={})
    assert settings.dkim is not None and settings.dkim.domain == domain


@pytest.mark.parametrize(
    "domain", ["mail.other.org", "mail.news.example.com", "ample.com", "com.example"]
)
def test_a_dkim_domain_not_aligned_with_from_is_refused_at_load(project: Path, domain: str) -> None:
    extra = f'\n[dkim]\nselector = "s"\ndomain = "{domain}"\nkey_path = "k.pem"\n'
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(project, extra=extra), environ={})
    message = str(caught.value)
    assert f"dkim.domain '{domain}' is not aligned" in message
    assert "'news.example.com'" in message and "DMARC" in message
    result = cli("digest", "preview", "--config", str(project / "config.toml"))
    assert result.exit_code == 1 and "not aligned" in result.output
