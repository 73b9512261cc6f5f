"""The public digest archive: one page per edition variant, an index, and RSS and Atom feeds.

``archive/<date>/<variant>.html`` is the digest as subscribers saw it minus everything personal
(greeting, unsubscribe and preference links), so the "view in your browser" link of every
message can point at it and non-subscribers can browse past issues. ``feed.xml`` (Atom) and
``rss.xml`` announce new issues; they are built by the feeds package, the only home of
feedgen. Files are written atomically and left untouched when their bytes would not change.

Archiving is idempotent: each run writes the page of every archived edition (the newest
``INDEX_LIMIT``) whose page is missing, whether it was queued just now or its page failed to
be written before (a full disk, a folder without permission), so a "view in your browser" link
never stays broken. One page that cannot be written is reported and the others still are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..atomicfile import atomic_write
from ..config import Settings
from ..errors import PublisherError
from ..feeds import PageEntry, build_page_feeds
from ..models import Edition
from ..store.protocols import ArchiveStore
from .render import Renderer, digest_context, edition_date, web_url

log = logging.getLogger(__name__)

INDEX_LIMIT = 500


def edition_path(settings: Settings, edition: Edition) -> Path:
    root = settings.path(settings.digest.archive_dir)
    return root / edition_date(edition, settings) / f"{edition.variant}.html"


@dataclass
class ArchiveReport:
    """What an archive run wrote, and the pages it could not write (each with why)."""

    written: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def archived(editions: list[Edition]) -> list[Edition]:
    """The editions that get a page: digests, not "nothing new" notes."""
    return [e for e in editions if e.kind == "digest" and e.variant]


def write_archive(settings: Settings, store: ArchiveStore, renderer: Renderer) -> ArchiveReport:
    """Write every missing edition page, then the index and feeds; report what happened."""
    report = ArchiveReport()
    for edition in archived(store.list_editions(INDEX_LIMIT)):
        path = edition_path(settings, edition)
        if path.exists():
            continue
        try:
            page = renderer.render_public(
                digest_context(settings, store, edition), settings.digest.subject
            )
            store.set_edition_subject(edition.id, page.subject)
            atomic_write(path, page.html.encode("utf-8"))
        except (PublisherError, OSError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            log.warning("archive page %s not written: %s (tried again next run)", path, why)
            report.failed.append(f"{path}: {why}")
            continue
        report.written.append(path)
    report.written += write_index(settings, store, renderer)
    return report


def write_index(settings: Settings, store: ArchiveStore, renderer: Renderer) -> list[Path]:
    """The archive's ``index.html``, ``feed.xml`` (Atom) and ``rss.xml``, newest first."""
    root = settings.path(settings.digest.archive_dir)
    editions = archived(store.list_editions(INDEX_LIMIT))
    entries = [
        {
            "date": edition_date(e, settings),
            "subject": e.subject or f"{settings.site.name} digest",
            "url": web_url(e, settings),
            "count": len(e.article_ids),
        }
        for e in editions
    ]
    html = renderer.render_page(
        "archive_index.html",
        {
            "site_name": settings.site.name,
            "site_url": settings.site.url,
            "feed_url": settings.archive_url + "/feed.xml",
            "rss_url": settings.archive_url + "/rss.xml",
            "entries": entries,
        },
    )
    written = []
    if atomic_write(root / "index.html", html.encode("utf-8")):
        written.append(root / "index.html")
    for name, data in edition_feeds(settings, editions).items():
        if atomic_write(root / name, data):
            written.append(root / name)
    return written


def edition_feeds(settings: Settings, editions: list[Edition]) -> dict[str, bytes]:
    """``feed.xml`` (Atom) and ``rss.xml`` of the archived editions; ids are the page URLs."""
    base = settings.archive_url
    pages = []
    for edition in editions:
        count = len(edition.article_ids)
        pages.append(
            PageEntry(
                url=web_url(edition, settings),
                title=edition.subject or f"{settings.site.name} digest",
                updated=edition.cut_at,
                summary=f"{count} {'story' if count == 1 else 'stories'}",
            )
        )
    built = build_page_feeds(
        f"{settings.site.name}: digest archive",
        base + "/",
        base + "/rss.xml",
        base + "/feed.xml",
        pages,
    )
    return {"feed.xml": built["atom"], "rss.xml": built["rss"]}
