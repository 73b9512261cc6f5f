"""What a feed is made of, independent of format: documents, items, enclosures, URLs."""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from ..config import Settings
from ..models import Article
from ..slugs import LinkRules, segment
from ..urls import UnsafeURL, public_url

# The build date of a feed with no items yet (validators call 1970 "implausible").
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Bump when the output of any format changes, so every feed (archives too) is rebuilt once
# after an upgrade.
FORMAT_VERSION = "4"
FILENAMES = ("rss.xml", "atom.xml", "feed.json")
MEDIA_TYPES = {
    "rss.xml": "application/rss+xml",
    "atom.xml": "application/atom+xml",
    "feed.json": "application/feed+json",
}
# Languages written right to left: the stylesheet's page and digests take their direction.
RTL_LANGUAGES = {"ar", "arc", "ckb", "dv", "fa", "ha", "he", "khw", "ks", "ku", "ps", "sd", "syr", "ug", "ur", "yi"}  # fmt: skip


@dataclass(frozen=True)
class Enclosure:
    """A lead image as feeds announce it: RSS needs its exact length and MIME type."""

    url: str
    length: int
    mime: str


@dataclass(frozen=True)
class FeedItem:
    """One article ready for any format.

    ``updated`` is the article's last change, never before publication, and one second
    apart from every other article's (the feed second the store claims for it,
    ``store.groups``: Atom readers and validators expect entries' ``updated`` to differ). ``emails`` holds the configured address of each
    author that has one.
    """

    article: Article
    html: str
    enclosure: Enclosure | None
    updated: datetime
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedDoc:
    """One feed document: a subscription feed or an immutable archive of it (RFC 5005)."""

    folder: str  # "" for the site-wide feed, "section/politics", "author/web-desk"
    title: str
    subtitle: str
    items: list[FeedItem]
    prev_archive: str | None = None  # the newest older archive's period ("2024-08")
    archive_of: str | None = None  # for an archive: the period it holds ("2024-09")

    @property
    def updated(self) -> datetime:
        return max((item.updated for item in self.items), default=EPOCH)


class Site:
    """The settings a feed needs, with URL helpers; built once per run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.site.name
        self.url = settings.site.url
        self.domain = settings.site.domain
        self.language = settings.site.language
        self.rtl = self.language.split("-")[0].lower() in RTL_LANGUAGES
        self.description = settings.site.description
        self.hubs = list(settings.feeds.hubs)
        self.base = f"{self.url}/feeds"
        self.base_path = urlsplit(self.base).path
        self.stylesheet = f"{self.base_path}/feed.xsl" if settings.feeds.stylesheet else ""
        self.ttl = settings.scheduler.collect_every_minutes
        self.rules = LinkRules(self.url, settings.site.slug_ascii)
        self.max_content_bytes = settings.feeds.max_content_bytes
        self.icon = ""
        if settings.site.icon:
            try:
                self.icon = public_url(settings.site.icon, self.url + "/")
            except UnsafeURL:  # config refuses these; a path like "/x" always resolves
                self.icon = ""

    def feed_url(self, folder: str, filename: str) -> str:
        """The public URL of a feed file: folders in any script, percent-encoded."""
        parts = [self.base, *(segment(p) for p in folder.split("/") if p), filename]
        return "/".join(p for p in parts if p)

    def archive_url(self, folder: str, period: str, rss: bool = False) -> str:
        """RFC 5005 archives: ``archive/2024-09.xml`` (Atom) and ``archive/2024-09.rss.xml``."""
        return self.feed_url(folder, f"archive/{period}{'.rss' if rss else ''}.xml")

    def config_digest(self) -> str:
        """Everything in the config that shapes feed bytes, for the no-change fingerprint."""
        payload = json.dumps(
            [FORMAT_VERSION, self.settings.site.model_dump(mode="json"),
             self.settings.feeds.model_dump(mode="json"), self.ttl],
            sort_keys=True,
        )  # fmt: skip
        return hashlib.sha256(payload.encode()).hexdigest()


def feed_folder(kind: str, slug: str) -> str:
    """Where a group's feeds live: "" for the site, else ``<kind>/<stored slug>``."""
    return "" if kind == "site" else f"{kind}/{slug}"


def item_html(article: Article, max_bytes: int) -> str:
    """The full HTML of a feed item: standfirst, lead image, highlights, then the body.

    An item bigger than ``max_bytes`` (``[feeds] max_content_bytes``) is not copied whole into
    every feed: readers get the standfirst, the lead image and a link to the story instead.
    An article with nothing to show at all gives "" (feeds then write no empty content).
    """
    lead = []
    if article.summary:
        lead.append(f"<p><strong>{html.escape(article.summary)}</strong></p>")
    if article.image_url:
        alt = html.escape(article.image_alt or article.title)
        figure = f'<figure><img src="{html.escape(article.image_url)}" alt="{alt}">'
        if article.image_credit:
            figure += f"<figcaption>Image: {html.escape(article.image_credit)}</figcaption>"
        lead.append(figure + "</figure>")
    rest = []
    if article.highlights:
        items = "".join(f"<li>{html.escape(h)}</li>" for h in article.highlights)
        rest.append(f"<ul>{items}</ul>")
    if article.content_html.strip():
        rest.append(article.content_html)
    full = "\n".join(lead + rest)
    if len(full.encode("utf-8")) <= max_bytes:
        return full
    link, title = html.escape(article.link), html.escape(article.title)
    return "\n".join([*lead, f'<p><a href="{link}">Read the whole story: {title}</a></p>'])
