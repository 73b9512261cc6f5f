"""Write every syndication feed. ``write_feeds`` is the one function that owns feed writing.

For the site, each section, each author (and each tag, when asked) it writes RSS 2.0, Atom 1.0
and JSON Feed 1.1 in the folder of the group's stored slug; immutable monthly archives
(RFC 5005, Atom and RSS) for the full history; an XSL stylesheet, an index page and OPML for
people; and pings WebSub hubs when a feed's bytes change. Output is a pure function of the
stored articles and the config (build dates come from the newest item, never the clock), and
each feed's inputs are fingerprinted, so a run with nothing new builds nothing and writes
nothing: mtimes, ETags and Last-Modified stay put.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..atomicfile import atomic_write
from ..config import Settings
from ..errors import FeedError
from ..models import Article
from ..store.groups import GROUP_KINDS, FeedGroup, period_of
from ..store.protocols import FeedStore
from ..urls import publishable
from .jsonfeed import build_json
from .media import resolve_enclosures
from .model import FILENAMES, FORMAT_VERSION, Enclosure, FeedDoc, FeedItem, Site, item_html
from .pages import index_html, opml, stylesheet
from .plan import PlannedDoc, fingerprint, group_kinds, plan_feeds
from .websub import PingReport, ping_hubs
from .writer import BackgroundWriter, remove_stale_groups
from .xml import Entries, PageEntry, build_atom, build_page_feeds, build_rss, build_xml

log = logging.getLogger(__name__)


def build_all(feed: FeedDoc, site: Site, entries: Entries) -> dict[str, bytes]:
    """Every format of one subscription feed, by file name."""
    return {**build_xml(feed, site, entries), "feed.json": build_json(feed, site)}


@dataclass
class FeedReport:
    """What a feed run did."""

    written: list[Path] = field(default_factory=list)
    unchanged: int = 0
    removed: list[Path] = field(default_factory=list)
    feeds: int = 0
    changed_urls: list[str] = field(default_factory=list)
    pings: PingReport = field(default_factory=PingReport)


def _subtitle(site: Site, doc: PlannedDoc) -> str:
    if doc.kind == "section":
        return f"The latest {doc.name} stories from {site.name}."
    if doc.kind == "author":
        return f"The latest stories by {doc.name} for {site.name}."
    if doc.kind == "tag":
        return f"The latest stories tagged {doc.name} from {site.name}."
    return site.description or f"The latest stories from {site.name}."


def _items(
    articles: list[Article],
    enclosures: dict[str, Enclosure],
    site: Site,
    seconds: dict[int, int],
) -> list[FeedItem]:
    """Feed items; every link and image passes ``urls.publishable`` on its way into a feed.

    ``seconds`` holds each article's feed second (its distinct ``updated``, claimed by the
    store), shown in the offset the source gave.
    """
    emails = site.settings.feeds.author_emails
    items = []
    for article in articles:
        safe = publishable(article, site.url + "/")
        shown = max(safe.updated or safe.published, safe.published)
        second = seconds.get(safe.id) if safe.id is not None else None
        moment = datetime.fromtimestamp(second, UTC) if second is not None else None
        items.append(
            FeedItem(
                safe,
                item_html(safe, site.max_content_bytes),
                enclosures.get(safe.image_url),
                moment.astimezone(shown.tzinfo) if moment else shown,
                tuple(emails.get(name, "") for name in safe.authors),
            )
        )
    return items


ARCHIVE_STATE = f"archive-{FORMAT_VERSION}"  # an archive from an older format is written again


def _write_archives(
    site: Site,
    store: FeedStore,
    doc: PlannedDoc,
    out: Path,
    writer: BackgroundWriter,
    entries: Entries,
    known: dict[str, str],
) -> list[Path]:
    """Write each closed period's archives (Atom and RSS) once; an archive is never written
    again unless publisher's output format changed since."""
    paths = []
    for i, period in enumerate(doc.periods):
        atom = out / doc.folder / "archive" / f"{period}.xml"
        rss = out / doc.folder / "archive" / f"{period}.rss.xml"
        paths += [atom, rss]
        if all(p.exists() and known.get(_key(out, p)) == ARCHIVE_STATE for p in (atom, rss)):
            continue
        articles = store.articles_of_period(doc.kind, doc.name, period)
        seconds = store.feed_seconds([a.id for a in articles if a.id is not None])
        images = {a.image_url for a in articles if a.image_url}
        archive = FeedDoc(
            folder=doc.folder,
            title=f"{doc.title} (archive {period})",
            subtitle=_subtitle(site, doc),
            items=_items(articles, resolve_enclosures(images, site.settings, store), site, seconds),
            prev_archive=doc.periods[i - 1] if i else None,
            archive_of=period,
        )
        writer.submit(atom, build_atom(archive, site, entries))
        writer.submit(rss, build_rss(archive, site, entries))
    return paths


def _key(out: Path, path: Path) -> str:
    return path.relative_to(out).as_posix()


def _group_slugs(
    site: Site, store: FeedStore, groups: list[FeedGroup]
) -> dict[str, dict[str, str]]:
    """The stored slug of every section, author and tag the planned feeds need. Names stored
    before slugs were (or tags, when tag feeds are turned on) get theirs now, once."""
    wanted: dict[str, set[str]] = {kind: set() for kind in GROUP_KINDS}
    for group in groups:
        if group.kind in wanted:
            wanted[group.kind].add(group.name)
    found: dict[str, dict[str, str]] = {}
    for kind, names in wanted.items():
        found[kind] = store.group_slugs(kind) if names else {}
        if missing := names - found[kind].keys():
            found[kind] |= store.ensure_slugs(kind, missing, site.rules)
    return found


CORPUS = "(corpus)"  # the feed_state row that says what the whole set was built from


def _corpus_key(site: Site, store: FeedStore, now: datetime) -> str:
    """Changes when anything any feed shows could have changed: articles, media, config, month.

    A digest, so it fits feed_state's fingerprint column (64 characters, which PostgreSQL
    enforces and SQLite does not).
    """
    parts = [site.config_digest(), store.corpus_key(), store.media_key(), period_of(now)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _rebuild(
    site: Site,
    store: FeedStore,
    now: datetime,
    out: Path,
    known: dict[str, str],
    report: FeedReport,
) -> dict[str, str]:
    """Plan every feed, build those whose inputs changed (``known``: the feed_state as the
    last run left it); return the new feed_state."""
    settings = site.settings
    store.claim_feed_seconds()
    closed_before = period_of(now) if settings.feeds.archives else None
    groups = store.feed_groups(group_kinds(settings), settings.feeds.limit, closed_before)
    heads = store.article_heads(list(dict.fromkeys(i for g in groups for i in g.article_ids)))
    docs = plan_feeds(groups, heads, settings, _group_slugs(site, store, groups))
    seconds = {head.id: head.feed_second for head in heads.values()}
    report.feeds = len(docs)
    images = {h.image_url for d in docs for h in d.heads if h.image_url}
    enclosures = resolve_enclosures(images, site.settings, store)
    state: dict[str, str] = {}
    site_digest = site.config_digest()
    emails = site.settings.feeds.author_emails
    stale: list[tuple[PlannedDoc, str]] = []  # (doc, subtitle) of the feeds to rebuild
    for doc in docs:
        subtitle = _subtitle(site, doc)
        digest = fingerprint(site_digest, doc, enclosures, subtitle, emails)
        keys = [f"{doc.folder}/{name}".lstrip("/") for name in FILENAMES]
        if all(known.get(key) == digest and (out / key).exists() for key in keys):
            report.unchanged += len(keys)
        else:
            stale.append((doc, subtitle))
        state |= dict.fromkeys(keys, digest)
    # One query for every article a rebuilt feed shows; each article's item is made once and
    # shared by the site, section, author and tag feeds that show it.
    wanted = list(dict.fromkeys(h.id for doc, _ in stale for h in doc.heads))
    items = {
        item.article.id: item
        for item in _items(store.articles_by_ids(wanted), enclosures, site, seconds)
        if item.article.id is not None
    }
    writer = BackgroundWriter()
    entries = Entries()
    for doc, subtitle in stale:
        feed = FeedDoc(
            folder=doc.folder,
            title=doc.title,
            subtitle=subtitle,
            items=[items[h.id] for h in doc.heads],
            prev_archive=doc.periods[-1] if doc.periods else None,
        )
        for name, data in build_all(feed, site, entries).items():
            writer.submit(out / doc.folder / name, data, site.feed_url(doc.folder, name))
    for doc in docs:
        for path in _write_archives(site, store, doc, out, writer, entries, known):
            state[_key(out, path)] = ARCHIVE_STATE
    pages = {"index.html": index_html(site, docs), "feeds.opml": opml(site, docs)}
    if site.settings.feeds.stylesheet:
        pages["feed.xsl"] = stylesheet(site)
    for name, data in pages.items():
        writer.submit(out / name, data)
        state[name] = "page"
    try:
        written = writer.finish()
    except OSError as exc:
        raise FeedError(
            f"cannot write {exc.filename}: {exc.strerror}", "check [feeds] dir"
        ) from exc
    for path, url, changed in written:
        if changed:
            report.written.append(path)
            if url:
                report.changed_urls.append(url)
        else:
            report.unchanged += 1
    for kind in GROUP_KINDS:
        keep = {d.folder.split("/", 1)[1] for d in docs if d.kind == kind}
        report.removed += remove_stale_groups(out, kind, keep)
    return state


def write_feeds(settings: Settings, store: FeedStore, now: datetime | None = None) -> FeedReport:
    """Build every feed whose inputs changed and write those whose bytes changed.

    When nothing any feed shows has changed since the last run (same articles, media,
    config and archive month, every file still there), nothing is even planned.
    """
    site = Site(settings)
    out = settings.path(settings.feeds.dir)
    moment = now or datetime.now(UTC)
    report = FeedReport()
    corpus = _corpus_key(site, store, moment)
    known = store.feed_fingerprints()
    files = [path for path in known if path != CORPUS]
    if known.get(CORPUS) == corpus and all((out / path).exists() for path in files):
        report.unchanged = len(files)
        report.feeds = sum(1 for path in files if path.endswith("feed.json"))
    else:
        state = _rebuild(site, store, moment, out, known, report)
        state[CORPUS] = corpus
        store.save_feed_fingerprints(state, removed=set(known) - set(state))
    if settings.feeds.hubs:
        report.pings = ping_hubs(
            store, settings.feeds.hubs, report.changed_urls, settings.feeds.hub_timeout
        )
    log.debug(
        "feeds: %d written, %d unchanged, %d removed",
        len(report.written),
        report.unchanged,
        len(report.removed),
    )
    return report


__all__ = ["FeedReport", "PageEntry", "atomic_write", "build_page_feeds", "write_feeds"]
