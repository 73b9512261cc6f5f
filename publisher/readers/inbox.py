"""Unsubscribes that arrive by mail: the ``mailto:`` half of ``List-Unsubscribe``.

Every digest's ``List-Unsubscribe`` offers ``mailto:<unsubscribe mailbox>?subject=unsubscribe
<token>``; mail clients send exactly that. The message's Subject carries the token, which
names the reader (a forged or altered one is refused), so the sender's own address does not
need to match (forwarding and aliases are common) and nobody can unsubscribe someone else by
writing in. Only the headers are parsed: a hostile body cannot stop the run.
"""

from __future__ import annotations

import logging
from email.parser import BytesHeaderParser
from email.policy import compat32

from ..config import Settings
from ..errors import PublisherError
from ..mail.bounces import OtherMail
from ..store.protocols import ReaderStore
from ..tokens import TOKEN_PATTERN
from .leave import unsubscribe_by_token

log = logging.getLogger(__name__)


def mailto_unsubscribes(settings: Settings, store: ReaderStore) -> OtherMail:
    """A handler for ``process_bounces``: unsubscribes the reader a Subject's token names."""

    def handle(data: bytes, where: str) -> str:
        headers = BytesHeaderParser(policy=compat32).parsebytes(data[:65536])
        subject = " ".join(str(headers.get("Subject", "")).split())
        if "unsubscribe" not in subject.lower():
            return ""
        for token in TOKEN_PATTERN.findall(subject):
            try:
                reader = unsubscribe_by_token(settings, store, token, "mailto")
            except PublisherError:
                continue
            log.info("unsubscribed %s by mail (%s)", reader.email, where)
            return f"{where}: unsubscribed {reader.email} (mailto)"
        return ""

    return handle
