"""Leaving: unsubscribing (a link, the one-click POST, a mailto, the operator) and erasure.

An unsubscribe is honoured at once and for good: the status changes and every delivery
still queued for the reader is stopped in the same transaction. ``forget`` goes further and
erases the person (row, deliveries, attempts), keeping only a keyed hash of the address so
that an import cannot bring them back.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

from ..config import Settings
from ..models import Subscriber
from ..store.protocols import ReaderStore
from .links import reader_for


class KeyStore(Protocol):
    def forget_key(self) -> bytes: ...


def address_hash(store: KeyStore, email: str) -> str:
    """The keyed hash an erased address is remembered by (HMAC-SHA256, the installation's
    key): a leaked table does not list the addresses, yet an import can be checked."""
    key = store.forget_key()
    return hmac.new(key, email.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()


def unsubscribe_by_token(
    settings: Settings, store: ReaderStore, token: str, via: str
) -> Subscriber:
    """Unsubscribe the reader an unsubscribe token names (idempotent: again is fine)."""
    reader = reader_for(settings, store, token, "unsubscribe")
    store.unsubscribe(reader.id, via)
    return reader


class ForgetStore(KeyStore, Protocol):
    def subscriber_by_email(self, email: str) -> Subscriber | None: ...

    def forget_subscriber(self, subscriber_id: int | None, address_hash: str) -> None: ...


def forget(store: ForgetStore, email: str) -> Subscriber | None:
    """Erase the subscriber with this address (if any) and block the address from imports;
    returns who was erased."""
    found = store.subscriber_by_email(email)
    store.forget_subscriber(found.id if found else None, address_hash(store, email))
    return found
