"""The public digest archive: one page per edition variant, an index, and an Atom feed.

``archive/<date>/<variant>.html`` is the digest as subscribers saw it minus everything personal
(greeting, unsubscribe and preference links), so the "view in your browser" link of every
message can point at it and non-subscribers can browse past issues. The feed is written with
the standard library's ``xml.etree`` rather than feedgen: DESIGN.md keeps feedgen inside
``feeds.py``, whose one job is the article feeds. Files are written to a temporary name in the
same folder, fsynced and renamed, and left untouched when their bytes would not change.
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

from .config import Settings
from .models import Edition
from .render import Renderer
from .sender import digest_context, edition_date, web_url
from .store import Store

log = logging.getLogger(__name__)

ATOM = "http://www.w3.org/2005/Atom"
INDEX_LIMIT = 500


def atomic_write(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` all at once; False (nothing written) if it is unchanged."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def edition_path(settings: Settings, edition: Edition) -> Path:
    root = settings.path(settings.digest.archive_dir)
    return root / edition_date(edition, settings) / f"{edition.variant}.html"


def write_archive(
    settings: Settings, store: Store, renderer: Renderer, created: list[Edition]
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


def write_index(settings: Settings, store: Store, renderer: Renderer) -> list[Path]:
    """The archive's ``index.html`` and ``feed.xml`` (Atom), newest edition first."""
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
            "entries": entries,
        },
    )
    written = []
    if atomic_write(root / "index.html", html.encode("utf-8")):
        written.append(root / "index.html")
    if atomic_write(root / "feed.xml", atom_feed(settings, editions)):
        written.append(root / "feed.xml")
    return written


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_feed(settings: Settings, editions: list[Edition]) -> bytes:
    """An Atom 1.0 feed of the archived editions (ids are their permanent page URLs)."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    base = settings.archive_url
    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", base + "/")
    sub(feed, "title", f"{settings.site.name}: digest archive")
    updated = max((e.cut_at for e in editions), default=datetime(2000, 1, 1, tzinfo=UTC))
    sub(feed, "updated", _iso(updated))
    sub(feed, "link", rel="self", href=base + "/feed.xml", type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=base + "/", type="text/html")
    author = sub(feed, "author")
    sub(author, "name", settings.site.name)
    for edition in editions:
        url = web_url(edition, settings)
        entry = sub(feed, "entry")
        sub(entry, "id", url)
        sub(entry, "title", edition.subject or f"{settings.site.name} digest")
        sub(entry, "updated", _iso(edition.cut_at))
        sub(entry, "link", rel="alternate", href=url, type="text/html")
        count = len(edition.article_ids)
        sub(entry, "summary", f"{count} {'story' if count == 1 else 'stories'}")
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))
