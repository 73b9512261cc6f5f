"""Write the syndication feeds. The only module that imports feedgen.

One function, ``write_feeds``, owns feed writing. Output is a pure function of the stored
articles (build dates come from the newest article, never from the clock), so a rebuild with
nothing new produces the same bytes and the file is left alone: its mtime and ETag stay put.

feedgen 1.0.0 pitfalls handled here:
- Atom entry links lose rel/type/length (lkiesow/python-feedgen#135): we add Atom entry links
  ourselves after feedgen has serialised the document.
- one self link is shared by the RSS and Atom output: each format gets its own generator.
- ``updated``/``lastBuildDate`` default to now: both are set from the articles.
"""

from __future__ import annotations

import html
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from feedgen.feed import FeedGenerator
from lxml import etree

from .config import Settings
from .errors import FeedError
from .models import Article
from .store import Store

log = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GENERATOR = "publisher"


@dataclass(frozen=True)
class FeedSpec:
    """One logical feed: where it lives under the feeds folder, its title and its items."""

    folder: str  # "" for the site-wide feed
    title: str
    articles: list[Article]


@dataclass
class FeedReport:
    """What a feed run did."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)


def atomic_write(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` atomically; return False (and touch nothing) if unchanged.

    The temp file lives in the same folder so the rename cannot cross file systems, and it is
    fsynced first so a crash leaves either the old feed or the new one, never half of either.
    """
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def item_html(article: Article) -> str:
    """The full HTML of a feed item: lead image, highlights, then the body."""
    parts = []
    if article.image_url:
        caption = html.escape(article.image_credit and f"Image: {article.image_credit}")
        alt = html.escape(article.image_alt or article.title)
        parts.append(
            f'<figure><img src="{html.escape(article.image_url)}" alt="{alt}">'
            + (f"<figcaption>{caption}</figcaption>" if caption else "")
            + "</figure>"
        )
    if article.summary:
        parts.append(f"<p><strong>{html.escape(article.summary)}</strong></p>")
    if article.highlights:
        items = "".join(f"<li>{html.escape(h)}</li>" for h in article.highlights)
        parts.append(f"<ul>{items}</ul>")
    parts.append(article.content_html)
    return "\n".join(parts)


def _last_updated(spec: FeedSpec) -> datetime:
    return max((a.updated or a.published for a in spec.articles), default=EPOCH)


def _generator(
    spec: FeedSpec, settings: Settings, self_url: str, rel_self_type: str
) -> FeedGenerator:
    site = settings.site
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False)  # dc:creator: RSS's author without an email address
    fg.id(f"{site.url}/{spec.folder}".rstrip("/") + "/")
    fg.title(spec.title)
    fg.subtitle(site.description or spec.title)
    fg.language(site.language)
    fg.generator(GENERATOR)
    fg.link(href=site.url + "/", rel="alternate")
    fg.link(href=self_url, rel="self", type=rel_self_type)
    updated = _last_updated(spec)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    for article in reversed(spec.articles):  # feedgen prepends each new entry
        fe = fg.add_entry()
        fe.id(article.guid)
        fe.guid(article.guid, permalink=False)
        fe.title(article.title)
        fe.link(href=article.link, rel="alternate")
        fe.published(article.published)
        fe.updated(article.updated or article.published)
        if article.author:
            fe.author(name=article.author)
            fe.dc.dc_creator(article.author)
        for term in [article.section, *article.tags]:
            if term:
                fe.category(term=term)
        fe.description(article.summary or article.title)
        fe.content(item_html(article), type="html")
    return fg


def build_rss(spec: FeedSpec, settings: Settings) -> bytes:
    url = feed_url(settings, spec.folder, "rss.xml")
    fg = _generator(spec, settings, url, "application/rss+xml")
    return bytes(fg.rss_str(pretty=True))


def build_atom(spec: FeedSpec, settings: Settings) -> bytes:
    url = feed_url(settings, spec.folder, "atom.xml")
    fg = _generator(spec, settings, url, "application/atom+xml")
    root = etree.fromstring(fg.atom_str(pretty=False))
    # feedgen#135: rebuild each entry's links with their attributes intact.
    links = {a.guid: a.link for a in spec.articles}
    for entry in root.iter(f"{{{ATOM_NS}}}entry"):
        guid = entry.findtext(f"{{{ATOM_NS}}}id")
        for old in entry.findall(f"{{{ATOM_NS}}}link"):
            entry.remove(old)
        if guid in links:
            link = etree.SubElement(entry, f"{{{ATOM_NS}}}link")
            link.set("rel", "alternate")
            link.set("type", "text/html")
            link.set("href", links[guid])
    etree.indent(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


FORMATS: dict[str, Callable[[FeedSpec, Settings], bytes]] = {
    "rss.xml": build_rss,
    "atom.xml": build_atom,
}


def feed_url(settings: Settings, folder: str, filename: str) -> str:
    """Where a feed file is served: ``[site] url`` + ``/feeds/`` + its path."""
    return "/".join(p for p in [settings.site.url, "feeds", folder, filename] if p)


def site_feed(settings: Settings, store: Store) -> FeedSpec:
    title = settings.feeds.title or settings.site.name
    return FeedSpec("", title, store.latest_articles(settings.feeds.limit))


def write_feeds(settings: Settings, store: Store) -> FeedReport:
    """Build every feed and write those whose bytes changed."""
    out_dir = settings.path(settings.feeds.dir)
    report = FeedReport()
    for spec in [site_feed(settings, store)]:
        for filename, build in FORMATS.items():
            path = out_dir / spec.folder / filename
            try:
                data = build(spec, settings)
                changed = atomic_write(path, data)
            except OSError as exc:
                raise FeedError(
                    f"cannot write {path}: {exc.strerror}", "check [feeds] dir"
                ) from exc
            (report.written if changed else report.unchanged).append(path)
            if changed:
                log.info("wrote %s (%d items)", path, len(spec.articles))
    return report
