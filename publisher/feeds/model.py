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
from ..slugs import slugify

# The build date of a feed with no items yet (validators call 1970 "implausible").
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Bump when the output of any format changes, so every feed is rebuilt once after an upgrade.
FORMAT_VERSION = "3"
FILENAMES = ("rss.xml", "atom.xml", "feed.json")
MEDIA_TYPES = {
    "rss.xml": "application/rss+xml",
    "atom.xml": "application/atom+xml",
    "feed.json": "application/feed+json",
}


@dataclass(frozen=True)
class Enclosure:
    """A lead image as feeds announce it: RSS needs its exact length and MIME type."""

    url: str
    length: int
    mime: str


@dataclass(frozen=True)
class FeedItem:
    """One article ready for any format."""

    article: Article
    html: str
    enclosure: Enclosure | None
    author_email: str = ""

    @property
    def updated(self) -> datetime:
        """Never before publication, whatever the source said."""
        return max(self.article.updated or self.article.published, self.article.published)


@dataclass(frozen=True)
class FeedDoc:
    """One feed document: a subscription feed or an immutable archive of it (RFC 5005)."""

    folder: str  # "" for the site-wide feed, "section/politics", "author/web-desk"
    title: str
    subtitle: str
    items: list[FeedItem]
    prev_archive: str | None = None  # URL of the newest older archive document
    archive_of: str | None = None  # for an archive: the period it holds ("2024-09")
    current: str | None = None  # for an archive: URL of the subscription document

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
        self.description = settings.site.description
        self.hubs = list(settings.feeds.hubs)
        self.base = f"{self.url}/feeds"
        self.base_path = urlsplit(self.base).path
        self.stylesheet = f"{self.base_path}/feed.xsl" if settings.feeds.stylesheet else ""
        self.ttl = settings.scheduler.collect_every_minutes

    def feed_url(self, folder: str, filename: str) -> str:
        return "/".join(p for p in (self.base, folder, filename) if p)

    def archive_url(self, folder: str, period: str) -> str:
        return self.feed_url(folder, f"archive/{period}.xml")

    def config_digest(self) -> str:
        """Everything in the config that shapes feed bytes, for the no-change fingerprint."""
        payload = json.dumps(
            [FORMAT_VERSION, self.settings.site.model_dump(mode="json"),
             self.settings.feeds.model_dump(mode="json"), self.ttl],
            sort_keys=True,
        )  # fmt: skip
        return hashlib.sha256(payload.encode()).hexdigest()


def feed_folder(kind: str, name: str) -> str:
    return "" if kind == "site" else f"{kind}/{slugify(name)}"


def item_html(article: Article) -> str:
    """The full HTML of a feed item: standfirst, lead image, highlights, then the body."""
    parts = []
    if article.summary:
        parts.append(f"<p><strong>{html.escape(article.summary)}</strong></p>")
    if article.image_url:
        alt = html.escape(article.image_alt or article.title)
        figure = f'<figure><img src="{html.escape(article.image_url)}" alt="{alt}">'
        if article.image_credit:
            figure += f"<figcaption>Image: {html.escape(article.image_credit)}</figcaption>"
        parts.append(figure + "</figure>")
    if article.highlights:
        items = "".join(f"<li>{html.escape(h)}</li>" for h in article.highlights)
        parts.append(f"<ul>{items}</ul>")
    parts.append(article.content_html)
    return "\n".join(parts)
