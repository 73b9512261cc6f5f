"""Hard bounces: who must get no more mail, and bounces that arrive later.

A subscriber whose address bounced hard ``threshold`` times becomes ``bounced``: planning
skips them (only active subscribers are planned) and the sender marks any queued delivery to
them ``suppressed`` instead of sending it. ``reactivate_subscriber`` is the operator's way
back, for them and for subscribers the operator suppressed.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select, update
from sqlalchemy.engine import Connection

from ..models import Delivery
from .base import now_utc
from .schema import deliveries, delivery_attempts, subscribers


def count_bounce(conn: Connection, subscriber_id: int, threshold: int) -> bool:
    """Add one hard bounce; stop mail at ``threshold``. True when this bounce stopped it."""
    conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id)
        .values(bounce_count=subscribers.c.bounce_count + 1, updated_at=now_utc())
    )
    suppressed = conn.execute(
        update(subscribers)
        .where(
            subscribers.c.id == subscriber_id,
            subscribers.c.status == "active",
            subscribers.c.bounce_count >= threshold,
        )
        .values(status="bounced")
    ).rowcount
    return bool(suppressed)


REACTIVATABLE = ("active", "bounced", "suppressed")  # the operator's stops, not the reader's


class SuppressionQueries:
    engine: Engine

    def reactivate_subscriber(self, email: str) -> tuple[str, str] | None:
        """Make a bounced or suppressed subscriber active again with a clean bounce count.
        A reader who unsubscribed (or never confirmed) is not brought back this way.

        Returns (address, previous status), or None when no subscriber has that address.
        """
        with self.engine.begin() as conn:
            row = conn.execute(
                select(subscribers.c.id, subscribers.c.email, subscribers.c.status).where(
                    func.lower(subscribers.c.email) == email.strip().lower()
                )
            ).first()
            if row is None:
                return None
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == row.id, subscribers.c.status.in_(REACTIVATABLE))
                .values(status="active", bounce_count=0, updated_at=now_utc())
            )
            return str(row.email), str(row.status)

    def find_bounced_delivery(
        self, edition_id: int | None, subscriber_id: int | None, recipient: str
    ) -> Delivery | None:
        """The delivery a bounce is about: by (edition, subscriber) from its Message-ID,
        else the newest delivery handed over to that recipient address."""
        from .deliveries import delivery_from_row

        query = select(deliveries)
        if edition_id is not None and subscriber_id is not None:
            query = query.where(
                deliveries.c.edition_id == edition_id, deliveries.c.subscriber_id == subscriber_id
            )
        elif recipient:
            query = (
                query.join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
                .where(func.lower(subscribers.c.email) == recipient.lower())
                .where(deliveries.c.status.in_(["sent", "bounced"]))
                .order_by(deliveries.c.id.desc())
                .limit(1)
            )
        else:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return delivery_from_row(row) if row else None

    def apply_bounce(
        self, delivery: Delivery, reply: str, *, hard: bool, threshold: int
    ) -> tuple[bool, bool]:
        """Mark a delivery bounced (once) and count a hard bounce toward suppression.

        Returns (applied, suppressed); a bounce already recorded for it is not counted twice.
        """
        now = now_utc()
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery.id, deliveries.c.status != "bounced")
                .values(status="bounced", reply=reply, last_error=reply)
            ).rowcount
            if not changed:
                return False, False
            conn.execute(
                delivery_attempts.insert().values(
                    delivery_id=delivery.id, attempted_at=now, outcome="bounced", reply=reply
                )
            )
            suppressed = count_bounce(conn, delivery.subscriber_id, threshold) if hard else False
        return True, suppressed
