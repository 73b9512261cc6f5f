"""Drain the deliveries queue: send each queued message and record the outcome at once.

The deliveries table is the queue and the record of truth. A result is written the moment the
transport answers, so the only window for a duplicate is between the server's acceptance and
that write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .config import Settings
from .digest import DigestSender, make_renderer
from .errors import DeliveryError, RenderError
from .mailer import Transport
from .models import Delivery, Edition, Subscriber
from .render import Renderer
from .store import Store

log = logging.getLogger(__name__)


@dataclass
class SendReport:
    """What one send run did."""

    sent: int = 0
    retry: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


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
