"""Which feeds show each article (``article_groups``), and the second each shows as updated.

Feeds show the newest ``limit`` articles of the site and of each section, author and tag,
and one archive per closed month. Every insert and edit of an article rewrites its rows
here, so planning the feeds walks indexes (the names of a kind, a group's newest rows, a
group's months) and costs what the feeds show, not what the archive holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, bindparam, delete, insert, select, text, update
from sqlalchemy.engine import Connection

from .base import chunks, take_collect_lock, write_transaction
from .schema import article_groups, articles

GROUP_KINDS = ("section", "author", "tag")


@dataclass(frozen=True)
class FeedGroup:
    """A feed to write: the site ("site", "") or a group, the ids of its newest articles
    (newest publication first) and its closed archive months, oldest first."""

    kind: str
    name: str
    article_ids: list[int]
    periods: list[str]


def period_of(moment: datetime) -> str:
    """Archive periods are calendar months (UTC) of first collection: "2024-09"."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def group_rows(
    article_id: int, values: dict[str, Any], authors: Sequence[str], tags: Sequence[str]
) -> list[dict[str, Any]]:
    """The rows of ``article_groups`` for one article, from the values it is stored with."""
    names = [("site", ""), ("section", values["section"])]
    names += [("author", name) for name in authors] + [("tag", name) for name in tags]
    base = {
        "article_id": article_id,
        "published_at": values["published_at"],
        "period": period_of(values["first_seen_at"]),
    }
    return [
        {**base, "kind": kind, "name": name}
        for kind, name in dict.fromkeys(names)
        if name or kind == "site"
    ]


def replace_groups(conn: Connection, rows: dict[int, list[dict[str, Any]]], *, new: bool) -> None:
    """Make the stored groups of each article in ``rows`` exactly its rows there (``new``:
    the articles were inserted just now, so there are none to remove first)."""
    if not rows:
        return
    for ids in chunks([] if new else list(rows)):
        conn.execute(delete(article_groups).where(article_groups.c.article_id.in_(ids)))
    conn.execute(insert(article_groups), [row for group in rows.values() for row in group])


K = TypeVar("K", bound=tuple[int, ...])


def first_free_seconds(wanted: Iterable[tuple[int, K]], taken: Iterable[int]) -> dict[K, int]:
    """Give each (second, key) of ``wanted`` the first second at or after its own that no
    other article holds; ``taken`` are the seconds already held.

    Claims go in order of second, then key (articles' ids, or the order of new ones), so
    articles that arrive together share seconds the same way whatever order they came in.
    A taken second points past the run of taken seconds it starts (shortened as it is
    followed), so a minute shared by hundreds of articles costs no more than one.
    """
    past = {second: second + 1 for second in taken}  # taken -> a later second; all between taken
    found: dict[K, int] = {}
    for when, key in sorted(wanted):
        free = when
        while free in past:
            free = past[free]
        while when != free:  # every second walked is taken up to `free`: point them there
            past[when], when = free, past[when]
        past[free] = free + 1
        found[key] = free
    return found


def claim_seconds(
    conn: Connection, wanted: Sequence[tuple[int, K]], releasing: Sequence[int] = ()
) -> dict[K, int]:
    """``first_free_seconds`` against the seconds stored articles hold (except those of the
    article ids in ``releasing``, which are about to claim again).

    Only the seconds the claims could touch are read: first each wanted second, then each
    second handed out, until every one handed out is known to be free. A collect of new
    articles reads a few hundred seconds, not the archive's.
    """
    c = articles.c
    taken: set[int] = set()
    asked: set[int] = set()
    claims = first_free_seconds(wanted, taken)
    while unknown := sorted(({w for w, _ in wanted} | set(claims.values())) - asked):
        for seconds in chunks(unknown):
            query = select(c.feed_second).where(c.feed_second.in_(seconds))
            if releasing:
                query = query.where(c.id.not_in(list(releasing)))
            taken.update(conn.execute(query).scalars())
        asked.update(unknown)
        claims = first_free_seconds(wanted, taken)
    return claims


def shown_second(published: datetime, updated: datetime) -> int:
    """The second feeds show an article as updated: its update, or its publication when the
    update is dated before it."""
    return int(max(published, updated).timestamp())


# The names of one kind, walked through the index one step at a time (a "loose index scan"):
# each step costs one index seek, so a kind with 40 names costs 40 seeks, not a table scan.
_NAMES = text(
    """
    WITH RECURSIVE walk(name) AS (
        SELECT MIN(name) FROM article_groups WHERE kind = :kind
        UNION ALL
        SELECT (SELECT MIN(g.name) FROM article_groups g WHERE g.kind = :kind AND g.name > walk.name)
        FROM walk WHERE walk.name IS NOT NULL
    )
    SELECT name FROM walk WHERE name IS NOT NULL
    """
)
# The archive months of one group before :before, walked the same way.
_PERIODS = text(
    """
    WITH RECURSIVE walk(period) AS (
        SELECT MIN(period) FROM article_groups WHERE kind = :kind AND name = :name
        UNION ALL
        SELECT (SELECT MIN(g.period) FROM article_groups g
                WHERE g.kind = :kind AND g.name = :name AND g.period > walk.period)
        FROM walk WHERE walk.period IS NOT NULL AND walk.period < :before
    )
    SELECT period FROM walk WHERE period IS NOT NULL AND period < :before
    """
)


class GroupQueries:
    engine: Engine

    def feed_groups(
        self, kinds: Sequence[str], limit: int, closed_before: str | None
    ) -> list[FeedGroup]:
        """The site and every group of ``kinds`` that shows at least one article, with the
        ids of its newest ``limit`` and (unless ``closed_before`` is None) its archive months
        before that one ("2024-10"), oldest first."""
        g = article_groups.c
        newest = (
            select(g.article_id)
            .where(g.kind == bindparam("kind"), g.name == bindparam("name"))
            .order_by(g.published_at.desc(), g.article_id.desc())
            .limit(limit)
        )
        found = []
        with self.engine.connect() as conn:
            groups = [("site", "")] + [
                (kind, name) for kind in kinds for (name,) in conn.execute(_NAMES, {"kind": kind})
            ]
            for kind, name in groups:
                ids = list(conn.execute(newest, {"kind": kind, "name": name}).scalars())
                if not ids and kind != "site":
                    continue
                periods = []
                if closed_before is not None:
                    where = {"kind": kind, "name": name, "before": closed_before}
                    periods = list(conn.execute(_PERIODS, where).scalars())
                found.append(FeedGroup(kind, name, ids, periods))
        return found

    def claim_feed_seconds(self) -> int:
        """Give every article that has none its feed second: the first second at or after
        its own that no other article holds. Returns how many.

        Collect claims each new or edited article's second as it stores it; what is left
        here is what a database upgraded from before feed seconds holds (claimed in one go,
        in the order feeds always gave them) or rows written by other means.
        """
        c = articles.c

        def claim(conn: Connection) -> int:
            take_collect_lock(conn)  # the lock collect holds while it claims
            rows = conn.execute(
                select(c.id, c.published_at, c.updated_at).where(c.feed_second.is_(None))
            ).all()
            if not rows:
                return 0
            wanted = [(shown_second(r.published_at, r.updated_at), (r.id,)) for r in rows]
            claims = claim_seconds(conn, wanted)
            conn.execute(
                update(articles)
                .where(c.id == bindparam("row_id"))
                .values(feed_second=bindparam("second")),
                [{"row_id": key[0], "second": s} for key, s in claims.items()],
            )
            return len(claims)

        return write_transaction(self.engine, claim)

    def feed_seconds(self, ids: Sequence[int]) -> dict[int, int]:
        """The claimed feed second of each of ``ids`` that has one."""
        c = articles.c
        found: dict[int, int] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(ids)):
                query = select(c.id, c.feed_second).where(
                    c.id.in_(chunk), c.feed_second.is_not(None)
                )
                found.update((r.id, r.feed_second) for r in conn.execute(query))
        return found
