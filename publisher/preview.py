"""Digests outside the queue: previews, test sends, and changing a subscriber's preferences.

A preview builds exactly the message the sender would (same renderer, same byte assembly) for
an edition that is never recorded: nothing is queued and no cursor moves, so previewing can
never cost a reader an article.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .config import Settings
from .digest import section_key
from .errors import PublisherError
from .mailer import OutgoingMessage
from .models import Article, Edition, Subscriber
from .render import Renderer
from .schedule import FREQUENCIES, next_due, slot_for
from .sender import DigestSender, make_renderer
from .store import Store

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


def _matches(article: Article, sections: frozenset[str] | None) -> bool:
    return sections is None or article.section.strip().casefold() in sections


def preview_articles(
    settings: Settings, store: Store, subscriber: Subscriber | None, on: date | None
) -> list[int]:
    """Article ids a preview shows.

    With ``on``: the articles published that day (site zone). Otherwise, for a subscriber, what
    they are owed right now; for no subscriber, the newest articles.
    """
    limit = settings.digest.max_articles
    sections = section_key(subscriber.sections) if subscriber else None
    if on is not None:
        tz = settings.site.tz
        start = datetime.combine(on, time(0), tzinfo=tz)
        end = start + timedelta(days=1)
        found = [
            a
            for a in store.latest_articles(10_000)
            if start <= a.published < end and _matches(a, sections)
        ]
        return [a.id for a in sorted(found, key=lambda a: a.id or 0) if a.id is not None][:limit]
    if subscriber is not None and subscriber.id > 0:
        cut = store.cut_article_id()
        owed = store.article_sections(subscriber.last_article_id, cut)
        return [i for i, s in owed if sections is None or s.strip().casefold() in sections][:limit]
    return [a.id for a in store.latest_articles(limit) if a.id is not None]


def build_preview(
    settings: Settings,
    store: Store,
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
    sender = DigestSender(settings, store, renderer or make_renderer(settings))
    message = sender.message(edition, reader, when)
    html, text = sender.rendered(edition).personalise(sender.personal_values(reader, when))
    return Preview(edition, reader, html, text, message)


def sample_message(
    settings: Settings, store: Store, to: str, on: date | None = None
) -> OutgoingMessage:
    """A digest of the newest articles addressed to ``to``, for checking how it arrives."""
    reader = replace(SAMPLE_READER, email=to, name="")
    return build_preview(settings, store, reader, on).message


def change_preferences(
    settings: Settings,
    store: Store,
    subscriber: Subscriber,
    now: datetime | None = None,
    **prefs: object,
) -> Subscriber:
    """Validate and store new preferences; the next due time is recomputed from them.

    Only the schedule moves: the cursor stays, so nothing owed is lost or sent twice.
    """
    _validate(prefs)
    updated = replace(subscriber, **prefs)  # type: ignore[arg-type]
    due = next_due(now or datetime.now(UTC), slot_for(updated, settings))
    store.set_preferences(subscriber.id, due, **prefs)
    return replace(updated, next_due_at=due)


def _validate(prefs: dict[str, object]) -> None:
    zone = prefs.get("timezone")
    if zone is not None:
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PublisherError(
                f"unknown time zone {zone!r}", "use an IANA name such as 'Europe/London'"
            ) from exc
    hour = prefs.get("send_hour")
    if hour is not None and not (isinstance(hour, int) and 0 <= hour <= 23):
        raise PublisherError(f"bad send hour {hour!r}", "use a local hour from 0 to 23")
    if "frequency" in prefs and prefs["frequency"] not in FREQUENCIES:
        raise PublisherError(f"bad frequency {prefs['frequency']!r}", "use daily or weekly")
    day = prefs.get("weekday")
    if day is not None and not (isinstance(day, int) and 0 <= day <= 6):
        raise PublisherError(f"bad weekday {day!r}", "use 0 (Monday) to 6 (Sunday)")


__all__ = ["Preview", "build_preview", "change_preferences", "sample_message"]
