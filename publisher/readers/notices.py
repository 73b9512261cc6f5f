"""One-off mails to one reader (a confirmation link, "you are already subscribed"), and the
builder ``jobs.py`` hands the deliveries queue: notices here, every other edition a digest.

Notices travel the same road as digests (an edition with one delivery, claimed, sent,
retried and recorded by ``mail/queue.py``, DKIM-signed), so a confirmation mail is never
lost and shows up in ``publisher deliveries``; but each is rendered on its own, being rare.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ..config import Settings
from ..digest.render import Renderer
from ..mail.dkim import Signer, make_signer
from ..mail.mime import OutgoingMessage, check_recipient, message_id, simple_message
from ..models import Edition, Subscriber
from ..store.editions import NOTICE_KINDS
from ..store.subscribers import CONFIRMABLE
from .links import link

# Who may still receive each kind: a confirmation only while not yet (or no longer) active,
# a digest and the "already subscribed" note only while active.
AUDIENCE = {"confirm": CONFIRMABLE, "already": ("active",)}


class EditionBuilder(Protocol):
    def message(
        self, edition: Edition, subscriber: Subscriber, when: datetime
    ) -> OutgoingMessage: ...


class NoticeComposer:
    """Renders and builds notices from ``templates/email/<kind>.html`` and ``.txt``."""

    def __init__(self, settings: Settings, renderer: Renderer, signer: Signer | None) -> None:
        self.settings = settings
        self.renderer = renderer
        self.signer = signer

    def context(self, kind: str, subscriber: Subscriber, when: datetime) -> dict[str, object]:
        site = self.settings.site
        at = when.timestamp()
        return {
            "site_name": site.name,
            "site_url": site.url,
            "postal_address": site.postal_address,
            "name": subscriber.name,
            "email": subscriber.email,
            "confirm_url": link(self.settings, "confirm", subscriber, at),
            "preferences_url": link(self.settings, "preferences", subscriber, at),
            "unsubscribe_url": link(self.settings, "unsubscribe", subscriber, at),
            "subscribe_url": site.url + "/subscribe",
            "confirm_hours": self.settings.web.confirm_hours,
        }

    def message(self, edition: Edition, subscriber: Subscriber, when: datetime) -> OutgoingMessage:
        conf = self.settings.digest
        address = check_recipient(subscriber.email)
        subject, html, text = self.renderer.render_note(
            edition.kind, self.context(edition.kind, subscriber, when)
        )
        mid = message_id(edition.id, subscriber.id, self.settings.site.domain)
        data = simple_message(
            sender=conf.from_address,
            sender_name=conf.from_name or self.settings.site.name,
            recipient=address,
            recipient_name=subscriber.name,
            subject=subject,
            text=text,
            html=html,
            message_id=mid,
            date=when,
            extra=[("Reply-To", conf.reply_to)] if conf.reply_to else [],
        )
        if self.signer is not None:
            data = self.signer.sign(data)
        return OutgoingMessage(conf.from_address, address, mid, data)


class MailBuilder:
    """The message builder of a send run: notices by kind, every other edition a digest.

    Also decides who may still receive what (``refuse``): a digest only an active reader, a
    confirmation only one still pending. A reader who unsubscribed while a mail sat in the
    queue gets nothing.
    """

    def __init__(self, settings: Settings, digests: EditionBuilder, renderer: Renderer) -> None:
        self.digests = digests
        self.notices = NoticeComposer(settings, renderer, make_signer(settings))

    def refuse(self, edition: Edition, subscriber: Subscriber) -> str:
        wanted = AUDIENCE.get(edition.kind, ("active",))
        return "" if subscriber.status in wanted else f"subscriber is {subscriber.status}"

    def message(self, edition: Edition, subscriber: Subscriber, when: datetime) -> OutgoingMessage:
        if edition.kind in NOTICE_KINDS:
            return self.notices.message(edition, subscriber, when)
        return self.digests.message(edition, subscriber, when)
