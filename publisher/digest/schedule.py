"""When a subscriber's next digest is due: their local send hour, daily or on their weekday.

Kept apart from the planner and free of I/O (``reschedule`` only hands its result to the
store) so the one rule that decides "due" is easy to test across daylight-saving changes. Times are computed on the local wall clock of the subscriber's
zone and only then turned into UTC, so "07:00" stays 07:00 local through DST. A local time that
does not exist (the spring-forward gap) resolves to the first moment after the gap; a local
time that happens twice (fall back) resolves to its first occurrence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..config import Settings
from ..models import Subscriber
from ..store.protocols import LateStore, PreferenceStore
from ..subscribers import FREQUENCIES, validate_preferences

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Slot:
    """A subscriber's effective schedule, site defaults filled in."""

    tz: ZoneInfo
    hour: int
    minute: int
    frequency: str
    weekday: int  # 0 = Monday; used when weekly


def slot_for(subscriber: Subscriber, settings: Settings) -> Slot:
    """The subscriber's schedule with NULL preferences replaced by the site's defaults.

    An unknown zone or hour (bad data in the database) falls back to the site default, so one
    broken row cannot stop the planner.
    """
    site_hour, site_minute = settings.digest.send_hour_minute
    try:
        tz = ZoneInfo(subscriber.timezone) if subscriber.timezone else settings.site.tz
    except (ZoneInfoNotFoundError, ValueError):
        tz = settings.site.tz
    hour, minute = site_hour, site_minute
    if subscriber.send_hour is not None and 0 <= subscriber.send_hour <= 23:
        hour, minute = subscriber.send_hour, 0
    frequency = subscriber.frequency if subscriber.frequency in FREQUENCIES else "daily"
    weekday = subscriber.weekday
    if weekday is None or not 0 <= weekday <= 6:
        weekday = settings.digest.weekday
    return Slot(tz, hour, minute, frequency, weekday)


def _at(day: date, slot: Slot) -> datetime:
    """The UTC instant of the slot's wall-clock time on ``day``.

    zoneinfo reads a time in a spring-forward gap with the offset from before the change
    (fold=0), which lands just after the gap, and an ambiguous fall-back time as its first
    occurrence: both what a reader expects.
    """
    return datetime.combine(day, time(slot.hour, slot.minute), tzinfo=slot.tz).astimezone(UTC)


def next_due(after: datetime, slot: Slot) -> datetime:
    """The first slot instant strictly after ``after`` (aware), in UTC."""
    local_day = after.astimezone(slot.tz).date() - timedelta(days=1)
    for offset in range(0, 10):
        day = local_day + timedelta(days=offset)
        if slot.frequency == "weekly" and day.weekday() != slot.weekday:
            continue
        due = _at(day, slot)
        if due > after:
            return due
    raise AssertionError("unreachable: a weekly slot occurs within ten days")  # pragma: no cover


def last_due(at: datetime, slot: Slot) -> datetime:
    """The latest slot instant at or before ``at``: the digest a reader expected last."""
    found = next_due(at - timedelta(days=8), slot)
    while (following := next_due(found, slot)) <= at:
        found = following
    return found


def postpone_late(settings: Settings, store: LateStore, now: datetime) -> int:
    """Move the due time of readers whose hour passed too long ago to their next slot.

    A daemon that was down catches up once at start, but a digest is not sent more than
    ``[scheduler] grace_minutes`` after the reader's own hour (a morning digest never arrives
    in the evening by surprise): it waits for their next slot. Their cursor does not move,
    so every article owed stays owed and comes then. Returns how many were postponed.
    """
    grace = settings.scheduler.grace_minutes
    if not grace:
        return 0
    cutoff = now - timedelta(minutes=grace)
    moves = []
    for subscriber in store.overdue_subscribers(cutoff):
        assert subscriber.next_due_at is not None
        slot = slot_for(subscriber, settings)
        if now - last_due(now, slot) > timedelta(minutes=grace):
            moves.append((subscriber.id, subscriber.next_due_at, next_due(now, slot)))
    moved = store.postpone_subscribers(moves) if moves else 0
    if moved:
        log.warning(
            "%d subscribers' digest hour passed more than %d min ago (was the daemon down?); "
            "their digests wait for their next slot, every article still owed",
            moved, grace,
        )  # fmt: skip
    return moved


def reschedule(
    settings: Settings,
    store: PreferenceStore,
    subscriber: Subscriber,
    now: datetime | None = None,
    **prefs: object,
) -> Subscriber:
    """Validate and store new preferences; the next due time is recomputed from them.

    Only the schedule moves: the cursor stays, so nothing owed is lost or sent twice.
    """
    validate_preferences(prefs)
    updated = replace(subscriber, **prefs)  # type: ignore[arg-type]
    due = next_due(
        resume_after(updated, settings, now or datetime.now(UTC)), slot_for(updated, settings)
    )
    store.set_preferences(subscriber.id, due, **prefs)
    return replace(updated, next_due_at=due)


def resume_after(subscriber: Subscriber, settings: Settings, now: datetime) -> datetime:
    """The moment after which their next digest may come: now, or the end of a pause.

    A pause "until 1 December" means the first digest comes on 1 December, at their hour, in
    their zone. Articles collected during the pause stay owed (nothing is lost): they arrive
    then, ``max_articles`` at a time.
    """
    if subscriber.paused_until is None:
        return now
    slot = slot_for(subscriber, settings)
    resume = datetime.combine(subscriber.paused_until, time(0), tzinfo=slot.tz) - timedelta(
        seconds=1
    )
    return max(now, resume.astimezone(UTC))
