"""Read written feeds back as a feed reader would and report anything a reader would trip on."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import feedparser

from ..config import Settings
from .model import Site

ZONED = re.compile(r"(Z|[+-]\d\d:?\d\d|GMT|UT|UTC)$")


def _entry_problems(where: str, entries: list[dict[str, Any]], date_key: str) -> list[str]:
    problems = []
    seen: set[str] = set()
    for n, entry in enumerate(entries, start=1):
        ident = str(entry.get("id") or "")
        label = f"{where} item {n}"
        if not ident.startswith("tag:"):
            problems.append(f"{label}: id {ident!r} is not a tag: URI")
        if ident in seen:
            problems.append(f"{label}: id {ident!r} repeats")
        seen.add(ident)
        date = str(entry.get(date_key) or "")
        if not ZONED.search(date.strip()):
            problems.append(f"{label}: date {date!r} has no time zone")
        link = str(entry.get("link") or entry.get("url") or "")
        if not link.startswith(("http://", "https://")):
            problems.append(f"{label}: link {link!r} is not absolute")
    return problems


def check_xml(path: Path, expected_self: str) -> list[str]:
    parsed = feedparser.parse(path.read_bytes())
    if parsed.bozo:
        return [f"{path}: not well-formed: {parsed.get('bozo_exception')}"]
    problems = []
    selfs = [link.get("href") for link in parsed.feed.get("links", []) if link.get("rel") == "self"]
    if selfs != [expected_self]:
        problems.append(f"{path}: self link {selfs} should be [{expected_self!r}]")
    problems += _entry_problems(str(path), parsed.entries, "published")
    return problems


def check_json(path: Path, expected_self: str) -> list[str]:
    try:
        feed = json.loads(path.read_bytes())
    except ValueError as exc:
        return [f"{path}: not JSON: {exc}"]
    problems = []
    if feed.get("version") != "https://jsonfeed.org/version/1.1":
        problems.append(f"{path}: version is {feed.get('version')!r}")
    if feed.get("feed_url") != expected_self:
        problems.append(f"{path}: feed_url {feed.get('feed_url')!r} should be {expected_self!r}")
    items = feed.get("items", [])
    problems += _entry_problems(str(path), items, "date_published")
    for item in items:
        try:
            if datetime.fromisoformat(item["date_published"]).tzinfo is None:
                raise ValueError
        except (KeyError, ValueError):
            problems.append(f"{path}: {item.get('id')}: date_published is not RFC 3339 with a zone")
    return problems


def check_feeds(settings: Settings) -> tuple[int, list[str]]:
    """(number of feed files checked, problems found) for everything under ``[feeds] dir``."""
    site = Site(settings)
    root = settings.path(settings.feeds.dir)
    checked = 0
    problems: list[str] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
        if path.name in ("rss.xml", "atom.xml") and "archive" not in folder.split("/"):
            problems += check_xml(path, site.feed_url(folder, path.name))
        elif path.name == "feed.json":
            problems += check_json(path, site.feed_url(folder, path.name))
        elif path.suffix == ".xml" and folder.endswith("archive"):
            owner = folder.rsplit("/archive", 1)[0] if folder != "archive" else ""
            problems += check_xml(path, site.archive_url(owner, path.stem))
        else:
            continue
        checked += 1
    return checked, problems
