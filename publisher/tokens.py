"""Signed, expiring links for readers: confirm, unsubscribe, preferences.

A token names one subscriber, the address they had when it was made, the one thing it may do
(its *purpose*: a separate itsdangerous salt, so an unsubscribe token cannot confirm) and when
it expires. It needs no database row, so a digest's links cost nothing to make, and it cannot
be forged or bent to another purpose or subscriber. Signing uses itsdangerous (HMAC-SHA1 over
a key derived per purpose); the newest key signs and every configured key verifies, which is
how keys are rotated without breaking links already sent.

The address is bound as a short hash: if the row's address changed (or the id was reused
after ``forget``) the token no longer matches and is refused.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from .config import Settings
from .errors import PublisherError

PURPOSES = ("confirm", "unsubscribe", "preferences")
# An old digest's unsubscribe and preferences links must still work a year later.
LINK_LIFETIME = 400 * 24 * 3600


class TokenError(PublisherError):
    """A token was malformed, forged, for another purpose or address, or expired."""


def address_tag(address: str) -> str:
    """A short digest of an address, compared without case (inside a signed token only)."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Claim:
    """What a valid token says: which subscriber, at which address."""

    subscriber_id: int
    tag: str

    def names(self, address: str) -> bool:
        return self.tag == address_tag(address)


class Tokens:
    """Makes and reads tokens with ``keys``, newest first (the newest one signs)."""

    def __init__(self, keys: Sequence[str]) -> None:
        ordered = list(reversed(keys))  # itsdangerous signs with the last key
        self._serializers = {
            purpose: URLSafeSerializer(ordered, salt=f"publisher.{purpose}") for purpose in PURPOSES
        }

    def make(
        self,
        purpose: str,
        subscriber_id: int,
        address: str,
        lifetime: float = LINK_LIFETIME,
        now: float | None = None,
    ) -> str:
        """A token for ``purpose``; ``now`` makes it reproducible (golden files, previews)."""
        expires = int((time.time() if now is None else now) + lifetime)
        payload = [subscriber_id, address_tag(address), expires]
        return str(self._serializers[purpose].dumps(payload))

    def read(self, token: str, purpose: str, now: float | None = None) -> Claim:
        """The claim of a valid, unexpired token for ``purpose``; TokenError otherwise."""
        serializer = self._serializers[purpose]
        try:
            subscriber_id, tag, expires = serializer.loads(token[:400])
            claim = Claim(int(subscriber_id), str(tag))
            expiry = int(expires)
        except (BadSignature, ValueError, TypeError):
            raise TokenError(
                "this link is not valid", "use the link from your latest email"
            ) from None
        if expiry < (time.time() if now is None else now):
            raise TokenError("this link has expired", "use the link from your latest email")
        return claim


def tokens_for(settings: Settings) -> Tokens:
    """The token maker for the configured keys (``[site] secret_key`` or its file)."""
    return Tokens(settings.secret_keys or [""])  # empty: refused before any real send
