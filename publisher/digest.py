"""Plan digest editions and turn an edition into each subscriber's message.

Planning and sending are separate steps joined by the deliveries table, the queue and the
record of truth. Planning moves each subscriber's cursor in the same transaction that queues
their delivery, so an article is owed until the moment a digest containing it is queued, and
never after. Sending (``delivery.py``) only ever works from queued rows, so a crash between
the two loses nothing and repeats nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from .config import Settings
from .mailer import OutgoingMessage, build_message
from .models import Edition, Subscriber
from .render import DigestContext, RenderedDigest, Renderer
from .store import Store
from .tokens import UNSUBSCRIBE_LIFETIME, make_token

log = logging.getLogger(__name__)


@dataclass
class PlannedEdition:
    """An edition as planned: which articles, for how many subscribers."""

    edition: Edition | None
    article_count: int
    subscriber_ids: list[int]


def plan_editions(
    settings: Settings, store: Store, now: datetime | None = None, *, dry_run: bool = False
) -> list[PlannedEdition]:
    """Queue a digest for every active subscriber who is owed articles.

    Subscribers with the same cursor are owed the same articles and share one edition.
    """
    cut_at = now or datetime.now(UTC)
    groups: dict[int, list[Subscriber]] = defaultdict(list)
    for subscriber in store.active_subscribers():
        groups[subscriber.last_article_id].append(subscriber)
    planned: list[PlannedEdition] = []
    for cursor, members in sorted(groups.items()):
        articles = store.articles_after(cursor, settings.digest.max_articles)
        if not articles:
            continue
        ids = [a.id for a in articles if a.id is not None]
        sids = [s.id for s in members]
        edition = None if dry_run else store.create_edition("daily", cut_at, ids, sids)
        planned.append(PlannedEdition(edition, len(ids), sids))
        if edition:
            log.info("edition %d: %d articles for %d subscribers", edition.id, len(ids), len(sids))
    return planned


class DigestSender:
    """Turns queued deliveries into messages: one render per edition, cheap per recipient."""

    def __init__(self, settings: Settings, store: Store, renderer: Renderer) -> None:
        self.settings = settings
        self.store = store
        self.renderer = renderer
        self._rendered: dict[int, RenderedDigest] = {}

    def rendered(self, edition: Edition) -> RenderedDigest:
        if edition.id not in self._rendered:
            ctx = DigestContext(
                site_name=self.settings.site.name,
                site_url=self.settings.site.url,
                tz=self.settings.site.tz,
                cut_at=edition.cut_at,
                articles=self.store.articles_by_ids(edition.article_ids),
            )
            self._rendered[edition.id] = self.renderer.render_digest(
                ctx, self.settings.digest.subject
            )
        return self._rendered[edition.id]

    def personal_values(self, subscriber: Subscriber) -> dict[str, str]:
        site = self.settings.site
        token = make_token(site.secret_key, "unsubscribe", subscriber.id, UNSUBSCRIBE_LIFETIME)
        prefs = make_token(site.secret_key, "preferences", subscriber.id, UNSUBSCRIBE_LIFETIME)
        return {
            "greeting": f"Hello {subscriber.name}," if subscriber.name else "Hello,",
            "name": subscriber.name,
            "email": subscriber.email,
            "unsubscribe_url": f"{site.url}/unsubscribe?token={token}",
            "preferences_url": f"{site.url}/preferences?token={prefs}",
        }

    def message(self, edition: Edition, subscriber: Subscriber, when: datetime) -> OutgoingMessage:
        digest = self.rendered(edition)
        values = self.personal_values(subscriber)
        html, text = digest.personalise(values)
        conf = self.settings.digest
        return build_message(
            subject=digest.subject,
            html=html,
            text=text,
            from_name=conf.from_name or self.settings.site.name,
            from_address=conf.from_address,
            to_name=subscriber.name,
            to_address=subscriber.email,
            message_id=message_id(edition.id, subscriber.id, self.settings.site.domain),
            date=when,
            reply_to=conf.reply_to,
            extra_headers={
                "List-Id": f"{self.settings.site.name} digest <digest.{self.settings.site.domain}>",
                "List-Unsubscribe": f"<{values['unsubscribe_url']}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )


def message_id(edition_id: int, subscriber_id: int, domain: str) -> str:
    """Stable per (edition, subscriber): a resend after a crash is recognisable as the same mail."""
    return f"<digest.{edition_id}.{subscriber_id}@{domain}>"


def make_renderer(settings: Settings) -> Renderer:
    """A renderer that looks in ``[digest] templates_dir`` first, then the built-in templates."""
    conf = settings.digest.templates_dir
    return Renderer(settings.path(conf) if conf else None)
