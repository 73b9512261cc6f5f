"""Decide which feed documents exist and what each holds, from article heads alone.

Planning reads no article text, so a run where nothing changed costs one light query plus a
fingerprint per feed, and builds and writes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..config import Settings
from ..models import ArticleHead
from .model import Enclosure, feed_folder

GROUP_KINDS = ("section", "author", "tag")


@dataclass
class PlannedDoc:
    """A subscription feed to write: its group, its newest items, its archive periods."""

    kind: str  # site | section | author | tag
    name: str  # the section, author or tag as written ("" for the site)
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


def groups_of(head: ArticleHead, settings: Settings) -> list[tuple[str, str]]:
    """The (kind, name) of every group feed that shows this article, as configured."""
    keys = []
    if settings.feeds.per_section and head.section:
        keys.append(("section", head.section))
    if settings.feeds.per_author:
        keys += [
            ("author", name) for name in head.authors or ((head.author,) if head.author else ())
        ]
    if settings.feeds.per_tag:
        keys += [("tag", name) for name in head.tags]
    return keys


def plan_feeds(
    heads: list[ArticleHead],
    settings: Settings,
    now: datetime,
    slugs: Mapping[str, Mapping[str, str]],
) -> list[PlannedDoc]:
    """The site feed plus one per section, author (and tag), heads newest first.

    ``slugs`` holds the stored slug of every group name (kind -> name -> slug): folders come
    from there, never from the names themselves, so they never move or renumber.
    """
    site_title = settings.feeds.title or settings.site.name
    docs: dict[tuple[str, str], PlannedDoc] = {("site", ""): PlannedDoc("site", "", "", site_title)}
    current = period_of(now)
    periods: dict[tuple[str, str], set[str]] = defaultdict(set)
    for head in heads:  # already newest first
        keys = [("site", ""), *groups_of(head, settings)]
        period = period_of(head.first_seen)
        for key in keys:
            doc = docs.get(key)
            if doc is None:
                kind, name = key
                folder = feed_folder(kind, slugs[kind][name])
                doc = docs[key] = PlannedDoc(kind, name, folder, f"{site_title}: {name}")
            if len(doc.heads) < settings.feeds.limit:
                doc.heads.append(head)
            if settings.feeds.archives and period < current:
                periods[key].add(period)
    for key, doc in docs.items():
        doc.periods = sorted(periods.get(key, ()))
    return list(docs.values())


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC, microsecond=0)


def distinct_updates(heads: list[ArticleHead]) -> dict[int, datetime]:
    """Each article's ``updated`` (UTC), one second later than stored where another article
    already has that second.

    Atom readers take two entries with one ``updated`` for versions of each other, and the
    W3C validator warns about them; scraped articles often share a minute. Articles claim
    seconds in order of their date and then of first collection, so a new article never
    moves an older one's date. Each claims the first free second at or after its own; a
    taken second points past the run of taken seconds it starts (shortened as it is
    followed), so a minute shared by hundreds of articles costs no more than one.
    """
    past: dict[int, int] = {}  # taken second -> a later second; every one between is taken
    found: dict[int, datetime] = {}
    for when, article_id in sorted((int(_utc(h.updated).timestamp()), h.id) for h in heads):
        free = when
        while free in past:
            free = past[free]
        while when != free:  # every second walked is taken up to `free`: point them there
            past[when], when = free, past[when]
        past[free] = free + 1
        found[article_id] = datetime.fromtimestamp(free, UTC)
    return found


def fingerprint(
    site_digest: str,
    doc: PlannedDoc,
    enclosures: dict[str, Enclosure],
    subtitle: str,
    emails: dict[str, str],
    updates: dict[int, datetime],
) -> str:
    """A digest of everything the documents of ``doc`` are built from."""
    prev = doc.periods[-1] if doc.periods else ""
    parts = [site_digest, doc.kind, doc.name, doc.folder, doc.title, subtitle, prev]
    for head in doc.heads:
        enc = enclosures.get(head.image_url)
        mails = [emails.get(name, "") for name in head.authors or (head.author,)]
        parts.append(
            f"{head.guid}\x1f{head.content_hash}\x1f{updates[head.id].timestamp()}\x1f{mails}"
            f"\x1f{enc and (enc.url, enc.length, enc.mime)}"
        )
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()
