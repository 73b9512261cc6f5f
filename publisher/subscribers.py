"""Rules about subscribers that do not touch the database: address validation."""

from __future__ import annotations

import re

from .errors import PublisherError

# Deliberately simple: one @, no spaces or header-breaking characters, a dotted domain.
_ADDRESS = re.compile(
    r"^[^@\s<>,;\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)


def validate_email(value: str) -> str:
    """The address, trimmed; PublisherError if it cannot be a deliverable mailbox."""
    address = value.strip()
    if not _ADDRESS.match(address) or len(address) > 320:
        raise PublisherError(
            f"not a valid email address: {value!r}", "use the form name@example.com"
        )
    return address
