"""Queries on subscribers: sign-up and consent, preferences, who is due, leaving and erasure.

Every change of status is one transaction together with what must go with it: a sign-up
queues its confirmation mail, a confirmation sets the digest cursor, an unsubscribe stops the
mail still queued, a ``forget`` erases the person and keeps only a keyed hash.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from ..models import Subscriber
from ..subscribers import PREFERENCES
from .base import chunks, now_utc
from .editions import insert_notice, safe_max_article_id
from .rows import subscriber_from_row
from .schema import articles, deliveries, delivery_attempts, forgotten, meta, subscribers


def _preference_values(prefs: dict[str, object]) -> dict[str, object]:
    unknown = set(prefs) - set(PREFERENCES)
    if unknown:
        raise ValueError(f"not a preference: {', '.join(sorted(unknown))}")
    values = dict(prefs)
    if "sections" in values:
        sections = values["sections"]
        values["sections"] = None if sections is None else json.dumps(sections, ensure_ascii=False)
    return values


CONFIRMABLE = ("pending", "unsubscribed", "bounced")  # who a confirmation link activates
EVERY_PREFERENCE: dict[str, object] = {
    "timezone": None, "send_hour": None, "frequency": "daily", "weekday": None,
    "sections": None, "paused_until": None,
}  # fmt: skip


def _by_email(address: str) -> Any:
    return func.lower(subscribers.c.email) == address.strip().lower()


@dataclass(frozen=True)
class SignUp:
    """What a web sign-up did. ``outcome``: new | pending | active | returning | refused;
    ``notice``: the kind of mail queued for the address ("" when none)."""

    subscriber: Subscriber | None
    outcome: str
    notice: str
    delivery_id: int | None = None


def _row(conn: Connection, subscriber_id: int) -> Subscriber:
    row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).mappings()
    return subscriber_from_row(row.one())


class SubscriberQueries:
    engine: Engine

    # -- adding -------------------------------------------------------------------------------
    def add_subscriber(
        self,
        email: str,
        name: str = "",
        *,
        method: str = "cli",
        **prefs: object,
    ) -> tuple[Subscriber, bool]:
        """Add an active subscriber owed only articles collected from now on.

        Returns the subscriber and whether it was new; an existing address is returned as is.
        The operator vouches for consent (``method`` cli or import, recorded with the time).
        next_due_at stays NULL: the planner treats the subscriber as due at its next run and
        from then on follows their schedule, so a first digest is not held back a whole week.
        """
        now = now_utc()
        with self.engine.begin() as conn:
            row = conn.execute(select(subscribers).where(_by_email(email))).mappings().first()
            if row is not None:
                return subscriber_from_row(row), False
            key = conn.execute(
                insert(subscribers).values(
                    email=email.strip(),
                    name=name,
                    status="active",
                    created_at=now,
                    last_article_id=safe_max_article_id(conn),
                    consent_at=now,
                    consent_method=method,
                    confirmed_at=now,
                    **_preference_values(prefs),
                )
            ).inserted_primary_key
            assert key is not None
            return _row(conn, int(key[0])), True

    def sign_up(self, email: str, name: str, ip: str, prefs: dict[str, object]) -> SignUp:
        """A web sign-up: the address becomes (or stays) pending and a confirmation is queued.

        An active subscriber is sent a short "you are already subscribed" note instead, and
        an address the operator suppressed gets nothing; which of these happened is never
        shown to the person who filled in the form. Returning readers (unsubscribed or
        bounced before) are sent a confirmation too, but keep their status until they
        confirm: a stranger typing their address changes nothing about them.
        """
        now = now_utc()
        values = _preference_values(prefs)
        with self.engine.begin() as conn:
            row = conn.execute(select(subscribers).where(_by_email(email))).mappings().first()
            if row is None:
                key = conn.execute(
                    insert(subscribers).values(
                        email=email.strip(),
                        name=name,
                        status="pending",
                        created_at=now,
                        last_article_id=0,
                        consent_ip=ip,
                        consent_method="",
                        **values,
                    )
                ).inserted_primary_key
                assert key is not None
                sid, outcome = int(key[0]), "new"
            else:
                sid, status = int(row["id"]), str(row["status"])
                if status == "suppressed":
                    return SignUp(subscriber_from_row(row), "refused", "")
                if status == "active":
                    delivery = insert_notice(conn, "already", sid, now)
                    return SignUp(subscriber_from_row(row), "active", "already", delivery)
                outcome = "pending" if status == "pending" else "returning"
                if status == "pending":  # a second try before confirming: their latest choices
                    conn.execute(
                        update(subscribers)
                        .where(subscribers.c.id == sid)
                        .values(name=name or row["name"], consent_ip=ip, updated_at=now, **values)
                    )
            delivery = insert_notice(conn, "confirm", sid, now)
            return SignUp(_row(conn, sid), outcome, "confirm", delivery)

    def confirm_subscriber(self, subscriber_id: int) -> Subscriber | None:
        """Make a pending (or returning) subscriber active: consent recorded now, owed
        articles from now on.

        Idempotent: an active subscriber is returned unchanged. One the operator suppressed
        is not activated by a link: None.
        """
        now = now_utc()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(subscribers.c.status).where(subscribers.c.id == subscriber_id)
            ).first()
            if row is None or row.status not in (*CONFIRMABLE, "active"):
                return None
            if row.status != "active":
                conn.execute(
                    update(subscribers)
                    .where(subscribers.c.id == subscriber_id, subscribers.c.status == row.status)
                    .values(
                        status="active",
                        last_article_id=safe_max_article_id(conn),
                        next_due_at=None,
                        confirmed_at=now,
                        consent_at=now,
                        consent_method="web",
                        bounce_count=0,
                        unsubscribed_at=None,
                        unsubscribed_via="",
                        updated_at=now,
                    )
                )
            return _row(conn, subscriber_id)

    def import_subscribers(
        self, rows: Sequence[dict[str, Any]], replace: Sequence[tuple[int, dict[str, Any]]]
    ) -> int:
        """Insert new subscribers and overwrite existing ones (``--force``) in one transaction.

        Each row holds email, name, status and preference columns; imported readers are owed
        articles from now on. Returns how many rows were written.
        """
        now = now_utc()
        with self.engine.begin() as conn:
            cursor = safe_max_article_id(conn)
            common = {"last_article_id": cursor, "consent_at": now, "consent_method": "import"}
            if rows:
                conn.execute(
                    insert(subscribers),
                    [
                        {
                            **EVERY_PREFERENCE,  # one executemany needs the same keys in each row
                            **_preference_values(dict(r.get("prefs", {}))),
                            "email": r["email"],
                            "name": r["name"],
                            "status": r["status"],
                            "created_at": now,
                            "confirmed_at": now if r["status"] == "active" else None,
                            **common,
                        }
                        for r in rows
                    ],
                )
            for sid, r in replace:
                conn.execute(
                    update(subscribers)
                    .where(subscribers.c.id == sid)
                    .values(
                        **_preference_values(dict(r.get("prefs", {}))),
                        name=r["name"],
                        status=r["status"],
                        next_due_at=None,
                        bounce_count=0,
                        unsubscribed_at=None,
                        unsubscribed_via="",
                        updated_at=now,
                        **common,
                    )
                )
        return len(rows) + len(replace)

    # -- changing -----------------------------------------------------------------------------
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

    def unsubscribe(self, subscriber_id: int, via: str) -> bool:
        """Stop all mail to a subscriber at once; True if this call unsubscribed them.

        Their deliveries still queued or waiting for a retry are marked ``suppressed`` in the
        same transaction (a sender holding one right now skips it too: it checks the status).
        """
        now = now_utc()
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(subscribers)
                .where(
                    subscribers.c.id == subscriber_id,
                    subscribers.c.status.in_(["pending", "active", "bounced"]),
                )
                .values(
                    status="unsubscribed",
                    unsubscribed_at=now,
                    unsubscribed_via=via,
                    next_due_at=None,
                    updated_at=now,
                )
            ).rowcount
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.subscriber_id == subscriber_id,
                    deliveries.c.status.in_(["queued", "retry"]),
                )
                .values(status="suppressed", reply="subscriber unsubscribed", last_error="")
            )
        return bool(changed)

    def set_subscriber_status(self, subscriber_id: int, status: str) -> None:
        """The operator's change of status (``remove`` suppresses); queued mail is stopped too."""
        with self.engine.begin() as conn:
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(status=status, updated_at=now_utc())
            )
            if status != "active":
                conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.subscriber_id == subscriber_id,
                        deliveries.c.status.in_(["queued", "retry"]),
                    )
                    .values(status="suppressed", reply=f"subscriber {status}", last_error="")
                )

    # -- erasing ------------------------------------------------------------------------------
    def forget_key(self) -> bytes:
        """The installation's key for hashing forgotten addresses (made once, kept in the
        database so it survives secret-key rotation)."""
        with self.engine.begin() as conn:
            found = conn.execute(select(meta.c.value).where(meta.c.key == "forget_key")).scalar()
            if found is None:
                found = secrets.token_hex(32)
                conn.execute(insert(meta).values(key="forget_key", value=found))
        return bytes.fromhex(str(found))

    def forget_subscriber(self, subscriber_id: int | None, address_hash: str) -> None:
        """Erase a subscriber, their deliveries and attempts; remember only the hash."""
        with self.engine.begin() as conn:
            if subscriber_id is not None:
                own = select(deliveries.c.id).where(deliveries.c.subscriber_id == subscriber_id)
                conn.execute(
                    delete(delivery_attempts).where(delivery_attempts.c.delivery_id.in_(own))
                )
                conn.execute(delete(deliveries).where(deliveries.c.subscriber_id == subscriber_id))
                conn.execute(delete(subscribers).where(subscribers.c.id == subscriber_id))
            exists = conn.execute(
                select(forgotten.c.address_hash).where(forgotten.c.address_hash == address_hash)
            ).first()
            if exists is None:
                conn.execute(
                    insert(forgotten).values(address_hash=address_hash, forgotten_at=now_utc())
                )

    def forgotten_hashes(self, hashes: Iterable[str]) -> set[str]:
        wanted = list(set(hashes))
        if not wanted:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(forgotten.c.address_hash).where(forgotten.c.address_hash.in_(wanted))
            )
            return {str(h) for (h,) in rows}

    def unforget(self, address_hash: str) -> None:
        """The person signed up again and confirmed: their own consent lifts the block."""
        with self.engine.begin() as conn:
            conn.execute(delete(forgotten).where(forgotten.c.address_hash == address_hash))

    # -- reading ------------------------------------------------------------------------------
    def list_subscribers(self, status: str | None = None) -> list[Subscriber]:
        query = select(subscribers).order_by(subscribers.c.id)
        if status is not None:
            query = query.where(subscribers.c.status == status)
        with self.engine.connect() as conn:
            return [subscriber_from_row(r) for r in conn.execute(query).mappings()]

    def due_subscribers(self, now: datetime) -> list[Subscriber]:
        """Active subscribers whose next digest is due (or never scheduled yet)."""
        query = (
            select(subscribers)
            .where(subscribers.c.status == "active")
            .where(or_(subscribers.c.next_due_at.is_(None), subscribers.c.next_due_at <= now))
            .order_by(subscribers.c.id)
        )
        with self.engine.connect() as conn:
            return [subscriber_from_row(r) for r in conn.execute(query).mappings()]

    def overdue_subscribers(self, before: datetime) -> list[Subscriber]:
        """Active subscribers whose next digest was due before ``before`` (never-scheduled
        ones are not late: they are new)."""
        query = (
            select(subscribers)
            .where(subscribers.c.status == "active", subscribers.c.next_due_at < before)
            .order_by(subscribers.c.id)
        )
        with self.engine.connect() as conn:
            return [subscriber_from_row(r) for r in conn.execute(query).mappings()]

    def postpone_subscribers(self, moves: list[tuple[int, datetime, datetime]]) -> int:
        """Move each (id, old due, new due) unless another planner moved it first."""
        changed = 0
        with self.engine.begin() as conn:
            for sid, old, new in moves:
                changed += conn.execute(
                    update(subscribers)
                    .where(subscribers.c.id == sid, subscribers.c.next_due_at == old)
                    .values(next_due_at=new, updated_at=now_utc())
                ).rowcount
        return changed

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        query = select(subscribers).where(subscribers.c.id == subscriber_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return subscriber_from_row(row) if row else None

    def subscriber_by_email(self, email: str) -> Subscriber | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(subscribers).where(_by_email(email))).mappings().first()
        return subscriber_from_row(row) if row else None

    def subscribers_by_emails(self, emails: Iterable[str]) -> dict[str, Subscriber]:
        """Subscribers by lower-cased address (an import's existing rows, in one query)."""
        lowered = list({e.strip().lower() for e in emails})
        found: dict[str, Subscriber] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(lowered, 5000):
                query = select(subscribers).where(func.lower(subscribers.c.email).in_(chunk))
                for row in conn.execute(query).mappings():
                    found[str(row["email"]).lower()] = subscriber_from_row(row)
        return found

    def subscribers_by_ids(self, ids: Iterable[int]) -> dict[int, Subscriber]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subscribers).where(subscribers.c.id.in_(list(ids)))
            ).mappings()
            return {r["id"]: subscriber_from_row(r) for r in rows}

    def subscriber_counts(self) -> dict[str, int]:
        query = select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
        with self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(query)}

    def sections_seen(self) -> list[str]:
        """Every section an article has had, for the sign-up form's checkboxes."""
        query = select(articles.c.section).where(articles.c.section != "").distinct()
        with self.engine.connect() as conn:
            return sorted({str(s) for (s,) in conn.execute(query)}, key=str.casefold)
