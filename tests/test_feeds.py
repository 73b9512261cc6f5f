"""Feeds read back with feedparser, as a feed reader would, and written atomically."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from publisher import feeds as feeds_module
from publisher.config import Settings
from publisher.jobs import open_store, run_collect, run_feeds

from .conftest import SEED
from .test_run_once import SEED_LINK, SEED_TITLE


def build(settings: Settings) -> None:
    with open_store(settings) as store:
        run_collect(settings, store)
        run_feeds(settings, store)


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_feed_parses_with_seed_fields(settings: Settings, project: Path, name: str) -> None:
    build(settings)
    parsed = feedparser.parse(str(project / "feeds" / name))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == ("rss20" if name == "rss.xml" else "atom10")
    assert parsed.feed.title == "The Daily Dispatch"
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == [f"https://news.example.com/feeds/{name}"]
    assert len(parsed.entries) == len(list((project / "content").iterdir()))
    seed = next(e for e in parsed.entries if e.title == SEED_TITLE)
    assert seed.link == SEED_LINK
    assert seed.author == "Web Desk"
    assert [t.term for t in seed.tags] == ["politics"]
    assert seed.id == f"tag:news.example.com,2024-09-17:newsroom:{SEED}"
    # The date carries its zone: 17:50 in Karachi is 12:50 UTC.
    raw = seed.published
    assert raw in ("Tue, 17 Sep 2024 12:50:00 +0000", "2024-09-17T12:50:00+00:00")
    assert datetime(*seed.published_parsed[:6], tzinfo=UTC) == datetime(
        2024, 9, 17, 12, 50, tzinfo=UTC
    )
    content = seed.content[0].value
    assert "In a significant diplomatic move" in content and "Related Post" not in content
    assert (
        seed.summary.startswith("John Bass visits Pakistan") or "John Bass visits" in seed.summary
    )
    # Newest first.
    dates = [e.published_parsed for e in parsed.entries]
    assert dates == sorted(dates, reverse=True)


def test_atom_links_keep_rel_and_type(settings: Settings, project: Path) -> None:
    build(settings)
    parsed = feedparser.parse(str(project / "feeds" / "atom.xml"))
    for entry in parsed.entries:
        rels = [(link.rel, link.type) for link in entry.links]
        assert rels.count(("alternate", "text/html")) == 1, rels


def test_unchanged_feeds_are_not_rewritten(settings: Settings, project: Path) -> None:
    build(settings)
    path = project / "feeds" / "rss.xml"
    old = time.time() - 3600
    os.utime(path, (old, old))
    with open_store(settings) as store:
        report = run_feeds(settings, store)
    assert report.written == []
    assert path.stat().st_mtime == old


def test_crash_mid_write_keeps_previous_feed(
    settings: Settings, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(settings)
    path = project / "feeds" / "rss.xml"
    before = path.read_bytes()
    (project / "content" / "new.md").write_text(
        "---\ntitle: Fresh story\ndate: 2030-01-01\nsection: politics\n---\nBody.\n",
        encoding="utf-8",
    )

    def explode(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(feeds_module.os, "fsync", explode)
    with open_store(settings) as store:
        run_collect(settings, store)
        with pytest.raises(Exception, match="No space left"):
            run_feeds(settings, store)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
