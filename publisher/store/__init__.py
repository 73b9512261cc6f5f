"""The only module that speaks SQL.

``Store`` wraps one SQLAlchemy engine (a SQLite file in WAL mode by default, PostgreSQL by URL),
brings the schema up to date with Alembic on open, and offers the few queries the rest of
publisher needs. Callers see dataclasses from ``publisher.models``, never rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from ..errors import StoreError
from ..models import Article, Delivery, Edition, Subscriber
from .schema import articles, deliveries, editions, subscribers

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
UpsertResult = Literal["added", "updated", "unchanged"]


def _now() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    """WAL lets the web app read while the daemon writes; foreign keys keep rows honest."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created and WAL switched on."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, future=True)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"cannot use database URL {url!r}: {exc}", "check [database] url") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _article_from_row(row: RowMapping) -> Article:
    return Article(
        id=row["id"],
        key=row["key"],
        guid=row["guid"],
        source=row["source"],
        title=row["title"],
        link=row["link"],
        author=row["author"],
        section=row["section"],
        summary=row["summary"],
        content_html=row["content_html"],
        highlights=json.loads(row["highlights"]),
        tags=json.loads(row["tags"]),
        image_url=row["image_url"],
        image_alt=row["image_alt"],
        image_credit=row["image_credit"],
        published=row["published_at"],
        updated=row["updated_at"],
        first_seen=row["first_seen_at"],
        content_hash=row["content_hash"],
    )


def _article_values(article: Article) -> dict[str, Any]:
    return {
        "key": article.key,
        "source": article.source,
        "title": article.title,
        "link": article.link,
        "author": article.author,
        "section": article.section,
        "summary": article.summary,
        "content_html": article.content_html,
        "highlights": json.dumps(article.highlights, ensure_ascii=False),
        "tags": json.dumps(article.tags, ensure_ascii=False),
        "image_url": article.image_url,
        "image_alt": article.image_alt,
        "image_credit": article.image_credit,
        "published_at": article.published,
        "content_hash": article.content_hash or article.compute_hash(),
    }


def _subscriber_from_row(row: RowMapping) -> Subscriber:
    return Subscriber(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        status=row["status"],
        created_at=row["created_at"],
        last_article_id=row["last_article_id"],
    )


class Store:
    """Articles, subscribers, editions and deliveries in one database."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if migrate:
            self.migrate()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------
    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with Alembic (idempotent)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot open or migrate the database at {self.url}: {exc.__class__.__name__}: {exc}",
                "check [database] url and that the server or file is reachable and writable",
            ) from exc

    # -- articles -------------------------------------------------------------------------
    def upsert_article(self, article: Article, guid: str) -> UpsertResult:
        """Insert a new article, update a changed one (by content hash), or leave it alone.

        ``guid`` is stored only with a new article: an edit never changes a feed item's id.
        """
        values = _article_values(article)
        now = _now()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(articles.c.id, articles.c.content_hash).where(articles.c.key == article.key)
            ).first()
            if row is None:
                try:
                    conn.execute(
                        insert(articles).values(
                            **values,
                            guid=guid,
                            updated_at=article.updated or article.published,
                            first_seen_at=now,
                        )
                    )
                except IntegrityError:  # a concurrent collect inserted it first
                    return "unchanged"
                return "added"
            if row.content_hash == values["content_hash"]:
                return "unchanged"
            conn.execute(
                update(articles)
                .where(articles.c.id == row.id)
                # An edit moves `updated`: to the date the source gives, else to now.
                .values(**values, updated_at=article.updated or now)
            )
            return "updated"

    def get_article(self, key: str) -> Article | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(articles).where(articles.c.key == key)).mappings().first()
        return _article_from_row(row) if row else None

    def key_for_link(self, link: str) -> str | None:
        """The key of the stored article with this link, if any (used to drop duplicates)."""
        with self.engine.connect() as conn:
            key = conn.execute(
                select(articles.c.key)
                .where(articles.c.link == link)
                .order_by(articles.c.id)
                .limit(1)
            ).scalar()
        return str(key) if key is not None else None

    def count_articles(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(articles)).scalar_one())

    def latest_articles(self, limit: int) -> list[Article]:
        """The newest ``limit`` articles by publication date, newest first."""
        query = (
            select(articles)
            .order_by(articles.c.published_at.desc(), articles.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_article_from_row(r) for r in conn.execute(query).mappings()]

    def articles_by_ids(self, ids: Sequence[int]) -> list[Article]:
        """Articles in the order of ``ids`` (missing ids are skipped)."""
        if not ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(articles).where(articles.c.id.in_(list(ids)))).mappings()
            found = {r["id"]: _article_from_row(r) for r in rows}
        return [found[i] for i in ids if i in found]

    def articles_after(self, cursor: int, limit: int) -> list[Article]:
        """Articles first collected after the cursor, in collection order."""
        query = select(articles).where(articles.c.id > cursor).order_by(articles.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_article_from_row(r) for r in conn.execute(query).mappings()]

    def max_article_id(self, conn: Connection | None = None) -> int:
        query = select(func.coalesce(func.max(articles.c.id), 0))
        if conn is not None:
            return int(conn.execute(query).scalar_one())
        with self.engine.connect() as own:
            return int(own.execute(query).scalar_one())

    # -- subscribers ----------------------------------------------------------------------
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
                    created_at=_now(),
                    last_article_id=self.max_article_id(conn),
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

    # -- editions and deliveries ----------------------------------------------------------
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
        now = _now()
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
            row["id"], row["kind"], row["cut_at"], json.loads(row["article_ids"]), row["subject"]
        )

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
            values["sent_at"] = _now()
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))

    def delivery_counts(self) -> dict[str, int]:
        query = select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}
