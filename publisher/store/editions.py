"""Queries on editions: cutting them queues deliveries and moves cursors in one transaction."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, Integer, func, insert, literal, select, text, update
from sqlalchemy.engine import RowMapping

from ..errors import StoreError
from ..models import Edition
from .base import chunks, now_utc
from .schema import UTCDateTime, articles, deliveries, editions, subscribers

CHUNK = 5000  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


def _edition_from_row(row: RowMapping) -> Edition:
    return Edition(
        row["id"],
        row["kind"],
        row["cut_at"],
        json.loads(row["article_ids"]),
        row["subject"],
        row["variant"],
    )


@dataclass
class NewEdition:
    """An edition the planner wants recorded, with the subscribers who receive it."""

    kind: str
    variant: str
    article_ids: list[int]
    subscriber_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class CursorMove:
    """Where one due subscriber's cursor and next due time go when the cut is committed.

    ``old_cursor`` and ``old_due_at`` are what the planner read: the move is a compare-and-set
    on both, because a subscriber with nothing new keeps their cursor (old equals new) and only
    the due time shows that another planner already queued their "nothing new" note.
    """

    subscriber_id: int
    old_cursor: int
    new_cursor: int
    next_due_at: datetime
    old_due_at: datetime | None


def safe_max_article_id(conn: Connection) -> int:
    """The highest article id below which no article can still appear.

    On PostgreSQL ids come from a sequence and an insert with a lower id can commit after one
    with a higher id; cutting at max(id) could then skip it forever. ``LOCK TABLE ... IN SHARE
    MODE`` waits for every open transaction that inserted into articles and blocks new inserts
    until this transaction ends, so every id at or below the max read here is committed (or
    rolled back for good). SQLite has one writer at a time, so max(id) is already safe there.
    Callers hold the lock only for this read (their own short transaction).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE articles IN SHARE MODE"))
    return int(conn.execute(select(func.coalesce(func.max(articles.c.id), 0))).scalar_one())


NOTICE_KINDS = ("confirm", "already")  # one-off mails to one reader, sent like any delivery


def insert_notice(conn: Connection, kind: str, subscriber_id: int, now: datetime) -> int:
    """Queue a one-off notice (a confirmation, an "already subscribed" note) for one reader.

    It is an edition of its own kind with no articles and one delivery, so it is claimed,
    sent, retried and recorded exactly like a digest. Returns the delivery's id.
    """
    key = conn.execute(
        insert(editions).values(kind=kind, cut_at=now, article_ids="[]", subject="", variant=kind)
    ).inserted_primary_key
    assert key is not None
    row = conn.execute(
        insert(deliveries).values(
            edition_id=int(key[0]),
            subscriber_id=subscriber_id,
            status="queued",
            attempts=0,
            message_id="",
            last_error="",
            created_at=now,
            reply="",
        )
    ).inserted_primary_key
    assert row is not None
    return int(row[0])


class EditionQueries:
    engine: Engine

    def cut_article_id(self) -> int:
        """The article id a cut made now may go up to (see ``safe_max_article_id``)."""
        with self.engine.begin() as conn:
            return safe_max_article_id(conn)

    def article_sections(self, after: int, upto: int) -> list[tuple[int, str]]:
        """(id, section) of the articles in (after, upto], in collection order: all a plan needs."""
        query = (
            select(articles.c.id, articles.c.section)
            .where(articles.c.id > after, articles.c.id <= upto)
            .order_by(articles.c.id)
        )
        with self.engine.connect() as conn:
            return [(int(i), str(s)) for i, s in conn.execute(query)]

    def queue_editions(
        self, cut_at: datetime, new: list[NewEdition], moves: list[CursorMove]
    ) -> list[Edition]:
        """Record editions, queue their deliveries, move cursors and due times, all at once.

        One transaction is what makes "every article exactly once" hold: either a subscriber's
        cursor moved and their delivery is queued, or neither happened and the articles are
        still owed. A move only applies if the cursor and the due time are both still what the
        planner read; if another planner got there first (even one that moved neither cursor,
        having nothing new to cut) nothing is written and StoreError is raised.
        """
        created: list[Edition] = []
        now = now_utc()
        with self.engine.begin() as conn:
            for item in new:
                key = conn.execute(
                    insert(editions).values(
                        kind=item.kind,
                        cut_at=cut_at,
                        article_ids=json.dumps(item.article_ids),
                        subject="",
                        variant=item.variant,
                    )
                ).inserted_primary_key
                assert key is not None
                edition = Edition(
                    int(key[0]), item.kind, cut_at, item.article_ids, "", item.variant
                )
                created.append(edition)
                for chunk in chunks(item.subscriber_ids, CHUNK):
                    # INSERT ... SELECT: the rows are made by the database, not bound one by one.
                    conn.execute(
                        insert(deliveries).from_select(
                            [
                                "edition_id",
                                "subscriber_id",
                                "status",
                                "attempts",
                                "message_id",
                                "last_error",
                                "created_at",
                                "reply",
                            ],
                            select(
                                literal(edition.id, Integer),
                                subscribers.c.id,
                                literal("queued"),
                                literal(0, Integer),
                                literal(""),
                                literal(""),
                                literal(now, UTCDateTime),
                                literal(""),
                            ).where(subscribers.c.id.in_(chunk)),
                        )
                    )
            # Subscribers moving from the same cursor and due time to the same ones are updated
            # together: a handful of statements instead of one per subscriber.
            Key = tuple[int, datetime | None, int, datetime]
            together: dict[Key, list[int]] = defaultdict(list)
            for m in moves:
                key = (m.old_cursor, m.old_due_at, m.new_cursor, m.next_due_at)
                together[key].append(m.subscriber_id)
            changed = 0
            for (old, old_due, moved_to, due), ids in together.items():
                was_due = (
                    subscribers.c.next_due_at.is_(None)
                    if old_due is None
                    else subscribers.c.next_due_at == literal(old_due, UTCDateTime)
                )
                for chunk in chunks(ids, CHUNK):
                    changed += conn.execute(
                        update(subscribers)
                        .where(subscribers.c.id.in_(chunk))
                        .where(subscribers.c.last_article_id == old, was_due)
                        .values(last_article_id=moved_to, next_due_at=due)
                    ).rowcount
            if changed != len(moves):
                raise StoreError(
                    "another planner queued some of these subscribers' digests meanwhile; "
                    "nothing was queued",
                    "run the planner again",
                )
        return created

    def get_edition(self, edition_id: int) -> Edition:
        with self.engine.connect() as conn:
            row = conn.execute(select(editions).where(editions.c.id == edition_id)).mappings().one()
        return _edition_from_row(row)

    def list_editions(self, limit: int = 100) -> list[Edition]:
        """The newest editions first (for the archive index and feed)."""
        query = select(editions).order_by(editions.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_edition_from_row(r) for r in conn.execute(query).mappings()]

    def set_edition_subject(self, edition_id: int, subject: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(editions).where(editions.c.id == edition_id).values(subject=subject)
            )
