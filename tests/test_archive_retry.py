"""An archive page that could not be written is written by a later run, so "view in your
browser" links lead somewhere; runs that find every page in place write nothing."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from .unprivileged import give_away, own_project, run_publisher

__all__ = ["own_project"]  # the fixture, imported so pytest finds it
pytestmark = pytest.mark.slow  # real processes, as an unprivileged user

ARCHIVE_URL = "https://news.example.com/archive/"


def browser_link(outbox: Path) -> str:
    [path] = list((outbox / "new").iterdir())
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return re.search(r"View this digest in your browser: (\S+)", text).group(1)  # type: ignore[union-attr]


def test_a_page_that_failed_to_write_is_written_next_run(own_project: Path) -> None:
    assert run_publisher(own_project, "subscribers", "add", "ann@example.com").returncode == 0
    assert run_publisher(own_project, "collect").returncode == 0
    archive = own_project / "archive"
    archive.mkdir()
    give_away(archive)
    archive.chmod(0o555)  # the page cannot be written now
    planned = run_publisher(own_project, "digest", "plan")
    assert planned.returncode == 0, planned.stderr  # the deliveries stand
    assert "6 articles for 1 subscribers" in planned.stdout
    assert "Permission denied" in planned.stderr  # reported, not fatal
    assert list(archive.iterdir()) == []

    archive.chmod(0o755)
    sent = run_publisher(own_project, "digest", "send")  # plans nothing new, archives, sends
    assert sent.returncode == 0, sent.stderr
    link = browser_link(own_project / "outbox")
    page = archive / link.removeprefix(ARCHIVE_URL)
    assert link.startswith(ARCHIVE_URL) and page.is_file()
    assert (archive / "index.html").read_text(encoding="utf-8").count(link) == 1

    before = {p: p.stat().st_mtime_ns for p in archive.rglob("*") if p.is_file()}
    again = run_publisher(own_project, "digest", "plan")
    assert again.returncode == 0
    assert {p: p.stat().st_mtime_ns for p in archive.rglob("*") if p.is_file()} == before
