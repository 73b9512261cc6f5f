"""Decide which feed documents exist and what each holds, from the store's feed groups.

Planning reads no article text: the store walks its indexes for each group's newest
articles and archive months, so a run costs what the feeds show, not what the archive
holds, and a run where nothing changed builds and writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..config import Settings
from ..models import ArticleHead
from ..store.groups import GROUP_KINDS, FeedGroup
from .model import Enclosure, feed_folder


@dataclass
class PlannedDoc:
    """A subscription feed to write: its group, its newest items, its archive periods."""

    kind: str  # site | section | author | tag
    name: str  # the section, author or tag as written ("" for the site)
    folder: str
    title: str
    heads: list[ArticleHead] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)  # closed archive periods, oldest first


def group_kinds(settings: Settings) -> list[str]:
    """The kinds of group feeds the config asks for."""
    wanted = {
        "section": settings.feeds.per_section,
        "author": settings.feeds.per_author,
        "tag": settings.feeds.per_tag,
    }
    return [kind for kind in GROUP_KINDS if wanted[kind]]


def plan_feeds(
    groups: list[FeedGroup],
    heads: Mapping[int, ArticleHead],
    settings: Settings,
    slugs: Mapping[str, Mapping[str, str]],
) -> list[PlannedDoc]:
    """The site feed plus one per group the store found, heads newest first.

    ``slugs`` holds the stored slug of every group name (kind -> name -> slug): folders come
    from there, never from the names themselves, so they never move or renumber.
    """
    site_title = settings.feeds.title or settings.site.name
    docs = []
    for group in groups:
        shown = [heads[i] for i in group.article_ids if i in heads]
        if group.kind == "site":
            docs.append(PlannedDoc("site", "", "", site_title, shown, group.periods))
            continue
        folder = feed_folder(group.kind, slugs[group.kind][group.name])
        title = f"{site_title}: {group.name}"
        docs.append(PlannedDoc(group.kind, group.name, folder, title, shown, group.periods))
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
        mails = [emails.get(name, "") for name in head.authors or (head.author,)]
        parts.append(
            f"{head.guid}\x1f{head.content_hash}\x1f{head.feed_second}\x1f{mails}"
            f"\x1f{enc and (enc.url, enc.length, enc.mime)}"
        )
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()
