"""Signed, expiring tokens for links in emails (confirm, unsubscribe, preferences).

A token is ``<purpose>.<subscriber id>.<expiry>.<signature>`` with an HMAC-SHA256 signature
over the first three parts, keyed by ``[site] secret_key``. Links stay short, need no database
row, and cannot be forged or reused for another purpose or subscriber.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from .errors import PublisherError

UNSUBSCRIBE_LIFETIME = 400 * 24 * 3600  # an old digest's link must still work a year later


class TokenError(PublisherError):
    """A token was malformed, forged, for another purpose, or expired."""


def _signature(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def make_token(
    secret: str, purpose: str, subscriber_id: int, lifetime: int, now: float | None = None
) -> str:
    expires = int((time.time() if now is None else now) + lifetime)
    payload = f"{purpose}.{subscriber_id}.{expires}"
    return f"{payload}.{_signature(secret, payload)}"


def read_token(secret: str, token: str, purpose: str, now: float | None = None) -> int:
    """Return the subscriber id a valid token names; raise TokenError otherwise."""
    try:
        got_purpose, sid, expires, signature = token.split(".")
        subscriber_id, expiry = int(sid), int(expires)
    except ValueError:
        raise TokenError("malformed link", "copy the whole link from the email") from None
    expected = _signature(secret, f"{got_purpose}.{sid}.{expires}")
    if not hmac.compare_digest(expected, signature) or got_purpose != purpose:
        raise TokenError("this link is not valid", "use the link from your latest email")
    if expiry < (time.time() if now is None else now):
        raise TokenError("this link has expired", "use the link from your latest email")
    return subscriber_id
