"""Helpers for the readers' web app tests: a project wired to a real SMTP server, a client."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from starlette.testclient import TestClient

from publisher.config import Settings, load_settings
from publisher.store import Store
from publisher.web.app import create_app

from .conftest import SmtpSink, write_config


def web_settings(project: Path, port: int, extra: str = "", **site: str) -> Settings:
    """The sample project, mailing through the test's SMTP server on ``port``."""
    smtp = f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 10\n'
    return load_settings(write_config(project, extra=smtp + extra, **site), environ={})


def client(settings: Settings, store: Store) -> TestClient:
    """A browser-like client: HTTPS at the site's own origin, so its secure cookies stick."""
    parts = urlsplit(settings.site.url)
    return TestClient(create_app(settings, store), base_url=f"{parts.scheme}://{parts.netloc}")


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found[1]


def path_of(url: str) -> str:
    return urlsplit(url).path


def subscribe(web: TestClient, base: str = "", **fields: str | list[str]) -> str:
    """Fill in and send the sign-up form as a reader would; returns the answer page."""
    page = web.get(f"{base}/subscribe")
    assert page.status_code == 200, page.text
    data = {"csrf": csrf(page.text), "frequency": "daily", "timezone": "Europe/London", **fields}
    answer = web.post(f"{base}/subscribe", data=data)
    assert answer.status_code == 200, answer.text
    return answer.text


def mails_to(sink: SmtpSink, address: str) -> list[EmailMessage]:
    with sink.lock:
        found = [m for m in sink.messages if address in m.rcpt_tos]
    return [m.message for m in found]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def link_in(message: EmailMessage, kind: str) -> str:
    """The first ``<site>/<kind>/<token>`` link in a mail's text part."""
    found = re.search(rf"https?://\S+/{kind}/[A-Za-z0-9_.-]+", text_of(message))
    assert found, f"no {kind} link in the mail"
    return found[0]
