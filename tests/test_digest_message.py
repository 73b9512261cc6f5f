"""Digest messages: golden files, safe personalisation, headers, DKIM and SpamAssassin.

Golden files live in tests/data/; regenerate them on purpose with
``REGENERATE_GOLDEN=1 .venv/bin/pytest tests/test_digest_message.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from lxml import html as lxml_html

from publisher.config import Settings, load_settings
from publisher.digest.compose import DigestComposer, make_renderer
from publisher.errors import DeliveryError
from publisher.jobs import open_store, run_collect
from publisher.mail.dkim import Signer, public_key_base64
from publisher.mail.mime import format_address, header_line
from publisher.models import Edition, Subscriber
from publisher.store import Store
from publisher.tokens import tokens_for

from .conftest import write_config
from .digesthelpers import parse, parts

DATA = Path(__file__).resolve().parent / "data"
CUT = datetime(2024, 9, 20, 2, 0, tzinfo=UTC)  # 07:00 in Karachi
WHEN = datetime(2024, 9, 20, 2, 0, 5, tzinfo=UTC)
VOLATILE = ("Date", "Message-ID", "DKIM-Signature")


def fixed_edition(store: Store) -> Edition:
    ids = [a.id for a in store.articles_by_ids(range(1, 100)) if a.id is not None]
    return Edition(id=42, kind="digest", cut_at=CUT, article_ids=ids, variant="golden-edition")


@pytest.fixture
def collected(settings: Settings) -> Store:
    store = open_store(settings)
    run_collect(settings, store)
    return store


def build(settings: Settings, store: Store, subscriber: Subscriber) -> bytes:
    sender = DigestComposer(settings, store, make_renderer(settings))
    return sender.message(fixed_edition(store), subscriber, WHEN).data


def blank_volatile(data: bytes) -> bytes:
    head, _, body = data.partition(b"\r\n\r\n")
    for name in VOLATILE:
        head = re.sub(rb"(?im)^(" + name.encode() + rb"):.*(\r\n[ \t].*)*", rb"\1: (blanked)", head)
    return head + b"\r\n\r\n" + body


def check_golden(name: str, actual: bytes) -> None:
    path = DATA / name
    if os.environ.get("REGENERATE_GOLDEN") == "1":
        path.write_bytes(actual)
    assert path.exists(), f"golden file {path} is missing; create it with REGENERATE_GOLDEN=1"
    assert actual == path.read_bytes(), f"{name} changed; if on purpose, REGENERATE_GOLDEN=1"


GOLDEN_READER = Subscriber(
    id=7,
    email="ann@example.com",
    name="Ann Reader",
    consent_at=datetime(2024, 9, 3, 10, 0, tzinfo=UTC),
    consent_method="web",
)


def test_golden_html_text_and_eml(project: Path, collected: Store) -> None:
    """The whole digest, footer and Feedback-ID included, byte for byte."""
    extra = 'feedback_id = "dispatch"\n'
    config = write_config(project, extra=extra, postal_address="1 Press Lane, Karachi 74200")
    settings = load_settings(config, environ={})
    reader = GOLDEN_READER
    data = build(settings, collected, reader)
    text, html = parts(data)
    check_golden("digest_golden.txt", text.encode("utf-8"))
    check_golden("digest_golden.html", html.encode("utf-8"))
    check_golden("digest_golden.eml", blank_volatile(data))
    # The golden parts are real digests: every article link appears in the text part.
    for article in collected.articles_by_ids(fixed_edition(collected).article_ids):
        assert article.link in text and article.title in text


def test_fast_message_decodes_to_the_personalised_render(
    settings: Settings, collected: Store
) -> None:
    """The pre-encoded byte path gives exactly what rendering for this one reader gives."""
    reader = Subscriber(id=9, email="zoe@example.com", name="Zoë Ünal-Smith " + "x" * 90)
    sender = DigestComposer(settings, collected, make_renderer(settings))
    edition = fixed_edition(collected)
    text, html = parts(sender.message(edition, reader, WHEN).data)
    want_html, want_text = sender.rendered(edition, reader).personalise(
        sender.personal_values(reader, WHEN)
    )
    assert text == want_text.replace("\r\n", "\n")
    assert html == want_html.replace("\r\n", "\n")
    assert (
        max(len(line) for line in sender.message(edition, reader, WHEN).data.split(b"\r\n")) <= 998
    )


def test_names_with_markup_characters_cannot_break_the_html(
    settings: Settings, collected: Store
) -> None:
    evil = 'Ann <b onmouseover="x">&amp; "Bob" </td></tr><script>alert(1)</script>'
    reader = Subscriber(id=3, email="ann@example.com", name=evil)
    text, html = parts(build(settings, collected, reader))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    tree = lxml_html.fromstring(html)
    greeting = tree.xpath("//td[contains(@class, 'greeting')]")[0]
    assert greeting.text_content().strip() == f"Hello {evil},"
    assert not tree.xpath("//script") and not tree.xpath("//*[@onmouseover]")
    # Same structure as for a plain name: the name added no elements.
    plain = lxml_html.fromstring(
        parts(build(settings, collected, Subscriber(3, "a@example.com", "Ann")))[1]
    )
    assert len(list(tree.iter())) == len(list(plain.iter()))
    assert f"Hello {evil}," in text


@pytest.mark.parametrize(
    "name",
    ["Ann\r\nBcc: victim@example.org", "Ann\nSubject: win", "Ann\rX-Evil: 1", "Ann\x00"],
)
def test_header_injection_through_a_name_is_neutralised(
    settings: Settings, collected: Store, name: str
) -> None:
    msg = parse(build(settings, collected, Subscriber(5, "ann@example.com", name)))
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert len(msg.get_all("Subject") or []) == 1
    assert msg["To"].addresses[0].addr_spec == "ann@example.com"


@pytest.mark.parametrize(
    "address",
    [
        "ann@example.com\r\nBcc: victim@example.org",
        "ann@example.com\n",
        "a b@example.com",
        "<a@b.c>",
    ],
)
def test_header_injection_through_an_address_is_refused(
    settings: Settings, collected: Store, address: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        build(settings, collected, Subscriber(5, address, "Ann"))
    assert caught.value.permanent


def test_header_line_refuses_line_breaks_and_encodes_names() -> None:
    with pytest.raises(DeliveryError):
        header_line("Subject", "hi\r\nBcc: x@example.com")
    with pytest.raises(DeliveryError):
        header_line("X-A\nB", "v")
    assert format_address("Zoë", "z@example.com").startswith("=?utf-8?")
    assert (
        format_address('Ann "A" Reader', "a@example.com") == '"Ann \\"A\\" Reader" <a@example.com>'
    )


def test_rfc8058_and_identity_headers(settings: Settings, collected: Store) -> None:
    reader = Subscriber(id=7, email="ann@example.com", name="Ann Reader")
    msg = parse(build(settings, collected, reader))
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    links = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
    assert links[0].startswith("https://news.example.com/unsubscribe/")
    token = links[0].rsplit("/", 1)[1]
    assert tokens_for(settings).read(token, "unsubscribe", WHEN.timestamp()).subscriber_id == 7
    assert links[1].startswith("mailto:unsubscribe@news.example.com?subject=unsubscribe")
    assert str(msg["Message-ID"]) == "<digest.42.7@news.example.com>"
    assert str(msg["List-Id"]) == "The Daily Dispatch digest <digest.news.example.com>"
    assert str(msg["To"]) == "Ann Reader <ann@example.com>"
    assert "Senate Opens Debate" in str(msg["Subject"])  # the top headline
    _, html = parts(build(settings, collected, reader))
    assert "https://news.example.com/archive/2024-09-20/golden-edition.html" in html


def test_dkim_signature_verifies(project: Path, collected: Store, dkim_key_pem: bytes) -> None:
    (project / "dkim.pem").write_bytes(dkim_key_pem)
    extra = '\n[dkim]\nselector = "digest"\ndomain = "news.example.com"\nkey_path = "dkim.pem"\n'
    settings = load_settings(write_config(project, extra=extra), environ={})
    reader = Subscriber(id=7, email="ann@example.com", name="Zoë Reader")
    data = build(settings, collected, reader)
    assert data.startswith(b"DKIM-Signature:")
    record = f"v=DKIM1; k=rsa; p={public_key_base64((project / 'dkim.pem').read_bytes())}"

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"digest._domainkey.news.example.com."
        return record.encode()

    assert dkim.verify(data, dnsfunc=dns)
    signature = parse(data)["DKIM-Signature"]
    assert "list-unsubscribe-post" in str(signature).replace(" ", "").lower()
    tampered = data.replace(b"Senate Opens", b"Senate Closes", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_dkim_refuses_a_key_that_is_not_one() -> None:
    from publisher.errors import ConfigError

    with pytest.raises(ConfigError):
        Signer("s", "example.com", b"not a key")


@pytest.mark.skipif(shutil.which("spamassassin") is None, reason="spamassassin not installed")
def test_spamassassin_scores_a_digest_below_one(settings: Settings, collected: Store) -> None:
    data = build(settings, collected, Subscriber(id=7, email="ann@example.com", name="Ann"))
    result = subprocess.run(
        ["spamassassin", "-L", "-t"], input=data, capture_output=True, timeout=120, check=False
    )
    report = result.stdout.decode("utf-8", "replace")
    found = re.search(r"X-Spam-Status: \w+, score=(-?[\d.]+)", report)
    assert found, report[-2000:]
    assert float(found.group(1)) < 1.0, report.split("Content analysis details", 1)[-1][:2000]


def test_article_text_shaped_like_a_placeholder_is_left_alone(
    settings: Settings, collected: Store
) -> None:
    article = collected.articles_by_ids([1])[0]
    article.title = "Quote @@P:unsubscribe_url@@ and @@P:email@@"
    article.content_hash = ""
    collected.upsert_articles([(article, article.guid)])
    text, html = parts(build(settings, collected, Subscriber(7, "ann@example.com", "Ann")))
    assert "Quote @@P:unsubscribe_url@@ and @@P:email@@" in text
    assert "Quote @@P:unsubscribe_url@@ and @@P:email@@" in html
