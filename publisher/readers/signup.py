"""Signing up with double opt-in, and confirming.

A sign-up never reveals whether an address is known: whatever the address's state, the
caller shows the same "check your inbox" page. What differs happens by mail, to the address
itself (a confirmation link, or a note that it is already subscribed). A link scanner that
only GETs the confirmation link confirms nobody: the page it gets has a button, and only the
POST (``confirm``) activates.
"""

from __future__ import annotations

import logging

from ..config import Settings
from ..errors import PublisherError
from ..models import Subscriber
from ..store.protocols import ReaderStore
from ..store.subscribers import SignUp
from .forms import SignUpForm
from .leave import address_hash
from .links import reader_for

log = logging.getLogger(__name__)


def sign_up(store: ReaderStore, form: SignUpForm, ip: str) -> SignUp:
    """Record a web sign-up (pending) and queue the mail that goes with it."""
    done = store.sign_up(form.email, form.name, ip, form.prefs)
    log.info("sign-up: %s (%s)", done.outcome, done.notice or "no mail")
    return done


def confirm(settings: Settings, store: ReaderStore, token: str) -> Subscriber:
    """Activate the subscriber a confirmation token names; their consent is recorded now."""
    pending = reader_for(settings, store, token, "confirm")
    active = store.confirm_subscriber(pending.id)
    if active is None:
        raise PublisherError(
            "this confirmation link can no longer be used",
            "sign up again on the subscribe page",
        )
    store.unforget(address_hash(store, active.email))  # their own consent lifts an erasure
    return active
