"""Queries on deliveries: the queue and the record of every message.

A row moves queued -> claimed (a worker's id and a lease) -> sent | retry | failed |
suppressed, and later perhaps bounced. Claiming is one atomic ``UPDATE ... RETURNING`` per
kind of due row; on PostgreSQL the inner ``SELECT ... FOR UPDATE SKIP LOCKED`` lets several
workers claim at once without waiting on, or taking, each other's rows (SQLite serialises
writers, so the same statement is already exclusive there). A row whose lease has expired
(its worker died) is claimed again as it is, attempts and all: resumed, never re-queued.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql.elements import ColumnElement

from ..models import Delivery
from .base import now_utc
from .schema import deliveries, delivery_attempts, subscribers
from .suppression import count_bounce


def delivery_from_row(r: RowMapping) -> Delivery:
    return Delivery(
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


class DeliveryQueries:
    engine: Engine

    # -- the queue ------------------------------------------------------------------------
    def claim_deliveries(
        self, worker: str, limit: int, lease_seconds: float, now: datetime | None = None
    ) -> list[Delivery]:
        """Claim up to ``limit`` due rows for ``worker``: expired leases, due retries, queued.

        Each kind is its own indexed query (status, then lease or next attempt), so no claim
        sorts the whole queue.
        """
        now = now or now_utc()
        lease = now + timedelta(seconds=lease_seconds)
        kinds: list[ColumnElement[bool]] = [
            and_(deliveries.c.status == "claimed", deliveries.c.lease_until < now),
            and_(
                deliveries.c.status == "retry",
                or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
            ),
            deliveries.c.status == "queued",
        ]
        claimed: list[Delivery] = []
        with self.engine.begin() as conn:
            for where in kinds:
                if len(claimed) >= limit:
                    break
                ids = (
                    select(deliveries.c.id)
                    .where(where)
                    .order_by(deliveries.c.id)
                    .limit(limit - len(claimed))
                    .with_for_update(skip_locked=True)
                    .scalar_subquery()
                )
                rows = conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_(ids))
                    .values(status="claimed", claimed_by=worker, lease_until=lease)
                    .returning(*deliveries.c)
                ).mappings()
                claimed.extend(delivery_from_row(r) for r in rows)
        claimed.sort(key=lambda d: d.id)
        return claimed

    def renew_leases(self, worker: str, lease_seconds: float) -> int:
        """Extend the lease on every row ``worker`` still holds (it is alive and working)."""
        lease = now_utc() + timedelta(seconds=lease_seconds)
        with self.engine.begin() as conn:
            return conn.execute(
                update(deliveries)
                .where(deliveries.c.claimed_by == worker, deliveries.c.status == "claimed")
                .values(lease_until=lease)
            ).rowcount

    def release_claims(self, worker: str) -> int:
        """Give back every row ``worker`` holds and did not send: tried ones to retry, others to queued."""
        with self.engine.begin() as conn:
            released = 0
            for tried, status in ((False, "queued"), (True, "retry")):
                attempted = deliveries.c.attempts > 0 if tried else deliveries.c.attempts == 0
                released += conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.claimed_by == worker,
                        deliveries.c.status == "claimed",
                        attempted,
                    )
                    .values(status=status, claimed_by=None, lease_until=None)
                ).rowcount
            return released

    def record_attempt(
        self,
        delivery: Delivery,
        worker: str,
        outcome: str,
        reply: str,
        *,
        message_id: str = "",
        next_attempt_at: datetime | None = None,
        bounce_threshold: int = 0,
    ) -> bool:
        """Record one attempt's outcome, its history row, and a hard bounce, in one commit.

        ``outcome`` is sent, retry, failed or suppressed. Returns whether the subscriber was
        suppressed by this bounce (``bounce_threshold`` > 0 means the attempt was a hard bounce).
        """
        now = now_utc()
        values: dict[str, Any] = {
            "status": outcome,
            "reply": reply,
            "claimed_by": None,
            "lease_until": None,
            "next_attempt_at": next_attempt_at,
        }
        if outcome != "suppressed":
            values["attempts"] = deliveries.c.attempts + 1
        if message_id:
            values["message_id"] = message_id
        if outcome == "sent":
            values["sent_at"] = now
            values["last_error"] = ""
        else:
            values["last_error"] = reply
        with self.engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery.id, deliveries.c.claimed_by == worker)
                .values(**values)
            )
            _history(conn, delivery.id, outcome, reply, now)
            if bounce_threshold:
                return count_bounce(conn, delivery.subscriber_id, bounce_threshold)
        return False

    def make_retries_due(self, edition_id: int | None = None) -> int:
        """Let every delivery waiting for a retry go at once (the operator asked for it)."""
        query = update(deliveries).where(deliveries.c.status == "retry")
        if edition_id is not None:
            query = query.where(deliveries.c.edition_id == edition_id)
        with self.engine.begin() as conn:
            return conn.execute(query.values(next_attempt_at=None)).rowcount

    def requeue_failed(self, edition_id: int | None = None) -> int:
        """Put failed deliveries back in the queue with a fresh set of attempts."""
        query = update(deliveries).where(deliveries.c.status == "failed")
        if edition_id is not None:
            query = query.where(deliveries.c.edition_id == edition_id)
        with self.engine.begin() as conn:
            return conn.execute(
                query.values(status="queued", attempts=0, next_attempt_at=None)
            ).rowcount

    # -- reading --------------------------------------------------------------------------
    def due_count(self, now: datetime | None = None) -> int:
        """How many rows a sender could claim now."""
        now = now or now_utc()
        due = or_(
            deliveries.c.status == "queued",
            and_(
                deliveries.c.status == "retry",
                or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
            ),
            and_(deliveries.c.status == "claimed", deliveries.c.lease_until < now),
        )
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(due)).scalar_one())

    def delivery_counts(self, edition_id: int | None = None) -> dict[str, int]:
        query = select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
        if edition_id is not None:
            query = query.where(deliveries.c.edition_id == edition_id)
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def delivery_list(
        self, *, edition_id: int | None = None, status: str | None = None, limit: int = 50
    ) -> list[tuple[Delivery, str]]:
        """Deliveries with their subscriber's address, newest first (for the operator)."""
        query = (
            select(deliveries, subscribers.c.email)
            .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            .order_by(deliveries.c.id.desc())
            .limit(limit)
        )
        if edition_id is not None:
            query = query.where(deliveries.c.edition_id == edition_id)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        with self.engine.connect() as conn:
            return [(delivery_from_row(r), r["email"]) for r in conn.execute(query).mappings()]

    def attempts_of(self, delivery_id: int) -> list[tuple[str, str]]:
        """(outcome, reply) of every attempt, oldest first."""
        query = (
            select(delivery_attempts.c.outcome, delivery_attempts.c.reply)
            .where(delivery_attempts.c.delivery_id == delivery_id)
            .order_by(delivery_attempts.c.id)
        )
        with self.engine.connect() as conn:
            return [(o, r) for o, r in conn.execute(query)]

    def attempt_times_since(self, since: datetime) -> list[datetime]:
        """When messages were handed to the server since ``since`` (seeds the rate windows)."""
        query = select(delivery_attempts.c.attempted_at).where(
            delivery_attempts.c.attempted_at >= since,
            delivery_attempts.c.outcome.in_(["sent", "retry", "failed"]),
        )
        with self.engine.connect() as conn:
            return [t for (t,) in conn.execute(query)]

    # -- the skeleton's interface, kept for callers that drain without claiming -----------
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
            return [delivery_from_row(r) for r in conn.execute(query).mappings()]


def _history(conn: Connection, delivery_id: int, outcome: str, reply: str, at: datetime) -> None:
    conn.execute(
        insert(delivery_attempts).values(
            delivery_id=delivery_id, attempted_at=at, outcome=outcome, reply=reply
        )
    )
