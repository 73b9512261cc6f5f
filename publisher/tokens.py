"""Signed, expiring links for readers: confirm, unsubscribe, preferences.

A token, ``<subscriber id>.<address tag>.<expiry>.<signature>``, names one subscriber, the
address they had when it was made, the one thing it may do (its *purpose*: a separate
itsdangerous salt, so an unsubscribe token cannot confirm) and when it expires. It needs no
database row, so a digest's two links cost microseconds to make, and it cannot be forged or
bent to another purpose or subscriber. Signing uses itsdangerous (HMAC over a key derived per
purpose); the newest key signs and every configured key verifies, which is how keys are
rotated without breaking links already sent.

The address is bound as a short hash: if the row's address changed (or the id was reused
after ``forget``) the token no longer matches and is refused.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, Signer

from .config import Settings
from .errors import PublisherError

PURPOSES = ("confirm", "unsubscribe", "preferences")
# What a token looks like, to find one in text (the Subject of a mailto: unsubscribe).
TOKEN_PATTERN = re.compile(r"\b\d{1,12}\.[0-9a-f]{12}\.\d{1,12}\.[A-Za-z0-9_-]{20,}")
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
        self._signers = {
            purpose: Signer(ordered, salt=f"publisher.{purpose}") for purpose in PURPOSES
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
        payload = f"{subscriber_id}.{address_tag(address)}.{expires}"
        return self._signers[purpose].sign(payload).decode("ascii")

    def read(self, token: str, purpose: str, now: float | None = None) -> Claim:
        """The claim of a valid, unexpired token for ``purpose``; TokenError otherwise."""
        try:
            payload = self._signers[purpose].unsign(token[:400].encode("ascii"))
            subscriber_id, tag, expires = payload.decode("ascii").split(".")
            claim = Claim(int(subscriber_id), tag)
            expiry = int(expires)
        except (BadSignature, ValueError, UnicodeError):
            raise TokenError(
                "this link is not valid", "use the link from your latest email"
            ) from None
        if expiry < (time.time() if now is None else now):
            raise TokenError("this link has expired", "use the link from your latest email")
        return claim


def tokens_for(settings: Settings) -> Tokens:
    """The token maker for the configured keys (``[site] secret_key`` or its file)."""
    return Tokens(settings.secret_keys or [""])  # empty: refused before any real send
