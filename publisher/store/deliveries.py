"""Queries on deliveries: the queue and the record of every message.

A row moves queued -> claimed (a worker's id and a lease) -> sending (durably marked before
its message is handed to the server) -> sent | retry | failed | suppressed, and later perhaps
bounced. A ``sending`` row whose lease expired belonged to a sender that died with the message
possibly delivered: it is resumed like any expired claim, with an ``interrupted`` attempt in
its history so the operator can see it may have arrived twice.

Claiming is one atomic ``UPDATE ... RETURNING`` per kind of due row; on PostgreSQL the inner ``SELECT ... FOR UPDATE SKIP LOCKED`` lets several
workers claim at once without waiting on, or taking, each other's rows (SQLite serialises
writers, so the same statement is already exclusive there). A row whose lease has expired
(its worker died) is claimed again as it is, attempts and all: resumed, never re-queued.

Every statement that locks several of a worker's rows takes them in id order (the group
commit sorts its rows; lease renewal locks with ``ORDER BY id ... SKIP LOCKED`` and so never
waits on a row being committed), so one sender cannot deadlock with itself on PostgreSQL. A
deadlock or serialisation failure that still happens (with another sender's transaction) is
retried: the transaction is run again, never turned into an error that releases rows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import (
    Engine,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql.elements import ColumnElement

from ..models import Delivery
from .base import now_utc, write_transaction
from .schema import UTCDateTime, deliveries, delivery_attempts, editions, subscribers
from .suppression import count_bounce

T = TypeVar("T")


@dataclass(frozen=True)
class Attempt:
    """The outcome of one try at a delivery, as the sender hands it to the store.

    ``outcome`` is sent, retry, failed or suppressed (not sent at all); ``bounce_threshold``
    > 0 marks a hard bounce, counted toward suppression at that threshold.
    """

    delivery: Delivery
    outcome: str
    reply: str
    message_id: str = ""
    next_attempt_at: datetime | None = None
    bounce_threshold: int = 0


# Built once: constructing a Core statement per message costs more than executing it.
_RECORD = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"), deliveries.c.claimed_by == bindparam("b_worker"))
    .values(
        status=bindparam("b_status"),
        reply=bindparam("b_reply"),
        last_error=bindparam("b_error"),
        claimed_by=None,
        lease_until=None,
        next_attempt_at=bindparam("b_next", type_=UTCDateTime()),
        attempts=deliveries.c.attempts + bindparam("b_inc", type_=Integer()),
        message_id=case(
            (bindparam("b_mid", type_=Text()) == "", deliveries.c.message_id),
            else_=bindparam("b_mid", type_=Text()),
        ),
        sent_at=func.coalesce(bindparam("b_sent", type_=UTCDateTime()), deliveries.c.sent_at),
    )
)

_HISTORY = insert(delivery_attempts)
_SENDING = (
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("s_id"),
        deliveries.c.claimed_by == bindparam("s_worker"),
        deliveries.c.status == "claimed",
    )
    .values(status="sending")
)
HELD = ("claimed", "sending")  # the states of a row a worker holds under its lease
INTERRUPTED = (
    "the sender stopped after handing this message to the server (or just before): "
    "it may have been delivered; sent again"
)


def _interrupted(delivery_id: int, when: datetime) -> dict[str, object]:
    return {
        "delivery_id": delivery_id,
        "attempted_at": when,
        "outcome": "interrupted",
        "reply": INTERRUPTED,
    }


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

    def _write(self, work: Callable[[Connection], T], held: Connection | None = None) -> T:
        return write_transaction(self.engine, work, held)

    # -- the queue ------------------------------------------------------------------------
    def claim_deliveries(
        self,
        worker: str,
        limit: int,
        lease_seconds: float,
        now: datetime | None = None,
        edition_kinds: Sequence[str] | None = None,
    ) -> list[Delivery]:
        """Claim up to ``limit`` due rows for ``worker``: expired leases, due retries, queued.

        Each kind is its own indexed query (status, then lease or next attempt), so no claim
        sorts the whole queue. ``edition_kinds`` limits the claim to editions of those kinds (the web
        app sends confirmation mails at once, leaving digests to the daemon).
        """
        now = now or now_utc()
        lease = now + timedelta(seconds=lease_seconds)
        expired = deliveries.c.lease_until < now
        kinds: list[ColumnElement[bool]] = [
            and_(deliveries.c.status == "sending", expired),
            and_(deliveries.c.status == "claimed", expired),
            and_(
                deliveries.c.status == "retry",
                or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= now),
            ),
            deliveries.c.status == "queued",
        ]

        def claim(conn: Connection) -> list[Delivery]:
            claimed: list[Delivery] = []
            for number, where in enumerate(kinds):
                if len(claimed) >= limit:
                    break
                if edition_kinds is not None:
                    wanted = list(edition_kinds)
                    of_kind = select(editions.c.id).where(editions.c.kind.in_(wanted))
                    where = and_(where, deliveries.c.edition_id.in_(of_kind))
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
                found = [delivery_from_row(r) for r in rows]
                if number == 0 and found:  # a dead sender's messages in flight
                    conn.execute(_HISTORY, [_interrupted(d.id, now) for d in found])
                claimed.extend(found)
            return sorted(claimed, key=lambda d: d.id)

        return self._write(claim)

    def renew_leases(self, worker: str, lease_seconds: float) -> int:
        """Extend the lease on every row ``worker`` still holds (it is alive and working).

        Rows are locked in id order and locked rows are skipped: a row locked now is being
        recorded by this worker's group commit (its lease no longer matters) or taken over
        by a sender that found its lease expired. Waiting on it instead, while the commit
        waited on a row locked here, was the deadlock this avoids.
        """
        lease = now_utc() + timedelta(seconds=lease_seconds)
        held = (
            select(deliveries.c.id)
            .where(deliveries.c.claimed_by == worker, deliveries.c.status.in_(HELD))
            .order_by(deliveries.c.id)
            .with_for_update(skip_locked=True, key_share=True)
            .scalar_subquery()
        )
        query = (
            update(deliveries)
            .where(deliveries.c.id.in_(held), deliveries.c.claimed_by == worker)
            .values(lease_until=lease)
        )
        return self._write(lambda conn: conn.execute(query).rowcount)

    def release_claims(self, worker: str, keep: Collection[int] = ()) -> int:
        """Give back every row ``worker`` holds and did not send: tried ones to retry, others
        to queued (a ``sending`` row whose message never left is released too).

        Rows in ``keep`` stay as they are until their lease runs out: the server may have
        accepted them though their outcome could not be recorded, so they are treated as
        after a crash (resumed later, reported as interrupted), not put straight back.
        """

        def release(conn: Connection) -> int:
            released = 0
            for tried, status in ((False, "queued"), (True, "retry")):
                attempted = deliveries.c.attempts > 0 if tried else deliveries.c.attempts == 0
                query = update(deliveries).where(
                    deliveries.c.claimed_by == worker, deliveries.c.status.in_(HELD), attempted
                )
                if keep:  # at most one row per sending thread
                    query = query.where(deliveries.c.id.not_in(sorted(keep)))
                released += conn.execute(
                    query.values(status=status, claimed_by=None, lease_until=None)
                ).rowcount
            return released

        return self._write(release)

    def record_attempts(
        self,
        attempts: Sequence[Attempt],
        worker: str,
        held: Connection | None = None,
        sending: Sequence[int] = (),
    ) -> list[bool]:
        """Record several attempts (outcome, history row, hard bounce) in one commit.

        Used for group commit: every sending thread that got a reply while a commit was in
        progress joins the next one. Rows no longer claimed by ``worker`` are left alone.
        Rows are updated in id order (see the module's note on deadlocks), and a transaction
        the database rolled back as a deadlock victim is run again.
        ``sending`` rows are marked ``sending`` in the same transaction: the messages their
        threads hand to the server next, so the mark costs no commit of its own.
        Returns, per attempt, whether its hard bounce suppressed the subscriber.
        """
        order = sorted(range(len(attempts)), key=lambda i: attempts[i].delivery.id)
        attempts = [attempts[i] for i in order]
        now = now_utc()
        rows = [
            {
                "b_id": a.delivery.id,
                "b_worker": worker,
                "b_status": a.outcome,
                "b_reply": a.reply,
                "b_error": "" if a.outcome == "sent" else a.reply,
                "b_next": a.next_attempt_at,
                "b_inc": 0 if a.outcome == "suppressed" else 1,
                "b_mid": a.message_id,
                "b_sent": now if a.outcome == "sent" else None,
            }
            for a in attempts
        ]
        history = [
            {
                "delivery_id": a.delivery.id,
                "attempted_at": now,
                "outcome": a.outcome,
                "reply": a.reply,
            }
            for a in attempts
        ]

        def record(conn: Connection) -> list[bool]:
            if rows:
                conn.execute(_RECORD, rows)
                conn.execute(_HISTORY, history)
            if sending:
                conn.execute(_SENDING, [{"s_id": i, "s_worker": worker} for i in sorted(sending)])
            return [
                count_bounce(conn, a.delivery.subscriber_id, a.bounce_threshold)
                if a.bounce_threshold
                else False
                for a in attempts
            ]

        suppressed = self._write(record, held)
        results = [False] * len(order)
        for position, original in enumerate(order):
            results[original] = suppressed[position]
        return results

    def attempt_writer(self, worker: str) -> AttemptWriter:
        """A writer that records attempts over one connection it keeps open."""
        return AttemptWriter(self, worker)

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
            and_(deliveries.c.status.in_(HELD), deliveries.c.lease_until < now),
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
        self,
        *,
        edition_id: int | None = None,
        status: str | None = None,
        subscriber_id: int | None = None,
        limit: int = 50,
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
        if subscriber_id is not None:
            query = query.where(deliveries.c.subscriber_id == subscriber_id)
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

    def attempt_counts_since(self, since: datetime) -> dict[str, int]:
        """Attempts since ``since`` by outcome (sent, retry, failed, bounced, suppressed)."""
        query = (
            select(delivery_attempts.c.outcome, func.count())
            .where(delivery_attempts.c.attempted_at >= since)
            .group_by(delivery_attempts.c.outcome)
        )
        with self.engine.connect() as conn:
            return {str(o): int(n) for o, n in conn.execute(query)}

    def oldest_waiting_delivery(self) -> datetime | None:
        """When the oldest delivery still waiting to be sent (queued or retry) was queued."""
        query = select(func.min(deliveries.c.created_at)).where(
            deliveries.c.status.in_(["queued", "retry"])
        )
        with self.engine.connect() as conn:
            found: datetime | None = conn.execute(query).scalar()  # UTCDateTime: aware
        return found

    def attempt_times_since(self, since: datetime) -> list[datetime]:
        """When messages were handed to the server since ``since`` (seeds the rate windows)."""
        query = select(delivery_attempts.c.attempted_at).where(
            delivery_attempts.c.attempted_at >= since,
            delivery_attempts.c.outcome.in_(["sent", "retry", "failed", "interrupted"]),
        )
        with self.engine.connect() as conn:
            return [t for (t,) in conn.execute(query)]


class AttemptWriter:
    """Records attempts for one worker over a connection it holds (no pool checkout per commit).

    Not thread-safe by itself: one caller at a time (the group committer's leader).
    """

    def __init__(self, store: DeliveryQueries, worker: str) -> None:
        self.store = store
        self.worker = worker
        self._conn: Connection | None = None

    def write(self, attempts: Sequence[Attempt], sending: Sequence[int] = ()) -> list[bool]:
        if self._conn is None:
            self._conn = self.store.engine.connect()
        return self.store.record_attempts(attempts, self.worker, self._conn, sending)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
