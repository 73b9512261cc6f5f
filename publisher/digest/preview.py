"""Digests outside the queue: previews and test sends.

A preview builds exactly the message the sender would (same renderer, same byte assembly) for
an edition that is never recorded: nothing is queued and no cursor moves, so previewing can
never cost a reader an article.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from ..config import Settings
from ..errors import PublisherError
from ..mail.mime import OutgoingMessage, unique_message_id
from ..models import Edition, Subscriber
from ..store.protocols import PreviewStore
from ..subscribers import section_filter, wants
from .compose import DigestComposer, make_renderer
from .render import Renderer

SAMPLE_READER = Subscriber(id=0, email="reader@example.com", name="Sample Reader")


@dataclass
class Preview:
    """One previewed digest: the decoded parts and the full message."""

    edition: Edition
    subscriber: Subscriber
    html: str
    text: str
    message: OutgoingMessage

    def write(self, folder: Path) -> list[Path]:
        """Write digest.html, digest.txt and digest.eml into ``folder``; return their paths."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / "digest.html", folder / "digest.txt", folder / "digest.eml"]
        paths[0].write_text(self.html, encoding="utf-8")
        paths[1].write_text(self.text, encoding="utf-8")
        paths[2].write_bytes(self.message.data)
        return paths


def preview_articles(
    settings: Settings, store: PreviewStore, subscriber: Subscriber | None, on: date | None
) -> list[int]:
    """Article ids a preview shows.

    With ``on``: the articles published that day (site zone). Otherwise, for a subscriber, what
    they are owed right now; for no subscriber, the newest articles.
    """
    limit = settings.digest.max_articles
    sections = section_filter(subscriber.sections) if subscriber else None
    if on is not None:
        tz = settings.site.tz
        start = datetime.combine(on, time(0), tzinfo=tz)
        end = start + timedelta(days=1)
        found = [
            a
            for a in store.latest_articles(10_000)
            if start <= a.published < end and wants(sections, a.section)
        ]
        return [a.id for a in sorted(found, key=lambda a: a.id or 0) if a.id is not None][:limit]
    if subscriber is not None and subscriber.id > 0:
        cut = store.cut_article_id()
        owed = store.article_sections(subscriber.last_article_id, cut)
        return [i for i, section in owed if wants(sections, section)][:limit]
    return [a.id for a in store.latest_articles(limit) if a.id is not None]


def build_preview(
    settings: Settings,
    store: PreviewStore,
    subscriber: Subscriber | None = None,
    on: date | None = None,
    *,
    now: datetime | None = None,
    renderer: Renderer | None = None,
) -> Preview:
    """The message ``subscriber`` (or a sample reader) would get; PublisherError if empty."""
    when = now or datetime.now(UTC)
    ids = preview_articles(settings, store, subscriber, on)
    if not ids:
        raise PublisherError(
            "no articles to preview", "collect first, or pass --date for a day with articles"
        )
    reader = subscriber or SAMPLE_READER
    edition = Edition(id=0, kind="digest", cut_at=when, article_ids=ids, variant="")
    sender = DigestComposer(settings, store, renderer or make_renderer(settings))
    message = sender.message(edition, reader, when, msgid=unique_message_id(settings.site.domain))
    html, text = sender.rendered(edition, reader).personalise(sender.personal_values(reader, when))
    return Preview(edition, reader, html, text, message)


def sample_message(
    settings: Settings, store: PreviewStore, to: str, on: date | None = None
) -> OutgoingMessage:
    """A digest of the newest articles addressed to ``to``, for checking how it arrives."""
    reader = replace(SAMPLE_READER, email=to, name="")
    return build_preview(settings, store, reader, on).message


__all__ = ["Preview", "build_preview", "sample_message"]
