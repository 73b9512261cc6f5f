"""Write every syndication feed. ``write_feeds`` is the one function that owns feed writing.

For the site, each section and each author it writes RSS 2.0, Atom 1.0 and JSON Feed 1.1;
immutable monthly archives (RFC 5005) for the full history; an XSL stylesheet, an index page
and OPML for people; and pings WebSub hubs when a feed's bytes change. Output is a pure
function of the stored articles and the config (build dates come from the newest item, never
the clock), and each feed's inputs are fingerprinted, so a run with nothing new builds nothing
and writes nothing: mtimes, ETags and Last-Modified stay put.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..config import Settings
from ..errors import FeedError
from ..models import Article
from ..store import Store
from .jsonfeed import build_json
from .media import resolve_enclosures
from .model import FILENAMES, Enclosure, FeedDoc, FeedItem, Site, item_html
from .pages import index_html, opml, stylesheet
from .plan import PlannedDoc, fingerprint, period_bounds, plan_feeds
from .websub import PingReport, ping_hubs
from .writer import atomic_write, remove_stale_groups
from .xml import build_atom, build_rss

log = logging.getLogger(__name__)

BUILDERS: dict[str, Callable[[FeedDoc, Site], bytes]] = {
    "rss.xml": build_rss,
    "atom.xml": build_atom,
    "feed.json": build_json,
}


@dataclass
class FeedReport:
    """What a feed run did."""

    written: list[Path] = field(default_factory=list)
    unchanged: int = 0
    removed: list[Path] = field(default_factory=list)
    feeds: int = 0
    pings: PingReport = field(default_factory=PingReport)


def _subtitle(site: Site, doc: PlannedDoc) -> str:
    if doc.kind == "section":
        return f"The latest {doc.name} stories from {site.name}."
    if doc.kind == "author":
        return f"The latest stories by {doc.name} for {site.name}."
    return site.description or f"The latest stories from {site.name}."


def _items(articles: list[Article], enclosures: dict[str, Enclosure], site: Site) -> list[FeedItem]:
    emails = site.settings.feeds.author_emails
    return [
        FeedItem(a, item_html(a), enclosures.get(a.image_url), emails.get(a.author, ""))
        for a in articles
    ]


def _write(path: Path, data: bytes, report: FeedReport) -> bool:
    try:
        changed = atomic_write(path, data)
    except OSError as exc:
        raise FeedError(f"cannot write {path}: {exc.strerror}", "check [feeds] dir") from exc
    if changed:
        report.written.append(path)
    else:
        report.unchanged += 1
    return changed


def _write_archives(
    site: Site, store: Store, doc: PlannedDoc, out: Path, report: FeedReport
) -> None:
    """Write each closed period's archive once; an existing archive is never rewritten."""
    for i, period in enumerate(doc.periods):
        path = out / doc.folder / "archive" / f"{period}.xml"
        if path.exists():
            continue
        start, end = period_bounds(period)
        group = {doc.kind: doc.name} if doc.kind != "site" else {}
        articles = store.articles_first_seen_between(start, end, **group)
        enclosures = resolve_enclosures(
            {a.image_url for a in articles if a.image_url}, site.settings, store
        )
        archive = FeedDoc(
            folder=doc.folder,
            title=f"{doc.title} (archive {period})",
            subtitle=_subtitle(site, doc),
            items=_items(articles, enclosures, site),
            prev_archive=site.archive_url(doc.folder, doc.periods[i - 1]) if i else None,
            archive_of=period,
            current=site.feed_url(doc.folder, "atom.xml"),
        )
        _write(path, build_atom(archive, site), report)


def write_feeds(settings: Settings, store: Store, now: datetime | None = None) -> FeedReport:
    """Build every feed whose inputs changed and write those whose bytes changed."""
    site = Site(settings)
    out = settings.path(settings.feeds.dir)
    report = FeedReport()
    heads = store.article_heads()
    docs = plan_feeds(heads, settings, now or datetime.now(UTC))
    report.feeds = len(docs)
    images = {h.image_url for d in docs for h in d.heads if h.image_url}
    enclosures = resolve_enclosures(images, settings, store)
    known = store.feed_fingerprints()
    fingerprints: dict[str, str] = {}
    changed_urls: list[str] = []
    for doc in docs:
        subtitle = _subtitle(site, doc)
        digest = fingerprint(site, doc, enclosures, subtitle)
        paths = {name: out / doc.folder / name for name in FILENAMES}
        if all(known.get(str(p.relative_to(out))) == digest and p.exists() for p in paths.values()):
            report.unchanged += len(paths)
        else:
            articles = store.articles_by_ids([h.id for h in doc.heads])
            feed = FeedDoc(
                folder=doc.folder,
                title=doc.title,
                subtitle=subtitle,
                items=_items(articles, enclosures, site),
                prev_archive=site.archive_url(doc.folder, doc.periods[-1]) if doc.periods else None,
            )
            for name, path in paths.items():
                if _write(path, BUILDERS[name](feed, site), report):
                    changed_urls.append(site.feed_url(doc.folder, name))
                fingerprints[str(path.relative_to(out))] = digest
        _write_archives(site, store, doc, out, report)
    if settings.feeds.stylesheet:
        _write(out / "feed.xsl", stylesheet(), report)
    _write(out / "index.html", index_html(site, docs), report)
    _write(out / "feeds.opml", opml(site, docs), report)
    removed_keys: list[str] = []
    for kind in ("section", "author"):
        keep = {d.folder.split("/", 1)[1] for d in docs if d.kind == kind}
        for folder in remove_stale_groups(out, kind, keep):
            report.removed.append(folder)
            removed_keys += [f"{kind}/{folder.name}/{name}" for name in FILENAMES]
    store.save_feed_fingerprints(fingerprints, removed_keys)
    if settings.feeds.hubs:
        report.pings = ping_hubs(
            store, settings.feeds.hubs, changed_urls, settings.feeds.hub_timeout
        )
    log.info(
        "feeds: %d written, %d unchanged, %d removed",
        len(report.written),
        report.unchanged,
        len(report.removed),
    )
    return report


__all__ = ["FeedReport", "atomic_write", "write_feeds"]
