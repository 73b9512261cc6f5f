"""Queries on editions: cutting one queues its deliveries and moves cursors atomically."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Engine, func, insert, select, update

from ..models import Edition
from .base import now_utc
from .schema import deliveries, editions, subscribers


class EditionQueries:
    engine: Engine

    def create_edition(
        self,
        kind: str,
        cut_at: datetime,
        article_ids: list[int],
        subscriber_ids: list[int],
        subject: str = "",
    ) -> Edition:
        """Record an edition, queue one delivery per subscriber and move their cursors, at once.

        Doing all three in one transaction is what makes "every article exactly once" hold: either
        the subscribers are owed this edition (queued rows) or they are still owed the articles.
        """
        cursor = max(article_ids)
        now = now_utc()
        with self.engine.begin() as conn:
            edition_id = conn.execute(
                insert(editions).values(
                    kind=kind, cut_at=cut_at, article_ids=json.dumps(article_ids), subject=subject
                )
            ).inserted_primary_key
            assert edition_id is not None
            conn.execute(
                insert(deliveries),
                [
                    {
                        "edition_id": edition_id[0],
                        "subscriber_id": sid,
                        "status": "queued",
                        "attempts": 0,
                        "message_id": "",
                        "last_error": "",
                        "created_at": now,
                    }
                    for sid in subscriber_ids
                ],
            )
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id.in_(subscriber_ids))
                .where(subscribers.c.last_article_id < cursor)
                .values(last_article_id=cursor)
            )
        return Edition(int(edition_id[0]), kind, cut_at, article_ids, subject)

    def last_edition_cut_at(self) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(editions.c.cut_at))).scalar()
        return value.replace(tzinfo=UTC) if value is not None else None

    def get_edition(self, edition_id: int) -> Edition:
        with self.engine.connect() as conn:
            row = conn.execute(select(editions).where(editions.c.id == edition_id)).mappings().one()
        return Edition(
            row["id"],
            row["kind"],
            row["cut_at"],
            json.loads(row["article_ids"]),
            row["subject"],
            row["variant"],
        )
