"""Queries on subscribers."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.engine import RowMapping

from ..models import Subscriber
from .base import now_utc
from .schema import articles, subscribers


def _subscriber_from_row(row: RowMapping) -> Subscriber:
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
        sections=json.loads(row["sections"]) if row["sections"] is not None else None,
        next_due_at=row["next_due_at"],
        bounce_count=row["bounce_count"],
    )


class SubscriberQueries:
    engine: Engine

    def add_subscriber(self, email: str, name: str = "") -> tuple[Subscriber, bool]:
        """Add an active subscriber owed only articles collected from now on.

        Returns the subscriber and whether it was new; an existing address is returned as is.
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
                    last_article_id=conn.execute(
                        select(func.coalesce(func.max(articles.c.id), 0))
                    ).scalar_one(),
                )
            ).inserted_primary_key
            assert new_id is not None
            row = (
                conn.execute(select(subscribers).where(subscribers.c.id == new_id[0]))
                .mappings()
                .one()
            )
            return _subscriber_from_row(row), True

    def active_subscribers(self) -> list[Subscriber]:
        query = (
            select(subscribers).where(subscribers.c.status == "active").order_by(subscribers.c.id)
        )
        with self.engine.connect() as conn:
            return [_subscriber_from_row(r) for r in conn.execute(query).mappings()]

    def subscribers_by_ids(self, ids: Iterable[int]) -> dict[int, Subscriber]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subscribers).where(subscribers.c.id.in_(list(ids)))
            ).mappings()
            return {r["id"]: _subscriber_from_row(r) for r in rows}
