"""Turn an edition into each subscriber's message: render once, personalise cheaply.

``DigestComposer`` is the message builder ``jobs.py`` hands to the deliveries queue
(``mail/queue.py``), which knows nothing of digests. Per edition variant the templates are
rendered and the CSS inlined once (``render.py``), the MIME body is quoted-printable encoded
once with placeholders (``mail.mime.BodyTemplate``)
and the headers every recipient shares are encoded once. Per recipient only their values are
made (two signed tokens, an escaped name), encoded, and joined in as bytes, which is what lets
one core build thousands of messages a second where ``EmailMessage`` manages about 190.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from ..config import Settings
from ..errors import DeliveryError, RenderError
from ..mail.dkim import Signer, make_signer
from ..mail.mime import (
    BodyTemplate,
    OutgoingMessage,
    check_mailbox,
    check_recipient,
    encode_text_header,
    format_address,
    header_block,
    header_line,
    message_id,
    one_line,
    qp_encode,
)
from ..models import Edition, Subscriber
from ..store.protocols import ArticleReader
from ..tokens import tokens_for
from .content import reason
from .draft import DigestDraft, RenderedDigest
from .render import DigestContext, Renderer, digest_context, site_globals
from .schedule import slot_for


@dataclass(frozen=True)
class PreparedEdition:
    """Everything about an edition that is the same for every recipient in one zone and
    frequency, encoded once."""

    rendered: RenderedDigest
    body: BodyTemplate
    shared_headers: bytes
    html_fields: frozenset[str]
    text_fields: frozenset[str]


def make_renderer(settings: Settings) -> Renderer:
    """A renderer that looks in ``[digest] templates_dir`` first, then the built-in templates,
    and gives every template the site's language, direction and postal address."""
    conf = settings.digest.templates_dir
    return Renderer(settings.path(conf) if conf else None, site_globals(settings))


class DigestComposer:
    """Turns queued deliveries into messages: one render per edition, cheap per recipient.

    An edition is rendered and inlined once (a draft), put in each zone and frequency its
    readers have once (dates, times, "Week of" for weekly readers), and then filled in per
    recipient by substitution.
    """

    def __init__(
        self,
        settings: Settings,
        store: ArticleReader,
        renderer: Renderer,
        signer: Signer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.renderer = renderer
        self.signer = signer if signer is not None else make_signer(settings)
        self._drafts: dict[tuple[int, tuple[int, ...]], DigestDraft] = {}
        self._prepared: dict[tuple[int, tuple[int, ...], str, bool], PreparedEdition] = {}
        self._lock = threading.RLock()
        site = settings.site
        self._domain = site.domain
        self._list_id = f"{one_line(site.name)} digest <digest.{site.domain}>"
        self._mailto = settings.digest.unsubscribe_address
        self._tokens = tokens_for(settings)

    def context(self, edition: Edition) -> DigestContext:
        return digest_context(self.settings, self.store, edition)

    def draft(self, edition: Edition) -> DigestDraft:
        """The edition rendered and inlined once; later calls reuse it."""
        key = (edition.id, tuple(edition.article_ids))  # previews all have id 0
        found = self._drafts.get(key)
        if found is None:
            with self._lock:  # several sending threads build at once: premailer runs once
                found = self._drafts.get(key)
                if found is None:
                    subject = self.settings.digest.subject
                    found = self.renderer.draft_digest(self.context(edition), subject)
                    self._drafts[key] = found
        return found

    def prepare(
        self, edition: Edition, tz: ZoneInfo | None = None, weekly: bool = False
    ) -> PreparedEdition:
        """The edition in one zone and frequency, MIME-encoded once; later calls reuse it."""
        zone = tz or self.settings.site.tz
        key = (edition.id, tuple(edition.article_ids), zone.key, weekly)
        found = self._prepared.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._prepared.get(key)
            if found is None:
                found = self._prepare(edition, zone, weekly)
                self._prepared[key] = found
        return found

    def _prepare(self, edition: Edition, zone: ZoneInfo, weekly: bool) -> PreparedEdition:
        rendered = self.draft(edition).localise(zone, weekly)
        boundary = f"=_digest_{edition.id}_{rendered.stable_hash()[:16]}"
        body = BodyTemplate.build(rendered.text, rendered.html, rendered.placeholder, boundary)
        conf = self.settings.digest
        try:  # a bad sender address is the operator's to fix, not a reason to fail each delivery
            sender = format_address(conf.from_name or self.settings.site.name, conf.from_address)
            shared: list[tuple[str, str]] = [("From", sender)]
            if conf.reply_to:
                shared.append(("Reply-To", check_mailbox(conf.reply_to)))
        except DeliveryError as exc:
            raise RenderError(
                f"cannot use the configured sender: {exc.message}",
                "check [digest] from_address and reply_to",
            ) from exc
        shared += [
            ("Subject", encode_text_header(rendered.subject)),
            ("List-Id", encode_text_header(self._list_id, "List-Id")),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]
        if conf.feedback_id:
            shared.append(("Feedback-ID", self.feedback_id(edition, weekly)))
        shared += [("MIME-Version", "1.0"), ("Content-Type", body.content_type)]
        return PreparedEdition(
            rendered,
            body,
            header_block(shared),
            frozenset(body.html.fields),
            frozenset(body.text.fields),
        )

    def feedback_id(self, edition: Edition, weekly: bool) -> str:
        """Gmail's ``Feedback-ID: campaign:customer:mail type:sender``: complaints are counted
        per daily, weekly, note or test mail of this site, under the configured sender id."""
        if edition.id <= 0:
            campaign = "test"
        elif edition.kind == "note":
            campaign = "note"
        else:
            campaign = "weekly" if weekly else "daily"
        return f"{campaign}:{self._domain}:digest:{self.settings.digest.feedback_id}"

    def rendered(self, edition: Edition, subscriber: Subscriber | None = None) -> RenderedDigest:
        """The edition as ``subscriber`` (or a reader in the site's zone) sees it."""
        if subscriber is None:
            return self.prepare(edition).rendered
        slot = slot_for(subscriber, self.settings)
        return self.prepare(edition, slot.tz, slot.frequency == "weekly").rendered

    def personal_values(
        self, subscriber: Subscriber, when: datetime | None = None, tz: ZoneInfo | None = None
    ) -> dict[str, str]:
        """The recipient's own values; tokens are signed as of ``when`` (reproducible), dates
        are in ``tz`` (default: the subscriber's zone)."""
        site = self.settings.site
        at = when.timestamp() if when is not None else None
        sid = subscriber.id
        unsub = self._tokens.make("unsubscribe", sid, subscriber.email, now=at)
        prefs = self._tokens.make("preferences", sid, subscriber.email, now=at)
        name = one_line(subscriber.name)[:200]
        zone = tz or slot_for(subscriber, self.settings).tz
        return {
            "greeting": f"Hello {name}," if name else "Hello,",
            "name": name,
            "email": subscriber.email,
            "unsubscribe_url": f"{site.url}/unsubscribe/{unsub}",
            "preferences_url": f"{site.url}/preferences/{prefs}",
            "reason": reason(site.name, subscriber.consent_at, subscriber.consent_method, zone),
            "unsubscribe_token": unsub,
        }

    def message(
        self,
        edition: Edition,
        subscriber: Subscriber,
        when: datetime,
        *,
        msgid: str | None = None,
    ) -> OutgoingMessage:
        """One recipient's message. A bad address raises DeliveryError (permanent).

        The Message-ID is stable per (edition, subscriber) unless one is handed in (a preview
        or test send, which must not share one: mailbox providers merge messages that do).
        """
        address = check_recipient(subscriber.email)
        slot = slot_for(subscriber, self.settings)
        prepared = self.prepare(edition, slot.tz, slot.frequency == "weekly")
        to = format_address(subscriber.name, address)
        values = self.personal_values(subscriber, when, slot.tz)
        text_values = {f: qp_encode(values[f]) for f in prepared.text_fields}
        html_values = {f: qp_encode(html.escape(values[f])) for f in prepared.html_fields}
        mid = msgid or message_id(edition.id, subscriber.id, self._domain)
        unsubscribe = (
            f"<{values['unsubscribe_url']}>, "
            f"<mailto:{self._mailto}?subject=unsubscribe%20{values['unsubscribe_token']}>"
        )
        pieces = prepared.body.pieces(text_values, html_values)
        data = b"".join(
            [
                header_line("Date", format_datetime(when)),
                header_line("To", to),
                header_line("Message-ID", mid),
                header_line("List-Unsubscribe", unsubscribe),
                prepared.shared_headers,
                b"\r\n",
                *pieces,
            ]
        )
        if self.signer is not None:
            data = self.signer.sign(data, self.signer.body_hash(pieces), when.timestamp())
        return OutgoingMessage(self.settings.digest.from_address, address, mid, data)
