"""Queries on deliveries: the queue and the record of every message."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select, update

from ..models import Delivery
from .base import now_utc
from .schema import deliveries


class DeliveryQueries:
    engine: Engine

    def pending_deliveries(self, after_id: int = 0, limit: int = 1000) -> list[Delivery]:
        """Deliveries not yet sent (queued, or waiting for another attempt), oldest first."""
        query = (
            select(deliveries)
            .where(deliveries.c.status.in_(["queued", "retry"]))
            .where(deliveries.c.id > after_id)
            .order_by(deliveries.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                Delivery(
                    id=r["id"],
                    edition_id=r["edition_id"],
                    subscriber_id=r["subscriber_id"],
                    status=r["status"],
                    attempts=r["attempts"],
                    message_id=r["message_id"],
                    last_error=r["last_error"],
                    claimed_by=r["claimed_by"],
                    lease_until=r["lease_until"],
                    next_attempt_at=r["next_attempt_at"],
                    reply=r["reply"],
                )
                for r in conn.execute(query).mappings()
            ]

    def mark_delivery(
        self, delivery_id: int, status: str, *, message_id: str = "", error: str = ""
    ) -> None:
        """Record the outcome of one attempt (sent, retry or failed)."""
        values: dict[str, Any] = {
            "status": status,
            "attempts": deliveries.c.attempts + 1,
            "last_error": error,
        }
        if message_id:
            values["message_id"] = message_id
        if status == "sent":
            values["sent_at"] = now_utc()
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))

    def delivery_counts(self) -> dict[str, int]:
        query = select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}
