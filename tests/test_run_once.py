"""`publisher run --once` end to end: files in, feeds out, a digest received by a real SMTP server."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser

from .conftest import cli, write_config

SEED_TITLE = "US Under Secretary John Bass Visits Pakistan for Bilateral Cooperation Talks"
SEED_LINK = (
    "https://news.example.com/politics/"
    "us-under-secretary-john-bass-visits-pakistan-for-bilateral-cooperation-talks/"
)


def smtp_config(project: Path, port: int) -> Path:
    return write_config(
        project,
        extra=f'from_name = "The Daily Dispatch"\nreply_to = "letters@news.example.com"\n\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 10\n',
    )


def test_run_once_delivers_digest_over_smtp(project: Path, smtp_server) -> None:  # type: ignore[no-untyped-def]
    controller, sink = smtp_server
    config = smtp_config(project, controller.port)
    added = cli(
        "subscribers", "add", "ann@example.com", "--name", "Ann Reader", "--config", str(config)
    )
    assert added.exit_code == 0, added.output

    result = cli("run", "--once", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "1 sent" in result.output
    assert str((project / "feeds" / "rss.xml").resolve()) in result.output

    assert len(sink.messages) == 1
    received = sink.messages[0]
    assert received.rcpt_tos == ["ann@example.com"]
    assert received.mail_from == "digest@news.example.com"
    msg = received.message
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert str(msg["To"]) == "Ann Reader <ann@example.com>"
    assert msg["From"].addresses[0].addr_spec == "digest@news.example.com"
    assert str(msg["Reply-To"]) == "letters@news.example.com"
    assert re.fullmatch(r"<digest\.\d+\.\d+@news\.example\.com>", str(msg["Message-ID"]))
    assert parsedate_to_datetime(str(msg["Date"])).tzinfo is not None
    assert str(msg["Subject"]).startswith("Senate Opens Debate")  # the top headline first
    assert msg["List-Unsubscribe"].startswith("<https://news.example.com/unsubscribe/")
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"

    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for part in (text, html):
        assert SEED_TITLE in part
        assert SEED_LINK in part
        assert "John Bass discusses counter-terrorism with Pakistani officials." in part
        assert "Hello Ann Reader," in part
    assert "September 17, 2024 5:50 PM PKT" in text
    # The stylesheet was inlined: article titles carry the rule for .article-title.
    title_tag = re.search(r"<a [^>]*>" + re.escape(SEED_TITLE) + "</a>", html)
    assert title_tag is not None
    assert "style=" in title_tag.group(0) and "font-size:22px" in title_tag.group(0).replace(
        " ", ""
    )
    assert html.count("style=") > 20
    # Sections are headed and the seed sits under politics.
    assert html.index(">Politics</h2>") < html.index(SEED_TITLE)  # its display name

    rss = feedparser.parse(str(project / "feeds" / "rss.xml"))
    assert rss.bozo == 0
    assert any(e.title == SEED_TITLE for e in rss.entries)

    # A second run owes the subscriber nothing: no second digest.
    again = cli("run", "--once", "--config", str(config))
    assert again.exit_code == 0, again.output
    assert "nothing new" in again.output
    assert len(sink.messages) == 1


def test_run_once_without_smtp_fills_the_outbox(project: Path) -> None:
    config = project / "config.toml"
    cli("subscribers", "add", "bob@example.com", "--config", str(config))
    result = cli("run", "--once", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "via maildir" in result.output
    files = list((project / "outbox" / "new").iterdir())
    assert len(files) == 1
    assert SEED_TITLE.encode() in files[0].read_bytes()
