"""Plain dataclasses that travel between the layers.

They hold no behaviour beyond small derived values, so every adapter can build and read them
without importing another adapter.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass
class Article:
    """One article as a source produced it: plain-text fields, HTML content, aware datetimes.

    ``link`` and ``slug`` are what the source said explicitly ("" when it said nothing: the
    store then makes the link up once, from the site, the section's slug and the headline's,
    and keeps it). ``authors`` lists every author; ``author`` is the first one, what digests
    and single-author code read, and either may be given: the other is filled in.
    ``published`` and ``updated`` keep the offset the source wrote (naive dates get the site's).
    """

    key: str  # stable identity: "<source name>:<relative path>" (or a feed's guid)
    source: str
    title: str
    link: str
    published: datetime  # timezone-aware
    author: str = ""
    section: str = ""
    summary: str = ""  # the standfirst
    content_html: str = ""
    highlights: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    image_url: str = ""
    image_alt: str = ""
    image_credit: str = ""
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list)
    slug: str = ""  # the URL segment: explicit from the source, or as the store fixed it
    # Filled by the store:
    id: int | None = None
    guid: str = ""
    first_seen: datetime | None = None
    content_hash: str = ""
    source_hash: str = ""  # digest of the raw source (file bytes), set by the source

    def __post_init__(self) -> None:
        if not self.authors and self.author:
            self.authors = [self.author]
        elif self.authors and self.author != self.authors[0]:
            self.author = self.authors[0]

    def compute_hash(self) -> str:
        """A digest of everything a reader sees, so an edit is noticed and an unchanged re-read is not.

        Fields added later join the payload only when they say something (several authors), so
        the digest of every article stored before them stays what it was.
        """
        payload: list[object] = [
            self.title,
            self.link,
            self.published.isoformat(),
            self.author,
            self.section,
            self.summary,
            self.content_html,
            self.highlights,
            self.tags,
            self.image_url,
            self.image_alt,
            self.image_credit,
        ]
        if len(self.authors) > 1:
            payload.append(self.authors)
        text = json.dumps(payload, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Unchanged:
    """A source item whose raw bytes match what was stored last time: nothing to parse."""

    key: str


@dataclass(frozen=True)
class ArticleHead:
    """An article without its text: enough to tell whether a feed showing it changed.

    ``feed_second`` is the Unix second feeds show as its ``updated``: its own, or the first
    free one after it when another article holds that second.
    """

    id: int
    guid: str
    section: str
    author: str
    content_hash: str
    image_url: str
    authors: tuple[str, ...]
    feed_second: int


# pending (signed up, not confirmed), active, unsubscribed (by the reader), bounced (stopped
# after hard bounces), suppressed (stopped by the operator).
SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bounced", "suppressed")


@dataclass
class Subscriber:
    """A person who receives digests."""

    id: int
    email: str
    name: str = ""
    status: str = "active"  # pending | active | unsubscribed | bounced | suppressed
    created_at: datetime | None = None
    last_article_id: int = 0  # the digest cursor: every article with a higher id is still owed
    timezone: str | None = None  # None: the site's zone
    send_hour: int | None = None  # local hour; None: the site's send time
    frequency: str = "daily"  # daily | weekly
    weekday: int | None = None  # 0 = Monday, for weekly digests
    sections: list[str] | None = None  # None: every section
    next_due_at: datetime | None = None
    bounce_count: int = 0
    consent_at: datetime | None = None  # when they agreed to receive digests
    consent_method: str = ""  # how: web (double opt-in), cli, import
    consent_ip: str = ""  # the address a web sign-up came from
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    unsubscribed_via: str = ""  # web | mailto | cli
    paused_until: date | None = None  # no digest before this local date


@dataclass
class Edition:
    """One cut of the digest: a fixed list of articles rendered for a group of subscribers."""

    id: int
    kind: str
    cut_at: datetime
    article_ids: list[int]
    subject: str = ""
    variant: str = ""


@dataclass
class Delivery:
    """One (edition, subscriber) message and where it is in its life."""

    id: int
    edition_id: int
    subscriber_id: int
    status: str  # queued | claimed | sent | retry | failed | suppressed | bounced (after sent)
    attempts: int = 0
    message_id: str = ""
    last_error: str = ""
    claimed_by: str | None = None
    lease_until: datetime | None = None
    next_attempt_at: datetime | None = None
    reply: str = ""


@dataclass
class SourceState:
    """What is remembered about one polled source (a feed or a sitemap) between runs.

    Kept in the database so a restart neither re-downloads an unchanged feed (``etag``,
    ``last_modified``), nor forgets a permanent redirect (``url``), nor hammers a source that
    is down (``failures``, ``next_attempt_at``); ``publisher status`` shows the rest.
    """

    name: str
    kind: str  # feed | sitemap
    configured_url: str  # the config's url when this was recorded: a new one starts afresh
    url: str  # where the source is fetched now (a permanent redirect moves it)
    etag: str = ""
    last_modified: str = ""
    body_hash: str = ""  # SHA-256 of the last body read: a server that ignores validators
    # and sends the same bytes again costs a download, not a parse.
    # Items dated before this are never taken: set on the first successful poll to
    # ``backfill_days`` before it, so adding a source does not flood readers with its past.
    since: datetime | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str = ""  # why the last failed poll failed ("" once a poll succeeds)
    last_error_at: datetime | None = None
    failures: int = 0  # consecutive failed polls; the backoff grows with it
    next_attempt_at: datetime | None = None  # None: due at every collect


# What became of a URL a source has seen: waiting to be fetched, stored as an article,
# fetched but no article in it, given up after repeated failures, older than the backfill
# window when first seen, or refused by the site's robots.txt. Only "queued" is fetched.
PAGE_STATUSES = ("queued", "ok", "empty", "failed", "old", "blocked")


@dataclass
class SourcePage:
    """One URL a sitemap (or, for undated items, a feed) listed, and what became of it."""

    url: str
    status: str  # one of PAGE_STATUSES
    attempts: int = 0
    lastmod: datetime | None = None  # as the sitemap gives it
    hints: dict[str, str] = field(default_factory=dict)  # news sitemap title, date, keywords
    first_seen_at: datetime | None = None
    fetched_at: datetime | None = None
    detail: str = ""  # why it is empty, failed or blocked
