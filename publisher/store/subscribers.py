"""Queries on subscribers: sign-up, digest preferences, and who is due."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from ..models import Subscriber
from ..subscribers import PREFERENCES
from .base import now_utc
from .editions import safe_max_article_id
from .schema import subscribers


@functools.lru_cache(maxsize=4096)
def _sections(raw: str | None) -> tuple[str, ...] | None:
    """Parsed once per distinct value: 100,000 subscribers share a few dozen section lists."""
    if raw is None:
        return None
    try:
        loaded = json.loads(raw)
    except ValueError:
        return None  # a broken value means "every section", never a crash
    return tuple(str(s) for s in loaded) if isinstance(loaded, list) else None


def _subscriber_from_row(row: RowMapping) -> Subscriber:
    parsed = _sections(row["sections"])
    sections = list(parsed) if parsed is not None else None
    return Subscriber(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        status=row["status"],
        created_at=row["created_at"],
        last_article_id=row["last_article_id"],
        timezone=row["timezone"],
        send_hour=row["send_hour"],
        frequency=row["frequency"],
        weekday=row["weekday"],
        sections=sections,
        next_due_at=row["next_due_at"],
        bounce_count=row["bounce_count"],
    )


def _preference_values(prefs: dict[str, object]) -> dict[str, object]:
    unknown = set(prefs) - set(PREFERENCES)
    if unknown:
        raise ValueError(f"not a preference: {', '.join(sorted(unknown))}")
    values = dict(prefs)
    if "sections" in values:
        sections = values["sections"]
        values["sections"] = None if sections is None else json.dumps(sections, ensure_ascii=False)
    return values


class SubscriberQueries:
    engine: Engine

    def add_subscriber(
        self, email: str, name: str = "", **prefs: object
    ) -> tuple[Subscriber, bool]:
        """Add an active subscriber owed only articles collected from now on.

        Returns the subscriber and whether it was new; an existing address is returned as is.
        ``prefs`` are digest preferences (see ``PREFERENCES``). next_due_at stays NULL: the
        planner treats the subscriber as due at its next run and from then on follows their
        schedule, so a first digest is not held back a whole week.
        """
        address = email.strip()
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    select(subscribers).where(func.lower(subscribers.c.email) == address.lower())
                )
                .mappings()
                .first()
            )
            if row is not None:
                return _subscriber_from_row(row), False
            new_id = conn.execute(
                insert(subscribers).values(
                    email=address,
                    name=name,
                    status="active",
                    created_at=now_utc(),
                    last_article_id=safe_max_article_id(conn),
                    **_preference_values(prefs),
                )
            ).inserted_primary_key
            assert new_id is not None
            row = (
                conn.execute(select(subscribers).where(subscribers.c.id == new_id[0]))
                .mappings()
                .one()
            )
            return _subscriber_from_row(row), True

    def set_preferences(
        self, subscriber_id: int, next_due_at: datetime | None, **prefs: object
    ) -> None:
        """Change digest preferences and the next due time (computed by the caller) together.

        The cursor is untouched: articles already owed stay owed, and the new sections apply
        from the next cut on.
        """
        values = _preference_values(prefs)
        with self.engine.begin() as conn:
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(**values, next_due_at=next_due_at, updated_at=now_utc())
            )

    def active_subscribers(self) -> list[Subscriber]:
        query = (
            select(subscribers).where(subscribers.c.status == "active").order_by(subscribers.c.id)
        )
        with self.engine.connect() as conn:
            return [_subscriber_from_row(r) for r in conn.execute(query).mappings()]

    def due_subscribers(self, now: datetime) -> list[Subscriber]:
        """Active subscribers whose next digest is due (or never scheduled yet)."""
        query = (
            select(subscribers)
            .where(subscribers.c.status == "active")
            .where(or_(subscribers.c.next_due_at.is_(None), subscribers.c.next_due_at <= now))
            .order_by(subscribers.c.id)
        )
        with self.engine.connect() as conn:
            return [_subscriber_from_row(r) for r in conn.execute(query).mappings()]

    def subscriber_by_email(self, email: str) -> Subscriber | None:
        query = select(subscribers).where(func.lower(subscribers.c.email) == email.strip().lower())
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _subscriber_from_row(row) if row else None

    def subscribers_by_ids(self, ids: Iterable[int]) -> dict[int, Subscriber]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subscribers).where(subscribers.c.id.in_(list(ids)))
            ).mappings()
            return {r["id"]: _subscriber_from_row(r) for r in rows}
