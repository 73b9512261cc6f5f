"""Plan digest editions: who is due, which articles each is owed, one transaction to queue.

Planning and sending are separate steps joined by the deliveries table, the queue and the
record of truth. A planner run finds the subscribers who are due (``next_due_at`` passed, from
their zone, hour, frequency and weekday; see ``schedule.py``), cuts the articles collected
since each one's cursor that match their sections, groups subscribers with the same article
list into one edition variant, and in ONE transaction records the editions, queues a delivery
per subscriber and moves every due subscriber's cursor to the cut and their next due time on.
An article is therefore owed until a digest containing it is queued, and never after; articles
outside a subscriber's sections are passed over with the cut, not owed later. Sending
(``mail/queue.py``) only ever works from queued rows, so a crash between the steps loses nothing
and repeats nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..config import Settings
from ..models import Edition, Subscriber
from ..store.editions import CursorMove, NewEdition
from ..store.protocols import PlanStore
from ..subscribers import SectionFilter, section_filter, wants
from .schedule import next_due, slot_for

log = logging.getLogger(__name__)


@dataclass
class PlannedEdition:
    """An edition as planned: which articles, for how many subscribers."""

    edition: Edition | None
    article_count: int
    subscriber_ids: list[int]
    variant: str = ""
    article_ids: list[int] = field(default_factory=list)


def variant_name(window: dict[int, str], ids: list[int]) -> str:
    """A short, file-safe, stable name: the sections it covers plus a hash of its articles."""
    if not ids:
        return "nothing-new"
    names = sorted({window[i].strip().casefold() or "more" for i in ids})
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join(names)).strip("-")[:60] or "all"
    digest = hashlib.sha1(",".join(map(str, ids)).encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


def plan_editions(
    settings: Settings, store: PlanStore, now: datetime | None = None, *, dry_run: bool = False
) -> list[PlannedEdition]:
    """Queue the digest of every subscriber who is due at ``now``; return what was planned.

    Several planners may run at once (a daemon per machine, a hand-run ``digest plan``): each
    move is compare-and-set on the cursor and due time it read, so the one that loses the race
    writes nothing at all (``StoreError``), not even a second "nothing new" note.

    A subscriber never scheduled (new) is due at once. A due subscriber with nothing new gets
    no email (``[digest] when_empty = "skip"``) or a short note (``"note"``); either way their
    cursor and next due time move on. Archiving the new editions is the caller's next step
    (``jobs.run_plan``), never a side effect of planning.
    """
    cut_at = now or datetime.now(UTC)
    cut_id = store.cut_article_id()
    due = store.due_subscribers(cut_at)
    if not due:
        return []
    low = min(s.last_article_id for s in due)
    window = dict(store.article_sections(low, cut_id))
    order = sorted(window)
    limit = settings.digest.max_articles
    groups: dict[tuple[int, SectionFilter], list[Subscriber]] = defaultdict(list)
    for subscriber in due:
        groups[(subscriber.last_article_id, section_filter(subscriber.sections))].append(subscriber)

    due_cache: dict[tuple[object, ...], datetime] = {}

    def due_after(s: Subscriber) -> datetime:
        """next_due for this subscriber's schedule, computed once per distinct schedule."""
        key = (s.timezone, s.send_hour, s.frequency, s.weekday)
        if key not in due_cache:
            due_cache[key] = next_due(cut_at, slot_for(s, settings))
        return due_cache[key]

    variants: dict[tuple[int, ...], NewEdition] = {}
    moves: list[CursorMove] = []
    for (cursor, sections), members in groups.items():
        matching = [i for i in order if i > cursor and wants(sections, window[i])]
        chosen = matching[:limit]
        # Capped: the rest (and anything skipped after the last chosen) waits for next time.
        new_cursor = max(cursor, chosen[-1] if len(matching) > limit else cut_id)
        if chosen or settings.digest.when_empty == "note":
            key = tuple(chosen)
            if key not in variants:
                kind = "digest" if chosen else "note"
                variants[key] = NewEdition(kind, variant_name(window, chosen), chosen)
            variants[key].subscriber_ids.extend(s.id for s in members)
        for s in members:
            moves.append(CursorMove(s.id, cursor, new_cursor, due_after(s), s.next_due_at))

    new = sorted(variants.values(), key=lambda v: (v.kind, v.variant))
    if dry_run:
        return [
            PlannedEdition(None, len(v.article_ids), v.subscriber_ids, v.variant, v.article_ids)
            for v in new
        ]
    created = store.queue_editions(cut_at, new, moves)
    planned = []
    for edition, item in zip(created, new, strict=True):
        planned.append(
            PlannedEdition(
                edition, len(item.article_ids), item.subscriber_ids, item.variant, item.article_ids
            )
        )
        log.debug(
            "edition %d (%s): %d articles for %d subscribers",
            edition.id,
            edition.variant,
            len(item.article_ids),
            len(item.subscriber_ids),
        )
    return planned
