"""The database schema as SQLAlchemy Core tables.

Alembic migrations under ``migrations/versions`` create exactly this; a test compares the two
so they never drift. Datetimes are stored as naive UTC (SQLite has no zone type) and come back
timezone-aware through ``UTCDateTime``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, naive UTC in the column, aware UTC out."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; attach a time zone first")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


metadata = MetaData()

articles = Table(
    "articles",
    metadata,
    # The id grows in the order articles were first collected: digests use it as their cursor.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(512), nullable=False, unique=True),
    # The feed id: a tag: URI fixed when the article is first stored and never changed after.
    Column("guid", String(600), nullable=False, unique=True),
    Column("source", String(100), nullable=False),
    Column("title", Text, nullable=False),
    # The public URL, fixed when the article is first stored; only an explicit link or slug
    # in the source moves it, and the old one is then kept in article_urls.
    Column("link", Text, nullable=False),
    Column("slug", String(200), nullable=False, default=""),  # the link's own segment
    Column("author", Text, nullable=False, default=""),  # the first author
    Column("authors", Text, nullable=False, default="[]"),  # JSON list: every author
    Column("section", String(200), nullable=False, default=""),
    Column("summary", Text, nullable=False, default=""),
    Column("content_html", Text, nullable=False, default=""),
    Column("highlights", Text, nullable=False, default="[]"),  # JSON list of strings
    Column("tags", Text, nullable=False, default="[]"),  # JSON list of strings
    Column("image_url", Text, nullable=False, default=""),
    Column("image_alt", Text, nullable=False, default=""),
    Column("image_credit", Text, nullable=False, default=""),
    Column("published_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The UTC offsets (minutes east) the source gave those dates, so feeds show "+05:00".
    Column("published_offset", Integer, nullable=False, default=0),
    Column("updated_offset", Integer, nullable=False, default=0),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
    # The raw source file's digest: an unchanged file is not even parsed again.
    Column("source_hash", String(64), nullable=True),
    # When the stored article last changed (insert or edit): feeds skip all work if the
    # newest change and the count are what they were last time.
    Column("changed_at", UTCDateTime, nullable=True),
    # The second (Unix time) feeds show as the item's `updated`: its own, or the first free
    # one after it when other articles hold that second (readers take two entries with one
    # `updated` for versions of each other). Claimed by the feed run, kept after; NULL until
    # then and again after an edit.
    Column("feed_second", BigInteger, nullable=True),
    Index("ix_articles_published_at", "published_at"),
    Index("ix_articles_feed_second", "feed_second"),
    Index("ix_articles_section", "section"),
    Index("ix_articles_link", "link"),
    Index("ix_articles_author", "author"),
)

article_groups = Table(
    "article_groups",
    metadata,
    # Which feeds show each article: the site ("site", ""), its section, each author, each
    # tag. Kept by every insert and edit, so feeds find the newest `limit` of a group and its
    # archive months through an index, whatever the size of the archive.
    # The key leads with the article: an edit replaces its rows through it. Two indexes
    # serve the feeds; each index costs every insert, so there are no more.
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(20), primary_key=True),  # site | section | author | tag
    Column("name", String(500), primary_key=True),
    Column("published_at", UTCDateTime, nullable=False),  # the article's, for the order
    Column("period", String(7), nullable=False),  # its archive month (UTC first collection)
    Index("ix_article_groups_newest", "kind", "name", "published_at", "article_id"),
    Index("ix_article_groups_period", "kind", "name", "period"),
)

slugs = Table(
    "slugs",
    metadata,
    # The URL segment of each section, author and tag (feeds' section/<slug>/ folders and
    # articles' links), fixed the first time the name is seen and never renumbered.
    Column("kind", String(20), primary_key=True),  # section | author | tag
    Column("name", String(500), primary_key=True),  # as written, the display name
    Column("slug", String(200), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    UniqueConstraint("kind", "slug", name="uq_slugs_kind_slug"),
)

article_urls = Table(
    "article_urls",
    metadata,
    # Links an article had before an explicit link or slug in its source moved it: they are
    # never given to another article, and say where an old URL should redirect.
    Column("url", String(2000), primary_key=True),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("replaced_at", UTCDateTime, nullable=False),
    Index("ix_article_urls_article", "article_id"),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", Text, nullable=False, default=""),
    Column("status", String(20), nullable=False, default="active"),
    Column("created_at", UTCDateTime, nullable=False),
    # Every article with an id above this is still owed to the subscriber.
    Column("last_article_id", Integer, nullable=False, default=0),
    # Digest preferences; NULL means "the site default from config".
    Column("timezone", String(64), nullable=True),
    Column("send_hour", Integer, nullable=True),  # local hour 0-23
    Column("frequency", String(10), nullable=False, default="daily"),  # daily | weekly
    Column("weekday", Integer, nullable=True),  # 0 = Monday, for weekly
    Column("sections", Text, nullable=True),  # JSON list of section names; NULL = all
    Column("next_due_at", UTCDateTime, nullable=True),  # when the next digest is due (UTC)
    Column("bounce_count", Integer, nullable=False, default=0),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("unsubscribed_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=True),
    # Consent: when and how they agreed (web | cli | import), and the IP of a web sign-up.
    Column("consent_at", UTCDateTime, nullable=True),
    Column("consent_method", String(20), nullable=False, default=""),
    Column("consent_ip", String(64), nullable=False, default=""),
    Column("paused_until", Date, nullable=True),  # no digest before this local date
    Column("unsubscribed_via", String(20), nullable=False, default=""),  # web | mailto | cli
    Index("ix_subscribers_status_due", "status", "next_due_at"),
)


editions = Table(
    "editions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("cut_at", UTCDateTime, nullable=False),
    Column("article_ids", Text, nullable=False),  # JSON list of article ids, in digest order
    Column("subject", Text, nullable=False, default=""),
    # Which variant of the cut: subscribers due together with the same articles share one.
    Column("variant", String(200), nullable=False, default=""),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("edition_id", Integer, ForeignKey("editions.id"), nullable=False),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id"), nullable=False),
    Column("status", String(20), nullable=False, default="queued"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("message_id", Text, nullable=False, default=""),
    Column("last_error", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    # The queue: a worker claims a row with a lease; an expired lease is resumed by another.
    Column("claimed_by", String(100), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("reply", Text, nullable=False, default=""),  # the server's last reply
    UniqueConstraint("edition_id", "subscriber_id", name="uq_deliveries_edition_subscriber"),
    Index("ix_deliveries_status", "status"),
    Index("ix_deliveries_status_next", "status", "next_attempt_at"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("outcome", String(20), nullable=False),  # sent | retry | failed
    Column("reply", Text, nullable=False, default=""),
    Index("ix_delivery_attempts_delivery", "delivery_id"),
)

feed_pings = Table(
    "feed_pings",
    metadata,
    # WebSub publish notifications still owed to a hub (retried on the next run until sent).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hub", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("pending_since", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("last_ping_at", UTCDateTime, nullable=True),
    UniqueConstraint("hub", "topic", name="uq_feed_pings_hub_topic"),
)

feed_state = Table(
    "feed_state",
    metadata,
    # What each written feed file was built from, so a no-change run builds and writes nothing.
    Column("path", String(500), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("written_at", UTCDateTime, nullable=False),
)

media = Table(
    "media",
    metadata,
    # Size and type of lead images, for RSS enclosures (looked up once, then cached here).
    Column("url", String(2000), primary_key=True),
    Column("length", Integer, nullable=True),  # NULL: unknown (lookup failed)
    Column("mime", String(100), nullable=False, default=""),
    Column("checked_at", UTCDateTime, nullable=False),
)

forgotten = Table(
    "forgotten",
    metadata,
    # Addresses erased on request (``subscribers forget``), as a keyed hash only, so an
    # import cannot bring them back.
    Column("address_hash", String(64), primary_key=True),
    Column("forgotten_at", UTCDateTime, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    # Values the installation keeps for itself, such as the key of the forgotten-address hash.
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

job_runs = Table(
    "job_runs",
    metadata,
    # The last run of each job (collect, feeds, send, inbox): for /healthz and status.
    Column("job", String(50), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("last_ok_at", UTCDateTime, nullable=True),
)

source_state = Table(
    "source_state",
    metadata,
    # One row per polled source (feed, sitemap): conditional-GET validators, where it lives
    # now, its backfill cutoff, and its health (for backoff and ``publisher status``).
    Column("source", String(100), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("configured_url", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("etag", Text, nullable=False, default=""),
    Column("last_modified", Text, nullable=False, default=""),
    Column("body_hash", String(64), nullable=False, default=""),
    Column("since", UTCDateTime, nullable=True),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("last_success_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=False, default=""),
    Column("last_error_at", UTCDateTime, nullable=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=True),
)

source_pages = Table(
    "source_pages",
    metadata,
    # Every URL a sitemap listed (and undated feed items skipped by the backfill window):
    # what became of it, so a page is fetched once and a page without an article never again.
    Column("source", String(100), primary_key=True),
    Column("url", String(2000), primary_key=True),
    Column("status", String(20), nullable=False),  # models.PAGE_STATUSES
    Column("attempts", Integer, nullable=False, default=0),
    Column("lastmod", UTCDateTime, nullable=True),
    Column("hints", Text, nullable=False, default="{}"),  # JSON: news sitemap title, date
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("fetched_at", UTCDateTime, nullable=True),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_source_pages_source_status", "source", "status"),
)
