"""The public digest archive: one page per edition variant, an index, and RSS and Atom feeds.

``archive/<date>/<variant>.html`` is the digest as subscribers saw it minus everything personal
(greeting, unsubscribe and preference links), so the "view in your browser" link of every
message can point at it and non-subscribers can browse past issues. ``feed.xml`` (Atom) and
``rss.xml`` announce new issues; they are built by the feeds package, the only home of
feedgen. Files are written atomically and left untouched when their bytes would not change.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..atomicfile import atomic_write
from ..config import Settings
from ..feeds import PageEntry, build_page_feeds
from ..models import Edition
from ..store.protocols import ArchiveStore
from .render import Renderer, digest_context, edition_date, web_url

log = logging.getLogger(__name__)

INDEX_LIMIT = 500


def edition_path(settings: Settings, edition: Edition) -> Path:
    root = settings.path(settings.digest.archive_dir)
    return root / edition_date(edition, settings) / f"{edition.variant}.html"


def write_archive(
    settings: Settings, store: ArchiveStore, renderer: Renderer, created: list[Edition]
) -> list[Path]:
    """Write the pages of ``created`` editions, then the index and feed; return what changed."""
    written: list[Path] = []
    for edition in created:
        if edition.kind != "digest" or not edition.variant:
            continue  # "nothing new" notes are not issues worth archiving
        page = renderer.render_public(
            digest_context(settings, store, edition), settings.digest.subject
        )
        store.set_edition_subject(edition.id, page.subject)
        path = edition_path(settings, edition)
        if atomic_write(path, page.html.encode("utf-8")):
            written.append(path)
    written += write_index(settings, store, renderer)
    return written


def write_index(settings: Settings, store: ArchiveStore, renderer: Renderer) -> list[Path]:
    """The archive's ``index.html``, ``feed.xml`` (Atom) and ``rss.xml``, newest first."""
    root = settings.path(settings.digest.archive_dir)
    editions = [e for e in store.list_editions(INDEX_LIMIT) if e.kind == "digest" and e.variant]
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
