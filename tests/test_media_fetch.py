"""Lead-image HEAD requests never reach internal addresses, however the URL or a redirect says.

The "internal service" is a real HTTP server on loopback that records every request it gets;
the cloud metadata address cannot run here, so connections are watched (not replaced) to show
that none is even attempted.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest

from publisher.config import load_settings
from publisher.feeds.fetch import MAX_REDIRECTS, Refused, head

from .conftest import write_config
from .feedhelpers import build, http_server

METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every address a socket was opened to (the real connection still happens)."""
    seen: list[Any] = []
    real = socket.create_connection

    def watched(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        seen.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", watched)
    yield seen


def project_with_image(project: Path, image: str, feeds: str = "") -> Path:
    """The sample project with one article whose lead image is ``image``, fetch_media on."""
    (project / "content" / "remote.md").write_text(
        f"---\ntitle: Remote image\ndate: 2024-10-02\nimage: {image}\n---\nBody.\n",
        encoding="utf-8",
    )
    config = write_config(project)
    text = config.read_text().replace(
        "fetch_media = false", f"fetch_media = true\nmedia_timeout = 2\n{feeds}"
    )
    config.write_text(text)
    return config


def remote_enclosures(project: Path) -> list[Any]:
    rss = feedparser.parse((project / "feeds" / "rss.xml").read_bytes())
    return list(next(e for e in rss.entries if e.title == "Remote image").enclosures)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_image_is_never_requested_by_default(project: Path, host: str) -> None:
    with http_server() as (base, recorder):
        recorder.headers = {"Content-Length": "31337", "Content-Type": "image/jpeg"}
        image = base.replace("127.0.0.1", host) + "/internal-admin/users.jpg?delete=all"
        settings = load_settings(project_with_image(project, image), environ={})
        assert settings.feeds.fetch_media and not settings.feeds.media_allow_private  # defaults
        build(settings)
        assert recorder.requests == []
    assert remote_enclosures(project) == []


def test_metadata_address_is_refused_without_connecting(
    project: Path, connections: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    config = project_with_image(project, METADATA + "admin.png", "media_allow_private = true")
    with caplog.at_level(logging.WARNING, logger="publisher.feeds.media"):
        build(load_settings(config, environ={}))
    assert connections == []
    assert "internal address" in caplog.text
    assert remote_enclosures(project) == []


def test_redirect_to_an_internal_address_is_refused(
    project: Path, connections: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    with http_server() as (base, recorder):
        recorder.status = 302
        recorder.headers = {"Location": METADATA + "x.png"}
        config = project_with_image(project, base + "/a.png", "media_allow_private = true")
        with caplog.at_level(logging.WARNING, logger="publisher.feeds.media"):
            build(load_settings(config, environ={}))
        assert [r[:2] for r in recorder.requests] == [("HEAD", "/a.png")]
    assert [a[0] for a in connections] == ["127.0.0.1"]  # the first hop only
    assert "internal address" in caplog.text
    assert remote_enclosures(project) == []


def test_redirects_are_capped() -> None:
    with http_server() as (base, recorder):
        recorder.status = 301
        recorder.headers = {"Location": "/again"}
        with pytest.raises(Refused, match="redirects"):
            head(base + "/start", 2, allow_private=True)
        assert len(recorder.requests) == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/x.png",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://10.1.2.3/x.png",
        "http://192.168.0.1/x.png",
        "http://0.0.0.0/x.png",
        "http://224.0.0.1/x.png",
        METADATA,
        "http://[fe80::1]/x.png",
    ],
)
def test_internal_addresses_are_refused(url: str, connections: list[Any]) -> None:
    with pytest.raises(Refused, match="internal address"):
        head(url, 2, allow_private=False)
    assert connections == []


@pytest.mark.parametrize("url", [METADATA, "http://[fe80::1]/x.png", "http://224.0.0.1/x.png"])
def test_link_local_and_multicast_stay_refused_when_private_is_allowed(
    url: str, connections: list[Any]
) -> None:
    with pytest.raises(Refused, match="internal address"):
        head(url, 2, allow_private=True)
    assert connections == []
