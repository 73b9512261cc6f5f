"""The personal links of a reader, and the one way a link's token is turned back into them.

A token proves "this link was made for subscriber N at address A for purpose P"; it is only
honoured while subscriber N still has address A (``Claim.names``), so a link cannot outlive
an address change or an erasure, and one reader's link never touches another.
"""

from __future__ import annotations

from ..config import Settings
from ..models import Subscriber
from ..store.protocols import SubscriberLookup
from ..tokens import LINK_LIFETIME, TokenError, tokens_for


def link(settings: Settings, purpose: str, subscriber: Subscriber, now: float | None = None) -> str:
    """``<site>/<purpose>/<token>`` for this reader: confirm, unsubscribe or preferences."""
    lifetime = settings.web.confirm_hours * 3600 if purpose == "confirm" else LINK_LIFETIME
    token = tokens_for(settings).make(purpose, subscriber.id, subscriber.email, lifetime, now)
    return f"{settings.site.url}/{purpose}/{token}"


def reader_for(settings: Settings, store: SubscriberLookup, token: str, purpose: str) -> Subscriber:
    """The subscriber a valid token for ``purpose`` names; TokenError for anything else."""
    claim = tokens_for(settings).read(token, purpose)
    subscriber = store.subscriber(claim.subscriber_id)
    if subscriber is None or not claim.names(subscriber.email):
        raise TokenError("this link is not valid any more", "use the link from your latest email")
    return subscriber
