"""Decide which feed documents exist and what each holds, from article heads alone.

Planning reads no article text, so a run where nothing changed costs one light query plus a
fingerprint per feed, and builds and writes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..config import Settings
from ..models import ArticleHead
from .model import Enclosure, feed_folder


@dataclass
class PlannedDoc:
    """A subscription feed to write: its group, its newest items, its archive periods."""

    kind: str  # site | section | author
    name: str  # the section or author ("" for the site)
    folder: str
    title: str
    heads: list[ArticleHead] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)  # closed archive periods, oldest first


def period_of(moment: datetime | str) -> str:
    """Archive periods are calendar months (UTC) of first collection: "2024-09".

    Accepts a datetime or the database's UTC timestamp text ("2024-09-17 12:50:00").
    """
    if isinstance(moment, str):
        return moment[:7]
    return moment.astimezone(UTC).strftime("%Y-%m")


def period_bounds(period: str) -> tuple[datetime, datetime]:
    year, month = (int(p) for p in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def plan_feeds(heads: list[ArticleHead], settings: Settings, now: datetime) -> list[PlannedDoc]:
    """The site feed plus one per section and per author, heads newest first."""
    site_title = settings.feeds.title or settings.site.name
    docs: dict[tuple[str, str], PlannedDoc] = {("site", ""): PlannedDoc("site", "", "", site_title)}
    for head in heads:  # already newest first
        keys = [("site", "")]
        if settings.feeds.per_section and head.section:
            keys.append(("section", head.section))
        if settings.feeds.per_author and head.author:
            keys.append(("author", head.author))
        for kind, name in keys:
            doc = docs.get((kind, name))
            if doc is None:
                folder = feed_folder(kind, name)
                title = f"{site_title}: {name}"
                doc = docs[(kind, name)] = PlannedDoc(kind, name, folder, title)
            if len(doc.heads) < settings.feeds.limit:
                doc.heads.append(head)
    if settings.feeds.archives:
        current = period_of(now)
        periods: dict[tuple[str, str], set[str]] = defaultdict(set)
        for head in heads:
            period = period_of(head.first_seen)
            if period < current:
                periods[("site", "")].add(period)
                periods[("section", head.section)].add(period)
                periods[("author", head.author)].add(period)
        for key, doc in docs.items():
            doc.periods = sorted(periods.get(key, ()))
    return _dedupe_folders(list(docs.values()))


def _dedupe_folders(docs: list[PlannedDoc]) -> list[PlannedDoc]:
    """Two names with one slug ("Web Desk", "web desk") must not share a folder."""
    seen: dict[str, int] = defaultdict(int)
    for doc in sorted(docs, key=lambda d: (d.kind, d.name)):
        seen[doc.folder] += 1
        if seen[doc.folder] > 1:
            doc.folder = f"{doc.folder}-{seen[doc.folder]}"
    return docs


def fingerprint(
    site_digest: str,
    doc: PlannedDoc,
    enclosures: dict[str, Enclosure],
    subtitle: str,
    emails: dict[str, str],
) -> str:
    """A digest of everything the documents of ``doc`` are built from."""
    prev = doc.periods[-1] if doc.periods else ""
    parts = [site_digest, doc.kind, doc.name, doc.folder, doc.title, subtitle, prev]
    for head in doc.heads:
        enc = enclosures.get(head.image_url)
        parts.append(
            f"{head.guid}\x1f{head.content_hash}\x1f{head.updated}\x1f{emails.get(head.author, '')}"
            f"\x1f{enc and (enc.url, enc.length, enc.mime)}"
        )
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()
