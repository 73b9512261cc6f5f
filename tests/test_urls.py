"""The URL rules: only http(s) links are published, and no password is ever shown whole."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from publisher.config import Settings
from publisher.feeds.websub import ping_hubs
from publisher.jobs import open_store
from publisher.urls import UnsafeURL, hide_password, public_url

from .conftest import cli
from .feedhelpers import http_server

SITE = "https://news.example.com/"


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(document.cookie)",
        "  JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "https://news.example.com/a b",
        "https://news.example.com/\x00",
    ],
)
def test_anything_but_http_is_refused(value: str) -> None:
    with pytest.raises(UnsafeURL) as caught:
        public_url(value, SITE)
    assert "alert" not in str(caught.value) and "passwd" not in str(caught.value)


def test_a_url_without_a_host_is_refused() -> None:
    with pytest.raises(UnsafeURL, match="no host"):
        public_url("https:no-host")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/politics/story/", "https://news.example.com/politics/story/"),
        ("images/a.jpg", "https://news.example.com/images/a.jpg"),
        ("//cdn.example.net/a.jpg", "https://cdn.example.net/a.jpg"),
        ("HTTP://Example.org/x", "HTTP://Example.org/x"),
        ("https://example.org/a?b=c#d", "https://example.org/a?b=c#d"),
    ],
)
def test_http_and_relative_urls_are_resolved(value: str, expected: str) -> None:
    assert public_url(value, SITE) == expected


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://bob:DbPassw0rd@127.0.0.1:1/news",
        "postgresql+nodriver://bob:DbPassw0rd@127.0.0.1:1/news",  # a driver that does not exist
        "postgresql+psycopg://bob:DbPassw0rd@127.0.0.1:notaport/news",  # does not even parse
    ],
    ids=["unreachable", "bad-driver", "unparsable"],
)
def test_database_password_is_masked_in_errors(project: Path, url: str) -> None:
    result = cli("collect", "--config", str(project / "config.toml"), env={
        "PUBLISHER_DATABASE_URL": url
    })  # fmt: skip
    assert result.exit_code == 1
    assert "DbPassw0rd" not in result.output
    assert "bob:***@" in result.output, result.output


def test_hide_password_keeps_urls_without_one() -> None:
    assert hide_password("sqlite:///data/publisher.db") == "sqlite:///data/publisher.db"
    assert hide_password("https://hub.example.com/") == "https://hub.example.com/"
    assert "s3cret" not in hide_password("https://ann:s3cret@hub.example.com/publish")


def test_hub_password_is_masked_in_ping_failures(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with http_server() as (base, _), open_store(settings) as store:
        hub = base.replace("http://", "http://ann:HubPassw0rd@") + "/hub"
        with caplog.at_level(logging.WARNING):
            report = ping_hubs(store, [hub], ["https://news.example.com/feeds/rss.xml"], 5)
    assert report.failed and "HubPassw0rd" not in " ".join(report.failed)
    assert "ann:***@" in report.failed[0]
    assert "HubPassw0rd" not in caplog.text and "ann:***@" in caplog.text
