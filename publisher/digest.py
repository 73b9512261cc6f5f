"""Plan digest editions and send the deliveries they queue.

Planning and sending are separate steps joined by the deliveries table, the queue and the
record of truth. Planning moves each subscriber's cursor in the same transaction that queues
their delivery, so an article is owed until the moment a digest containing it is queued, and
never after. Sending only ever works from queued rows, so a crash between the two loses
nothing and repeats nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .config import Settings
from .errors import DeliveryError, RenderError
from .mailer import OutgoingMessage, Transport, build_message
from .models import Delivery, Edition, Subscriber
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


@dataclass
class SendReport:
    """What one send run did."""

    sent: int = 0
    retry: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


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


def send_pending(
    settings: Settings, store: Store, transport: Transport, renderer: Renderer | None = None
) -> SendReport:
    """Send every queued delivery; record each outcome as soon as the server answers."""
    sender = DigestSender(settings, store, renderer or make_renderer(settings))
    report = SendReport()
    editions: dict[int, Edition] = {}
    after = 0  # each delivery is tried at most once per run; a retry waits for the next run
    while batch := store.pending_deliveries(after_id=after, limit=500):
        subscribers = store.subscribers_by_ids(d.subscriber_id for d in batch)
        for delivery in batch:
            edition = editions.get(delivery.edition_id) or store.get_edition(delivery.edition_id)
            editions[edition.id] = edition
            _send_one(sender, store, transport, edition, delivery, subscribers, report)
        after = batch[-1].id
    return report


MAX_ATTEMPTS = 5


def _send_one(
    sender: DigestSender,
    store: Store,
    transport: Transport,
    edition: Edition,
    delivery: Delivery,
    subscribers: dict[int, Subscriber],
    report: SendReport,
) -> None:
    """Send one delivery and record the result the moment the transport has answered."""
    subscriber = subscribers.get(delivery.subscriber_id)
    if subscriber is None or subscriber.status != "active":
        store.mark_delivery(delivery.id, "suppressed", error="subscriber no longer active")
        return
    try:
        message = sender.message(edition, subscriber, datetime.now(UTC))
        transport.send(message)
    except DeliveryError as exc:
        permanent = exc.permanent or delivery.attempts + 1 >= MAX_ATTEMPTS
        status = "failed" if permanent else "retry"
        store.mark_delivery(delivery.id, status, error=exc.message)
        setattr(report, status, getattr(report, status) + 1)
        report.errors.append(f"{subscriber.email}: {exc.message}")
        log.warning(
            "delivery %d to %s: %s (%s)", delivery.id, subscriber.email, exc.message, status
        )
        return
    except RenderError:
        raise  # a broken template breaks every message: stop and let the operator fix it
    store.mark_delivery(delivery.id, "sent", message_id=message.message_id)
    report.sent += 1


def make_renderer(settings: Settings) -> Renderer:
    """A renderer that looks in ``[digest] templates_dir`` first, then the built-in templates."""
    conf = settings.digest.templates_dir
    return Renderer(settings.path(conf) if conf else None)
