"""Feed bookkeeping: what each feed file was built from, enclosure sizes, pending hub pings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, insert, select, update

from .base import now_utc
from .schema import feed_pings, feed_state, media


@dataclass(frozen=True)
class MediaInfo:
    """A lead image's size in bytes (None when it could not be learnt) and MIME type."""

    length: int | None
    mime: str
    checked_at: datetime


@dataclass(frozen=True)
class PendingPing:
    """A WebSub publish notification still owed to a hub."""

    id: int
    hub: str
    topic: str
    attempts: int


class FeedStateQueries:
    engine: Engine

    # -- feed fingerprints ------------------------------------------------------------------
    def feed_fingerprints(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r.path: r.fingerprint for r in conn.execute(select(feed_state))}

    def save_feed_fingerprints(self, changed: dict[str, str], removed: Iterable[str] = ()) -> None:
        """Record the fingerprints of feeds just written and forget removed ones, at once."""
        gone = list(removed)
        if not changed and not gone:
            return
        now = now_utc()
        with self.engine.begin() as conn:
            if gone or changed:
                conn.execute(delete(feed_state).where(feed_state.c.path.in_([*gone, *changed])))
            if changed:
                conn.execute(
                    insert(feed_state),
                    [{"path": p, "fingerprint": f, "written_at": now} for p, f in changed.items()],
                )

    def media_key(self) -> str:
        """Changes whenever an enclosure size is learnt or re-checked."""
        with self.engine.connect() as conn:
            count, newest = conn.execute(select(func.count(), func.max(media.c.checked_at))).one()
        return f"{count}|{newest}"

    # -- media ------------------------------------------------------------------------------
    def media_info(self, urls: Iterable[str]) -> dict[str, MediaInfo]:
        wanted = list(set(urls))
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(media).where(media.c.url.in_(wanted)))
            return {r.url: MediaInfo(r.length, r.mime, r.checked_at) for r in rows}

    def save_media_info(self, url: str, length: int | None, mime: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(media).where(media.c.url == url))
            conn.execute(
                insert(media).values(url=url, length=length, mime=mime, checked_at=now_utc())
            )

    # -- WebSub pings -----------------------------------------------------------------------
    def queue_pings(self, hubs: Iterable[str], topics: Iterable[str]) -> None:
        """Owe each hub a publish notification for each topic (once, however often queued)."""
        now = now_utc()
        pairs = [(h, t) for h in hubs for t in topics]
        if not pairs:
            return
        with self.engine.begin() as conn:
            existing = {
                (r.hub, r.topic): r.id
                for r in conn.execute(select(feed_pings.c.id, feed_pings.c.hub, feed_pings.c.topic))
            }
            for hub, topic in pairs:
                if (hub, topic) in existing:
                    conn.execute(
                        update(feed_pings)
                        .where(feed_pings.c.id == existing[(hub, topic)])
                        .where(feed_pings.c.pending_since.is_(None))
                        .values(pending_since=now)
                    )
                else:
                    conn.execute(
                        insert(feed_pings).values(
                            hub=hub, topic=topic, pending_since=now, attempts=0, last_error=""
                        )
                    )

    def pending_pings(self) -> list[PendingPing]:
        query = (
            select(feed_pings)
            .where(feed_pings.c.pending_since.is_not(None))
            .order_by(feed_pings.c.id)
        )
        with self.engine.connect() as conn:
            return [PendingPing(r.id, r.hub, r.topic, r.attempts) for r in conn.execute(query)]

    def ping_result(self, ping_id: int, error: str = "") -> None:
        """Clear a ping that the hub accepted, or count a failed attempt (kept pending)."""
        values: dict[str, object] = {"attempts": feed_pings.c.attempts + 1, "last_error": error}
        if not error:
            values |= {"pending_since": None, "attempts": 0, "last_ping_at": now_utc()}
        with self.engine.begin() as conn:
            conn.execute(update(feed_pings).where(feed_pings.c.id == ping_id).values(**values))
